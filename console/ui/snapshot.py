"""What one refresh read from the workspace, handed to every pane at once.

The fetch runs in a worker thread (`fetch`), one backend call per area; an area whose call
failed keeps `None` and its error, so its pane can say it is stale instead of going blank.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from console.domain import Compute, DeploymentMetrics, DriftReport, Endpoint, Job, Monitor, QuotaUsage


@dataclass(frozen=True)
class Snapshot:
    taken_at: datetime
    jobs: list[Job] | None = None
    computes: list[Compute] | None = None
    costs_today: dict[str, dict[str, Any]] | None = None  # compute name -> cost row of today
    quotas: list[QuotaUsage] | None = None
    endpoints: list[Endpoint] | None = None
    metrics: dict[str, list[DeploymentMetrics]] = field(default_factory=dict)  # endpoint -> per deployment
    monitors: list[Monitor] | None = None
    reports: dict[str, DriftReport] = field(default_factory=dict)  # monitor name -> latest report
    errors: dict[str, str] = field(default_factory=dict)  # area -> message of the call that failed

    @property
    def ok(self) -> bool:
        return not self.errors


AREAS = ("jobs", "computes", "quotas", "endpoints", "monitors")


def fetch(ws, *, job_limit: int = 500) -> Snapshot:
    """Read everything the panes show. Blocking: call it from a worker thread."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}

    def read(area: str, call) -> Any:
        try:
            return call()
        except Exception as err:  # shown in the pane and the header, never raised into the UI
            errors[area] = getattr(err, "message", None) or f"{type(err).__name__}: {err}"
            return None

    values["jobs"] = read("jobs", lambda: ws.jobs.list(limit=job_limit))
    values["computes"] = read("computes", ws.compute.list)
    costs = read("computes", ws.compute.costs_today) if hasattr(ws.compute, "costs_today") else None
    values["costs_today"] = {row["compute"]: row for row in costs} if costs is not None else None
    values["quotas"] = read("quotas", ws.quotas.usage)
    endpoints = read("endpoints", ws.endpoints.list)
    values["endpoints"] = endpoints
    metrics: dict[str, list[DeploymentMetrics]] = {}
    for endpoint in endpoints or []:
        found = read("endpoints", lambda e=endpoint: ws.endpoints.metrics(e.name, window_s=60))
        if found is not None:
            metrics[endpoint.name] = found
    monitors = read("monitors", ws.monitors.list)
    reports: dict[str, DriftReport] = {}
    for monitor in monitors or []:
        report = read("monitors", lambda m=monitor: ws.monitors.latest(m.name))
        if report is not None:
            reports[monitor.name] = report
    return Snapshot(taken_at=datetime.now(timezone.utc), metrics=metrics, monitors=monitors, reports=reports,
                    errors=errors, **values)
