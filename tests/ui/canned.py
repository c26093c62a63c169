"""An in-memory workspace in the demo's state, the console app over it, and `settle` to wait
until it shows it, for snapshot tests and the tests of what the overview shows.

Snapshots pin the look, so the data must never change: every record is fixed relative to `NOW`,
and `CannedApp` stamps each snapshot with `NOW` instead of the wall clock, so ages, durations
and idle times read the same on every run. The read side of the Workspace protocol only;
writes raise NotImplementedError (a screenshot never changes anything). The behaviour is pinned
against the real daemon in test_app.py.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

from textual import work
from textual.widgets import DataTable, Log

from console import costs
from console.domain import (
    Compute,
    ComputeOperation,
    Deployment,
    DeploymentMetrics,
    DriftReport,
    Endpoint,
    FeatureDrift,
    Job,
    MetricSeries,
    ModelVersion,
    Monitor,
    Operation,
    QuotaUsage,
    Traffic,
)
from console.errors import NotFound
from console.ui.app import AmlopsApp
from console.ui.snapshot import Snapshot, fetch

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=timezone.utc)
WASSERSTEIN, JENSEN_SHANNON = "normalized_wasserstein_distance", "jensen_shannon_distance"


def ago(**delta: float) -> datetime:
    return NOW - timedelta(**delta)


# --- the state ------------------------------------------------------------------------------
# Under a day old throughout: older times show as local dates, which depend on the timezone.

JOBS = [  # newest first, as backends list them; the top one (highlighted) is running
    Job("calm_river_7hk2m9x4pq", "Running", experiment_name="churn-classifier",
        display_name="train-churn-classifier", compute="cpu-cluster", created_at=ago(minutes=7),
        started_at=ago(minutes=6, seconds=12), mlflow_run_id="5d0c6b1e9a7f4e2b8c3d1a0f6e9b7c2d"),
    # Asks for all four nodes of cpu-cluster while one is busy: it waits.
    Job("keen_lamp_q1w2e3r4t5", "Queued", experiment_name="churn-classifier", display_name="train-churn-sweep",
        compute="cpu-cluster", created_at=ago(minutes=9, seconds=30)),
    Job("brave_stone_x8c4v7b2n1", "Failed", experiment_name="churn-classifier",
        display_name="train-churn-classifier", compute="cpu-cluster", created_at=ago(hours=2, minutes=20),
        started_at=ago(hours=2, minutes=19), ended_at=ago(hours=2, minutes=17, seconds=46),
        error="ValueError: reg_rate must be positive, got -0.1"),
    Job("happy_cloud_3j5k7l9m0n", "Completed", experiment_name="churn-classifier",
        display_name="train-churn-classifier", compute="cpu-cluster", created_at=ago(hours=5, minutes=3),
        started_at=ago(hours=5, minutes=2), ended_at=ago(hours=4, minutes=58, seconds=55),
        mlflow_run_id="9f8e7d6c5b4a49382716a5b4c3d2e1f0"),
]

# The MLflow history the jobs pane charts (`jobs.metrics`): the training loss over 20 steps, then
# the validation auc once at the end. The running job has just finished its last step.
TRAIN_LOSS = tuple(round(0.69 * 0.9 ** step + 0.18, 4) for step in range(20))
AUC = 0.8843
LOG = "".join(f"{line}\n" for line in [  # the running job's
    "[2026-03-01 11:53:48] loading churn_features:1 (4000 rows, 11 features)",
    "[2026-03-01 11:53:49] split: 3200 train / 800 test, stratified on churn",
    *(f"[2026-03-01 11:{54 + step // 4}:{step % 4 * 15:02d}] step {step:>2}  train_loss {loss:.4f}"
      for step, loss in enumerate(TRAIN_LOSS)),
    f"[2026-03-01 11:58:52] valid auc {AUC:.4f}",
    "[2026-03-01 11:59:02] saving the MLflow model to outputs/model",
])
LOGS = {
    "calm_river_7hk2m9x4pq": LOG,
    "happy_cloud_3j5k7l9m0n": "[2026-03-01 07:00:53] valid auc 0.8843\n"
                              "[2026-03-01 07:01:02] saving the MLflow model to outputs/model\n",
    "brave_stone_x8c4v7b2n1": "[2026-03-01 09:42:02] loading churn_features:1 (4000 rows, 11 features)\n"
                              "Traceback (most recent call last):\n"
                              '  File "train.py", line 41, in <module>\n'
                              "ValueError: reg_rate must be positive, got -0.1\n",
}


def _history(job: str) -> list[MetricSeries]:
    return [MetricSeries(job, "train_loss", tuple(range(len(TRAIN_LOSS))), TRAIN_LOSS),
            MetricSeries(job, "auc", (len(TRAIN_LOSS) - 1,), (AUC,))]


METRICS = {
    "calm_river_7hk2m9x4pq": _history("calm_river_7hk2m9x4pq"),
    "happy_cloud_3j5k7l9m0n": _history("happy_cloud_3j5k7l9m0n"),
    "brave_stone_x8c4v7b2n1": [MetricSeries("brave_stone_x8c4v7b2n1", "train_loss", (0,), (TRAIN_LOSS[0],))],
}

COMPUTES = [
    Compute("cpu-cluster", "amlcompute", "Standard_DS3_v2", "Steady", location="local", max_instances=4,
            current_nodes=1, idle_time_before_scale_down_s=120, last_activity=ago(seconds=30)),
    Compute("gpu-cluster", "amlcompute", "Standard_NC6s_v3", "Steady", location="local", max_instances=2,
            idle_time_before_scale_down_s=300),
    Compute("dev-instance", "computeinstance", "Standard_DS3_v2", "Running", location="local",
            idle_time_before_shutdown_minutes=30, last_activity=ago(minutes=47),
            last_operation=ComputeOperation("Start", "User", "Succeeded", ago(hours=3, minutes=12))),
    Compute("notebook-ci", "computeinstance", "Standard_DS2_v2", "Stopped", location="local",
            idle_time_before_shutdown_minutes=60, last_activity=ago(hours=9),
            last_operation=ComputeOperation("Stop", "IdleShutdown", "Succeeded", ago(hours=8))),
]


def _cost_row(compute: str, size: str, node_hours: float, idle_hours: float) -> dict[str, Any]:
    """A row of the local backend's `compute_usage` table for today (console/local/store.py)."""
    price = costs.hourly_cost(size) or 0.0
    return {"compute": compute, "day": NOW.date().isoformat(), "node_seconds": node_hours * 3600,
            "idle_node_seconds": idle_hours * 3600, "cost": round(node_hours * price, 4),
            "idle_cost": round(idle_hours * price, 4)}


