"""What the console has read from the workspace, area by area, and how each area is read.

Five areas, each read on its own cadence (the workspace's `cadence`: on the local one
`console.workspace.DEFAULT_CADENCE`, jobs and endpoints every 2 s, compute every 5 s, monitors
every 10 s, quotas every 30 s; an Azure workspace reads less often, since it pays for every
call) by `read_area` in a worker thread, and only for what the workspace declares it can do
(`capabilities`): an area it cannot read is `unavailable`, which its pane says once instead of
failing every refresh. A read that failed leaves the area's last values and records its error,
so the pane can say it is stale instead of going blank. `Snapshot.merge` puts one area's fresh
values into the whole picture the panes are given; `fetch` reads every area at once.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from console.domain import (
    Compute, ComputeCost, DeploymentMetrics, DriftReport, Endpoint, Job, Monitor, QuotaUsage, Rollout,
)
from console.errors import describe

if TYPE_CHECKING:
    from console.workspace import Workspace


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
    rollouts: list[Rollout] | None = None  # each endpoint's latest rollout
    errors: dict[str, str] = field(default_factory=dict)  # area -> message of the call that failed
    unavailable: frozenset[str] = frozenset()  # areas and capabilities the workspace does not have
    backend: str | None = None

    def merge(self, area: str, values: dict[str, Any], error: str | None, taken_at: datetime) -> Snapshot:
        """This snapshot with one area read again: its fresh values (none when the read failed,
        so the last ones stay) and its error, or none."""
        errors = {k: v for k, v in self.errors.items() if k != area}
        if error:
            errors[area] = error
        return dataclasses.replace(self, taken_at=taken_at, errors=errors, **values)


@dataclass(frozen=True)
class Area:
    name: str  # how often it is read is the workspace's `cadence` of this name
    fields: tuple[str, ...]  # the Snapshot fields it fills


AREAS = (
    Area("jobs", ("jobs",)),
    Area("endpoints", ("endpoints", "metrics")),
    Area("computes", ("computes", "costs_today")),
    Area("monitors", ("monitors", "reports")),
    Area("quotas", ("quotas",)),
    Area("rollouts", ("rollouts",)),
)
# Each area's capability, and the optional reads within areas.
CAPABILITY = {"jobs": "jobs", "computes": "compute", "quotas": "quotas", "endpoints": "endpoints",
              "monitors": "monitors", "costs_today": "compute.costs", "metrics": "endpoints.metrics",
              "reports": "monitors.reports", "rollouts": "rollouts"}


def unavailable(ws: Workspace) -> frozenset[str]:
    """The areas (and optional reads) `ws` declares it cannot do: asked once, not each refresh."""
    return frozenset(area for area, capability in CAPABILITY.items() if capability not in ws.capabilities)


def read_area(ws: Workspace, area: str, missing: frozenset[str]) -> tuple[dict[str, Any], str | None]:
    """One area's fields, read from the workspace (blocking: call it from a worker thread), and the
    error of the call that failed, if one did (then no fields: the pane keeps what it showed), or of
    the part of the area that could not be read (then the rest of its fields)."""
    if area in missing:
        return {}, None
    try:
        values = _READERS[area](ws, missing)
    except Exception as err:  # shown in the pane and the header, never raised into the UI
        return {}, describe(err)
    return values, values.pop(PARTIAL, None)


# A reader's key for what part of an area it could not read (one endpoint's metrics, one monitor's
# report): the rest of the area is shown, and this is its error.
PARTIAL = "_partial"


def _each(names: list[str], read, what: str) -> tuple[dict[str, Any], str | None]:
    """`read(name)` for each name; one that fails leaves only its own entry out."""
    found, failed = {}, []
    for name in names:
        try:
            value = read(name)
        except Exception as err:
            failed.append(f"{name} {what}: {describe(err)}")
            continue
        if value is not None:
            found[name] = value
    return found, ("; ".join(failed[:2]) + (f" (and {len(failed) - 2} more)" if len(failed) > 2 else "")) or None


def _jobs(ws: Workspace, missing: frozenset[str]) -> dict[str, Any]:
    return {"jobs": ws.jobs.list(limit=ws.jobs.page)}


def _computes(ws: Workspace, missing: frozenset[str]) -> dict[str, Any]:
    costs = None if "costs_today" in missing else {row.compute: row for row in ws.compute.costs_today()}
    return {"computes": ws.compute.list(), "costs_today": costs}


def _quotas(ws: Workspace, missing: frozenset[str]) -> dict[str, Any]:
    return {"quotas": ws.quotas.usage()}


def _endpoints(ws: Workspace, missing: frozenset[str]) -> dict[str, Any]:
    endpoints = ws.endpoints.list()
    metrics, failed = ({}, None) if "metrics" in missing else _each(
        [e.name for e in endpoints], lambda name: ws.endpoints.metrics(name), "metrics")
    return {"endpoints": endpoints, "metrics": metrics, PARTIAL: failed}


def _monitors(ws: Workspace, missing: frozenset[str]) -> dict[str, Any]:
    monitors = ws.monitors.list()
    reports: dict[str, DriftReport]
    reports, failed = ({}, None) if "reports" in missing else _each(
        [m.name for m in monitors], ws.monitors.latest, "drift")
    return {"monitors": monitors, "reports": reports, PARTIAL: failed}


def _rollouts(ws: Workspace, missing: frozenset[str]) -> dict[str, Any]:
    return {"rollouts": ws.rollouts.list()}


_READERS = {"jobs": _jobs, "computes": _computes, "quotas": _quotas, "endpoints": _endpoints, "monitors": _monitors,
            "rollouts": _rollouts}


def empty(ws: Workspace, missing: frozenset[str] | None = None) -> Snapshot:
    """Nothing read yet."""
    return Snapshot(taken_at=datetime.now(timezone.utc), unavailable=unavailable(ws) if missing is None else missing,
                    backend=ws.backend)


def fetch(ws: Workspace, *, missing: frozenset[str] | None = None) -> Snapshot:
    """Every area at once (blocking: call it from a worker thread)."""
    snapshot = empty(ws, missing)
    for area in AREAS:
        values, error = read_area(ws, area.name, snapshot.unavailable)
        snapshot = snapshot.merge(area.name, values, error, snapshot.taken_at)
    return dataclasses.replace(snapshot, taken_at=datetime.now(timezone.utc))
