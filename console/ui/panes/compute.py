"""The compute pane: clusters and instances with what they cost right now and today, idle
instances first, so the compute left running is the first thing a cost reviewer sees. Its
footer is the whole bill: compute beside the online deployments, whose instances bill around
the clock whether they serve or not, now and since midnight UTC.
What bills, idle times, prices and the bill's sums are `console.costs`' (deployments' prices: the
backend's), as the CLI's `compute list` has them; no price shows "-", never a guess.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from rich.cells import cell_len
from rich.text import Text
from textual.app import ComposeResult

from console import costs
from console import format as fmt
from console.domain import Compute
from console.format import usd
from console.ui.panes.base import Pane, Summary
from console.ui.panes.base import cell
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
    """`format.money`, right-aligned in its cell."""
    return Text(fmt.money(value), justify="right", end="")


def _now(snapshot: Snapshot) -> datetime:
    now = snapshot.taken_at
    return now if now.tzinfo is not None else now.replace(tzinfo=timezone.utc)


class Bill(costs.Bill):
    """`costs.Bill`, written for the footer's width."""

    def text(self, width: int) -> str:
        """Two lines, now and today, as detailed as `width` allows both to be."""
        compute, deployments, hour, today = self.compute_hour, self.deployments_hour, self.hour, self.today
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
        notes = (f"; {n} without a known price, not counted", f" (+{n} unpriced)") if n else ("",)
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
        computes = snapshot.computes or []
        # The rows the filter keeps; the bill below is always the whole workspace's.
        entries = [(compute, costs.idle_minutes(compute, now), costs.cost_per_hour(compute)) for compute in computes
                   if self.keeps(compute.name, compute.size)]
        # Idle instances first, the longest idle on top; then the rest by name.
        entries.sort(key=lambda e: (0, -e[1], e[0].name) if e[1] else (1, 0.0, e[0].name.lower()))

        rows: dict[str, tuple[Any, ...]] = {}
        for compute, idle, hourly in entries:
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

        bill = Bill.of(computes, today, snapshot.endpoints)
        with self.app.batch_update():
            self.query_one(FitTable).sync(rows)
            self.query_one(".compute-footer", Summary).show(bill.text)
            self.count_shown(len(entries), len(computes))

    def selected_compute(self) -> str | None:
        """The name of the highlighted compute, if any."""
        return cursor_key(self.query_one(FitTable))

    def idle_instances(self, snapshot: Snapshot) -> list[Compute]:
        """Instances running with no job on them (state Running, not JobRunning), longest idle first:
        what the app's "stop idle instances" action offers to stop."""
        now = _now(snapshot)
        found = [c for c in snapshot.computes or () if costs.is_idle(c)]
        found.sort(key=lambda c: -(costs.idle_minutes(c, now) or 0.0))
        return found