COSTS_TODAY = [
    _cost_row("cpu-cluster", "Standard_DS3_v2", 1.25, 0.25),
    _cost_row("dev-instance", "Standard_DS3_v2", 3.2, 2.1),
    _cost_row("notebook-ci", "Standard_DS2_v2", 2.0, 1.0),
]

QUOTAS = [
    QuotaUsage("standardDSv2Family", 20, 24, location="local"),  # near its limit
    QuotaUsage("standardDSv3Family", 0, 24, location="local"),
    QuotaUsage("standardESv3Family", 0, 24, location="local"),
    QuotaUsage("standardFSv2Family", 0, 24, location="local"),
    QuotaUsage("standardNCASv3_T4Family", 0, 0, location="local"),
    QuotaUsage("standardNCSv3Family", 0, 0, location="local"),  # a new subscription's GPU family
]

MODELS = [
    ModelVersion("churn-classifier", "2", job="happy_cloud_3j5k7l9m0n",
                 mlflow_run_id="9f8e7d6c5b4a49382716a5b4c3d2e1f0", created_at=ago(hours=4, minutes=55),
                 description="the demo churn classifier"),
    ModelVersion("churn-classifier", "1", created_at=ago(hours=20), description="the demo churn classifier"),
]

_COLLECTED = ("model_inputs", "model_outputs")


def _billed(size: str, instances: int, hours_today: float) -> dict[str, float]:
    """A deployment's cost fields: list price x instances per hour, and what its instances cost
    since midnight UTC after `hours_today` hours allocated (they bill with or without traffic)."""
    hourly = (costs.hourly_cost(size) or 0.0) * instances
    return {"cost_per_hour": round(hourly, 4), "cost_today": round(hourly * hours_today, 4)}


