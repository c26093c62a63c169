"""What one refresh read from the workspace, handed to every pane at once.

The fetch runs in a worker thread (`fetch`), one backend call per area, and only for what the
workspace declares it can do (`capabilities`): an area it cannot read is `unavailable`, which its
pane says once, instead of failing every refresh. An area whose call failed keeps `None` and its
error, so its pane can say it is stale instead of going blank.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from console.workspace import Workspace

from console.domain import Compute, ComputeCost, DeploymentMetrics, DriftReport, Endpoint, Job, Monitor, QuotaUsage


@dataclass(frozen=True)
class Snapshot:
    taken_at: datetime
    jobs: list[Job] | None = None
    computes: list[Compute] | None = None
    costs_today: dict[str, ComputeCost] | None = None  # compute name -> what it cost today
    quotas: list[QuotaUsage] | None = None
    endpoints: list[Endpoint] | None = None
    metrics: dict[str, list[DeploymentMetrics]] = field(default_factory=dict)  # endpoint -> per deployment
    monitors: list[Monitor] | None = None
    reports: dict[str, DriftReport] = field(default_factory=dict)  # monitor name -> latest report
    errors: dict[str, str] = field(default_factory=dict)  # area -> message of the call that failed
    unavailable: frozenset[str] = frozenset()  # areas and capabilities the workspace does not have
    backend: str | None = None

    @property
    def ok(self) -> bool:
        return not self.errors


AREAS = ("jobs", "computes", "quotas", "endpoints", "monitors")
# Each area's capability, and the optional reads within areas.
CAPABILITY = {"jobs": "jobs", "computes": "compute", "quotas": "quotas", "endpoints": "endpoints",
              "monitors": "monitors", "costs_today": "compute.costs", "metrics": "endpoints.metrics",
              "reports": "monitors.reports"}


def unavailable(ws: Workspace) -> frozenset[str]:
    """The areas (and optional reads) `ws` declares it cannot do: asked once, not each refresh."""
    return frozenset(area for area, capability in CAPABILITY.items() if capability not in ws.capabilities)


def fetch(ws: Workspace, *, job_limit: int = 500, missing: frozenset[str] | None = None) -> Snapshot:
    """Read everything the panes show. Blocking: call it from a worker thread."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    missing = unavailable(ws) if missing is None else missing

    def read(area: str, call) -> Any:
        if area in missing:
            return None
        try:
            return call()
        except Exception as err:  # shown in the pane and the header, never raised into the UI
            errors[area] = getattr(err, "message", None) or f"{type(err).__name__}: {err}"
            return None

    values["jobs"] = read("jobs", lambda: ws.jobs.list(limit=job_limit))
    values["computes"] = read("computes", ws.compute.list)
    costs = None if "costs_today" in missing else read("computes", ws.compute.costs_today)
    values["costs_today"] = {row.compute: row for row in costs} if costs is not None else None
    values["quotas"] = read("quotas", ws.quotas.usage)
    endpoints = read("endpoints", ws.endpoints.list)
    values["endpoints"] = endpoints
    metrics: dict[str, list[DeploymentMetrics]] = {}
    for endpoint in endpoints if "metrics" not in missing else ():
        found = read("endpoints", lambda e=endpoint: ws.endpoints.metrics(e.name, window_s=60))
        if found is not None:
            metrics[endpoint.name] = found
    monitors = read("monitors", ws.monitors.list)
    reports: dict[str, DriftReport] = {}
    for monitor in monitors if "reports" not in missing else ():
        report = read("monitors", lambda m=monitor: ws.monitors.latest(m.name))
        if report is not None:
            reports[monitor.name] = report
    return Snapshot(taken_at=datetime.now(timezone.utc), metrics=metrics, monitors=monitors, reports=reports,
                    errors=errors, unavailable=missing, backend=ws.backend, **values)
