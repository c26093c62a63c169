"""The compute pane: clusters and instances with what they cost right now and today, idle
instances first, so the compute left running is the first thing a cost reviewer sees.
Prices come from `console.costs`; a size without a price shows "-", never a guess.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import DataTable, Static

from console import costs
from console.domain import Compute
from console.ui.panes.base import Pane
from console.ui.panes.jobs import cell
from console.ui.snapshot import Snapshot
from console.ui.table import cursor_key, sync_in_order

# The money first: in the overview the pane is ~70 cells wide and the last columns are cut.
COLUMNS = ("NAME", "STATE", "IDLE", "$/HOUR", "$ IDLE TODAY", "$ TODAY", "NODES", "TYPE", "SIZE")
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
    return Text("-" if value is None else f"{value:,.2f}", justify="right", end="")


def minutes(value: float) -> str:
    m = int(value)
    if m < 60:
        return f"{m}m"
    if m < 1440:
        return f"{m // 60}h{m % 60:02d}m"
    return f"{m // 1440}d{m % 1440 // 60:02d}h"


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


class ComputePane(Pane):
    """Compute clusters and instances with their cost now, today, and idle today."""

    DEFAULT_CSS = """
    ComputePane > DataTable { height: 1fr; }
    ComputePane > .compute-footer { height: 1; padding: 0 1; color: $text-muted; }
    """

    title = "Compute"
    area = "computes"

    def body(self) -> ComposeResult:
        table: DataTable = DataTable(cursor_type="row", zebra_stripes=False)
        for label in COLUMNS:
            table.add_column(label, key=label)
        yield table
        yield Static("", classes="compute-footer", markup=False)

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
            row_today: dict[str, Any] = (today or {}).get(compute.name) or {}
            rows[compute.name] = (
                cell(compute.name),
                Text(compute.state, style=_STATE_STYLES.get(compute.state, ""), end=""),
                "-" if idle is None else Text(minutes(idle), style=IDLE_STYLE, end=""),
                money(hourly),
                money(row_today.get("idle_cost")),
                money(row_today.get("cost")),
                f"{compute.current_nodes}/{compute.max_instances}" if cluster else "-",
                TYPES.get(compute.type, compute.type),
                cell(compute.size),
            )

        if today is None:
            idle_today = "-"
        else:
            idle_today = f"${sum(float(r.get('idle_cost') or 0) for r in today.values()):,.2f}"
        footer = f"running now: ${hourly_total:,.2f}/hour, ${hourly_total * 24:,.2f}/day; idle today: {idle_today}"
        if unpriced:
            footer += f"  ({unpriced} running without a known price, not counted)"

        with self.app.batch_update():
            sync_in_order(self.query_one(DataTable), COLUMNS, rows)
            self.query_one(".compute-footer", Static).update(footer)

    def selected_compute(self) -> str | None:
        """The name of the highlighted compute, if any."""
        return cursor_key(self.query_one(DataTable))

    def idle_instances(self, snapshot: Snapshot) -> list[Compute]:
        """Instances running with no job on them (state Running, not JobRunning), longest idle first:
        what the app's "stop idle instances" action offers to stop."""
        now = _now(snapshot)
        found = [c for c in snapshot.computes or () if c.is_instance and c.state == "Running"]
        found.sort(key=lambda c: -(_idle(c, now) or 0.0))
        return found
