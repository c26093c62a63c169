"""The compute pane: clusters and instances with what they cost right now and today, idle
instances first, so the compute left running is the first thing a cost reviewer sees. Its
footer is the whole bill: compute beside the online deployments, whose instances bill around
the clock whether they serve or not, now and since midnight UTC.
Prices come from `console.costs` (deployments: from the backend); no price shows "-", never a guess.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from rich.cells import cell_len
from rich.text import Text
from textual.app import ComposeResult

from console import costs
from console import format as fmt
from console.domain import Compute
from console.format import usd
from console.ui.panes.base import Pane, Summary, known_sum
from console.ui.panes.jobs import cell
from console.ui.snapshot import Snapshot
from console.ui.table import Column, FitTable, cursor_key

# The money first, and $/hour kept longest when the pane is narrow: in the overview at 80
# columns the pane is 46 cells wide.
TABLE = (Column("NAME"), Column("STATE", rank=2), Column("IDLE", rank=3), Column("$/HOUR", rank=1),
         Column("$ IDLE TODAY", rank=5), Column("$ TODAY", rank=4), Column("NODES", rank=6),
         Column("TYPE", rank=7), Column("SIZE", rank=8))
COLUMNS = tuple(c.label for c in TABLE)
TYPES = {"amlcompute": "cluster", "computeinstance": "instance"}
_STATE_STYLES = {
    "Running": "green", "JobRunning": "green", "Steady": "green", "Succeeded": "green",
    "Stopped": "dim",
    "Starting": "yellow", "Stopping": "yellow", "Creating": "yellow", "Deleting": "yellow",
    "Restarting": "yellow", "Resizing": "yellow", "SettingUp": "yellow", "UserSettingUp": "yellow",
    "CreateFailed": "red", "SetupFailed": "red", "UserSetupFailed": "red", "Unusable": "red",
    "Unknown": "red",
}
IDLE_STYLE = "bold yellow"


def money(value: float | None) -> Text:
    return Text(fmt.money(value), justify="right", end="")


def billed_nodes(compute: Compute) -> int:
    """Nodes being paid for now: a running instance is one, a cluster what it holds."""
    if compute.is_instance:
        return int(compute.state in costs.BILLED_INSTANCE_STATES)
    return compute.current_nodes


def cost_per_hour(compute: Compute) -> float | None:
    """What the compute costs per hour right now; 0 when nothing runs, None without a price."""
    nodes = billed_nodes(compute)
    return 0.0 if nodes == 0 else costs.hourly_cost(compute.size, nodes)


def _now(snapshot: Snapshot) -> datetime:
    now = snapshot.taken_at
    return now if now.tzinfo is not None else now.replace(tzinfo=timezone.utc)


def _idle(compute: Compute, now: datetime) -> float | None:
    """Minutes an instance has been running with no job; None for clusters and busy instances."""
    if not compute.is_instance or compute.state != "Running" or compute.last_activity is None:
        return None
    last = compute.last_activity
    if last.tzinfo is None:
        last = last.replace(tzinfo=timezone.utc)
    return max((now - last).total_seconds() / 60, 0.0)  # negative: clock skew, not the future


@dataclass(frozen=True)
class Bill:
    """What runs up the bill now and what it cost today, compute beside online deployments."""

    compute_hour: float
    compute_today: float | None  # None: today's compute costs were not read
    idle_today: float | None
    deployments_hour: float | None  # None: the endpoints were not read
    deployments_today: float | None
    unpriced: int  # running compute and deployments without a known price: not counted

    @classmethod
    def of(cls, snapshot: Snapshot, compute_hour: float, unpriced: int) -> Bill:
        today = snapshot.costs_today
        deployments = [d for e in snapshot.endpoints or () for d in e.deployments]
        hourly = [d.cost_per_hour for d in deployments if d.cost_per_hour is not None]
        if snapshot.endpoints is None:  # not read: their share is unknown, not nothing
            online_hour = online_today = None
        else:
            online_hour = sum(hourly)
            online_today = known_sum(d.cost_today for d in deployments) if deployments else 0.0
        return cls(
            compute_hour=compute_hour,
            compute_today=None if today is None else sum(r.cost for r in today.values()),
            idle_today=None if today is None else sum(r.idle_cost for r in today.values()),
            deployments_hour=online_hour,
            deployments_today=online_today,
            unpriced=unpriced + len(deployments) - len(hourly),
        )

    def text(self, width: int) -> str:
        """Two lines, now and today, as detailed as `width` allows both to be."""
        compute, deployments = self.compute_hour, self.deployments_hour
        hour = compute + (deployments or 0.0)
        today = known_sum((self.compute_today, self.deployments_today))
        split_now = f"compute {usd(compute)} + deployments {usd(deployments)}"
        split_today = f"compute {usd(self.compute_today)} (idle {usd(self.idle_today)}) + deployments " \
                      f"{usd(self.deployments_today)}"
        rate = f"{usd(hour)}/hour, {usd(hour * 24)}/day"
        if self.compute_today is None and self.deployments_today is None:  # e.g. Azure: Cost Management has it
            later = ("today: this workspace does not report what it has cost", "today: not reported",
                     "today: unknown")
        else:
            later = (f"today {usd(today)} = {split_today}", f"today {usd(today)}, idle compute {usd(self.idle_today)}",
                     f"today {usd(today)}")
        levels = [(f"now {rate} = {split_now}", later[0]), (f"now {rate}", later[1]), (f"{usd(hour)}/hour", later[2])]
        n = self.unpriced
        notes = (f"; {n} running without a known price, not counted", f" (+{n} unpriced)") if n else ("",)
        lines = [(now + note, later) for now, later in levels for note in notes]
        fits = next(((now, later) for now, later in lines if max(cell_len(now), cell_len(later)) <= width),
                    lines[-1])
        return "\n".join(fits)


class ComputePane(Pane):
    """Compute clusters and instances with their cost now, today, and idle today."""

    DEFAULT_CSS = """
    ComputePane > FitTable { height: 1fr; }
    ComputePane > .compute-footer { height: auto; padding: 0 1; color: $text-muted; }
    """

    title = "Compute"
    area = "computes"
    also = ("endpoints",)  # the running-now total counts the deployments' instances

    def body(self) -> ComposeResult:
        yield FitTable(TABLE, cursor_type="row", zebra_stripes=False)
        yield Summary(classes="compute-footer")

    def show(self, snapshot: Snapshot) -> None:
        now = _now(snapshot)
        today = snapshot.costs_today
        entries = []
        for compute in snapshot.computes or ():
            idle = _idle(compute, now)
            entries.append((compute, idle, cost_per_hour(compute)))
        # Idle instances first, the longest idle on top; then the rest by name.
        entries.sort(key=lambda e: (0, -e[1], e[0].name) if e[1] else (1, 0.0, e[0].name.lower()))

        rows: dict[str, tuple[Any, ...]] = {}
        hourly_total, unpriced = 0.0, 0
        for compute, idle, hourly in entries:
            if hourly is None:
                unpriced += 1
            else:
                hourly_total += hourly
            cluster = not compute.is_instance
            spent = (today or {}).get(compute.name)
            rows[compute.name] = (
                cell(compute.name),
                Text(compute.state, style=_STATE_STYLES.get(compute.state, ""), end=""),
                "-" if idle is None else Text(fmt.span_minutes(idle), style=IDLE_STYLE, end=""),
                money(hourly),
                money(spent.idle_cost if spent else None),
                money(spent.cost if spent else None),
                f"{compute.current_nodes}/{compute.max_instances}" if cluster else "-",
                TYPES.get(compute.type, compute.type),
                cell(compute.size),
            )

        bill = Bill.of(snapshot, hourly_total, unpriced)
        with self.app.batch_update():
            self.query_one(FitTable).sync(rows)
            self.query_one(".compute-footer", Summary).show(bill.text)

    def selected_compute(self) -> str | None:
        """The name of the highlighted compute, if any."""
        return cursor_key(self.query_one(FitTable))

    def idle_instances(self, snapshot: Snapshot) -> list[Compute]:
        """Instances running with no job on them (state Running, not JobRunning), longest idle first:
        what the app's "stop idle instances" action offers to stop."""
        now = _now(snapshot)
        found = [c for c in snapshot.computes or () if c.is_instance and c.state == "Running"]
        found.sort(key=lambda c: -(_idle(c, now) or 0.0))
        return found