ENDPOINTS = [
    Endpoint("churn-ep", scoring_uri="http://127.0.0.1:8790/churn-ep/score",
             traffic=Traffic(live={"blue": 90, "green": 10}),
             deployments=(
                 # As specs/endpoints: DS2_v2 x 2 each. blue has served since before midnight; green
                 # came up 40 minutes ago.
                 Deployment("churn-ep", "blue", "azureml:churn-classifier:1", "Standard_DS2_v2", instance_count=2,
                            ready_instances=2, max_concurrent_requests_per_instance=2, data_collection=_COLLECTED,
                            **_billed("Standard_DS2_v2", 2, hours_today=12.0)),
                 Deployment("churn-ep", "green", "azureml:churn-classifier:2", "Standard_DS2_v2", instance_count=2,
                            ready_instances=2, max_concurrent_requests_per_instance=2, data_collection=_COLLECTED,
                            **_billed("Standard_DS2_v2", 2, hours_today=40 / 60)),
             )),
]

SERVING = {
    "churn-ep": [
        DeploymentMetrics("churn-ep", "blue", 60, requests=1080, rps=18.0, success_rate=0.9991, p50_ms=11.2,
                          p95_ms=24.8, p99_ms=41.5,
                          latency_series_ms=(10.8, 11.0, 11.5, 12.1, 11.9, 11.2, 10.9, 11.4, 12.6, 11.8, 11.1, 11.3)),
        DeploymentMetrics("churn-ep", "green", 60, requests=120, rps=2.0, success_rate=1.0, p50_ms=13.4,
                          p95_ms=29.0, p99_ms=52.3,
                          latency_series_ms=(14.1, 13.2, 12.9, 13.8, 15.2, 13.4, 12.7, 13.1, 13.9, 14.4, 13.0, 13.4)),
    ],
}

MONITORS = [
    Monitor("churn-drift", "churn-ep", "blue", signals=("data_drift",), trigger="cron 15 3 * * *",
            last_run_at=ago(hours=8, minutes=45)),
]


def _numeric(name: str, value: float, psi: float, p: float) -> FeatureDrift:
    return FeatureDrift(name, "numeric", WASSERSTEIN, value, 0.1, value > 0.1, psi=psi, p_value=p)


def _categorical(name: str, value: float, psi: float, p: float) -> FeatureDrift:
    return FeatureDrift(name, "categorical", JENSEN_SHANNON, value, 0.1, value > 0.1, psi=psi, p_value=p)


_FEATURES = (
    _numeric("tenure_months", 0.2134, 0.412, 0.0001),
    _numeric("monthly_charges", 0.1472, 0.268, 0.0008),
    _categorical("contract_type", 0.1265, 0.233, 0.0021),
    _numeric("support_calls", 0.0411, 0.031, 0.41),
    _numeric("total_charges", 0.0387, 0.027, 0.52),
    _numeric("avg_session_minutes", 0.0214, 0.012, 0.77),
    _numeric("num_products", 0.0198, 0.009, 0.81),
    _categorical("payment_method", 0.0302, 0.018, 0.63),
    _categorical("internet_service", 0.0276, 0.015, 0.69),
    _categorical("paperless_billing", 0.0093, 0.002, 0.92),
    FeatureDrift("senior_citizen", "categorical", JENSEN_SHANNON, None, 0.1, False,
                 note="not enough data: 12 production rows"),
)
REPORTS = {
    "churn-drift": DriftReport("churn-drift", "churn-ep", "blue", window_start=ago(days=1, hours=8, minutes=45),
                               window_end=ago(hours=8, minutes=45), baseline_rows=4000, production_rows=2468,
                               features=_FEATURES, drifted_share=0.3, alert=True, dataset_drift=True,
                               created_at=ago(hours=8, minutes=44)),
}


# --- the workspace --------------------------------------------------------------------------

def _read_only(*_: Any, **__: Any) -> Any:
    raise NotImplementedError("the canned workspace is read-only: snapshots never mutate")


def _one(items: list, name: str, kind: str):
    found = next((item for item in items if item.name == name), None)
    if found is None:
        raise NotFound(kind, name)
    return found


class CannedJobs:
    submit = cancel = export = _read_only

    def list(self, *, parent: str | None = None, limit: int | None = None) -> list[Job]:
        jobs = [job for job in JOBS if job.parent == parent]
        return jobs[:limit] if limit is not None else jobs

    def get(self, name: str) -> Job:
        return _one(JOBS, name, "job")

    def logs(self, name: str, *, follow: bool = False, offset: int = 0) -> Iterator[str]:
        self.get(name)
        yield from LOGS.get(name, "")[offset:].splitlines(keepends=True)

    def metrics(self, name: str) -> list[MetricSeries]:
        """The MLflow metrics of the job's run, each with its history; none before it starts."""
        self.get(name)
        return list(METRICS.get(name, ()))


