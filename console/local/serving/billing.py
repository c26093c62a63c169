"""What the local workspace's online deployments cost: list price per hour while their instances
are allocated, accrued per deployment and day in `deployment_usage` by the daemon's scheduler.
Time the daemon was down is not counted."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from console import costs

if TYPE_CHECKING:
    from console.local.context import Context


class DeploymentBilling:
    def __init__(self, ctx: Context) -> None:
        self.store = ctx.store
        self.clock = ctx.clock
        self._last_accrual: datetime | None = None

    def accrue(self, now: datetime) -> None:
        """Add what each billed deployment's instances cost since the last call to today's row."""
        last, self._last_accrual = self._last_accrual, now
        if last is None or now <= last:
            return
        dt, day = (now - last).total_seconds(), now.date().isoformat()
        rows = []
        for dep in self.store.rows("SELECT endpoint, name, instance_type, instance_count, provisioning_state "
                                   "FROM deployments"):
            hourly = billed_per_hour(dep)
            if hourly:
                rows.append((dep["endpoint"], dep["name"], day, dep["instance_count"] * dt, hourly * dt / 3600))
        if rows:
            with self.store.transaction():
                for r in rows:
                    self.store.execute(
                        "INSERT INTO deployment_usage VALUES (?, ?, ?, ?, ?) ON CONFLICT(endpoint, deployment, day) "
                        "DO UPDATE SET instance_seconds = instance_seconds + excluded.instance_seconds, "
                        "cost = cost + excluded.cost", r)

    def spent_today(self, endpoint: str) -> dict[str, float]:
        """Today's accrued cost of each of the endpoint's deployments."""
        return {r["deployment"]: r["cost"] for r in self.store.rows(
            "SELECT deployment, cost FROM deployment_usage WHERE endpoint = ? AND day = ?",
            (endpoint, self.clock.now().date().isoformat()))}


def billed_per_hour(dep: dict[str, Any]) -> float | None:
    """List price of the deployment's instances per hour while they are allocated, 0 once they are
    not (failed or being deleted), None for a size without a price."""
    if dep["provisioning_state"] not in costs.BILLED_DEPLOYMENT_STATES:
        return 0.0
    return costs.hourly_cost(dep["instance_type"], dep["instance_count"])