class CannedCompute:
    start = stop = sizes = _read_only

    def list(self) -> list[Compute]:
        return list(COMPUTES)

    def get(self, name: str) -> Compute:
        return _one(COMPUTES, name, "compute")

    def costs_today(self) -> list[dict[str, Any]]:
        return [dict(row) for row in COSTS_TODAY]


class CannedQuotas:
    def usage(self) -> list[QuotaUsage]:
        return list(QUOTAS)


class CannedModels:
    register = _read_only

    def list(self, name: str | None = None) -> list[ModelVersion]:
        return [m for m in MODELS if name is None or m.name == name]


class CannedEndpoints:
    create = create_deployment = set_traffic = set_mirror = rollback = delete = delete_deployment = _read_only
    keys = invoke = _read_only

    def list(self) -> list[Endpoint]:
        return list(ENDPOINTS)

    def get(self, name: str) -> Endpoint:
        return _one(ENDPOINTS, name, "endpoint")

    def metrics(self, name: str, *, window_s: int = 60) -> list[DeploymentMetrics]:
        self.get(name)
        return list(SERVING.get(name, ()))


class CannedMonitors:
    run = _read_only

    def list(self) -> list[Monitor]:
        return list(MONITORS)

    def latest(self, name: str) -> DriftReport | None:
        _one(MONITORS, name, "monitor")
        return REPORTS.get(name)


class CannedAudit:
    def list(self, *, limit: int | None = None, since: datetime | None = None) -> list:
        return []


class CannedOperations:
    def get(self, id: str) -> Operation:
        raise NotFound("operation", id)

    wait = _read_only


@dataclasses.dataclass
class CannedWorkspace:
    """The demo workspace after `amlops demo`, a green rollout at 10 % and a drift alert."""

    name: str = "demo"
    backend: str = "local"
    read_only: bool = False
    jobs: CannedJobs = dataclasses.field(default_factory=CannedJobs)
    compute: CannedCompute = dataclasses.field(default_factory=CannedCompute)
    quotas: CannedQuotas = dataclasses.field(default_factory=CannedQuotas)
    models: CannedModels = dataclasses.field(default_factory=CannedModels)
    endpoints: CannedEndpoints = dataclasses.field(default_factory=CannedEndpoints)
    monitors: CannedMonitors = dataclasses.field(default_factory=CannedMonitors)
    audit: CannedAudit = dataclasses.field(default_factory=CannedAudit)
    operations: CannedOperations = dataclasses.field(default_factory=CannedOperations)

    def close(self) -> None:
        pass


class CannedApp(AmlopsApp):
    """The console over a CannedWorkspace, its snapshots taken at NOW rather than the wall clock."""

    def __init__(self, workspace: Any = None, **kw: Any) -> None:
        super().__init__(workspace if workspace is not None else CannedWorkspace(), **kw)

    @work(thread=True, exclusive=True, group="refresh", exit_on_error=False)  # as AmlopsApp.refresh_data
    def refresh_data(self) -> Snapshot:
        return dataclasses.replace(fetch(self.ws), taken_at=NOW)



MAX_PAUSES = 500  # x 10 ms: a bound for waits that take a few milliseconds, never a timing


async def settle(pilot, done: Callable[[], bool], what: str) -> None:
    """Pause until `done()` holds and no worker is left running (a job's detail, a palette search),
    twice in a row: a worker may start in reply to a message the first pause delivered."""
    quiet = 0
    for _ in range(MAX_PAUSES):
        await pilot.pause(0.01)
        # Not workers.wait_for_complete(): it raises for a worker an exclusive one cancelled.
        quiet = quiet + 1 if done() and all(w.is_finished for w in pilot.app.workers) else 0
        if quiet == 2:
            return
    raise AssertionError(f"the console never showed {what}")


def loaded(app: CannedApp) -> bool:
    """The first snapshot is applied, every table of every pane has rows, and the highlighted
    job's log is in (its metrics come from the same worker, which `settle` waits for)."""
    main = app.screen_stack[0]
    tables, logs = main.query(DataTable), main.query("#jobs Log")
    return (app.snapshot is not None and len(tables) >= 6 and all(t.row_count for t in tables)
            and bool(logs) and logs.first(Log).line_count > 0)
