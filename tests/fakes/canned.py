"""A canned workspace: the demo's state after `amlops demo`, a green rollout at 10 % and a drift
alert, in memory and behind the Workspace protocol.

Every record is fixed relative to `NOW`, so snapshots read the same on every run. Writes change
the in-memory state under Azure's rules (`console/rollout.py` for traffic), return an Operation
that has already Succeeded, and are audited, so the conformance suite (tests/contract/) holds it
to the same behaviour as the local workspace and the UI tests that act can run without a daemon.
What the canned workspace does not do (submit, create, register, invoke) it leaves out of its
`capabilities` and does not define: `OperationGroup` answers those calls with NotSupported, and
refuses every write in read-only mode, as it does for every backend.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import tempfile
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from console import costs, rollout
from console.domain import (
    AssetVersion,
    AuditEntry,
    Compute,
    ComputeCost,
    ComputeOperation,
    Deployment,
    DeploymentMetrics,
    DriftReport,
    Endpoint,
    EndpointKeys,
    FeatureDrift,
    Job,
    MetricSeries,
    ModelVersion,
    Monitor,
    Operation,
    QuotaUsage,
    Traffic,
)
from console.errors import BadInput, NotFound
from console.workspace import (
    CAPABILITIES,
    DEFAULT_CADENCE,
    AssetOperations,
    AuditOperations,
    ComputeOperations,
    EndpointOperations,
    JobOperations,
    ModelOperations,
    MonitorOperations,
    OperationGroup,
    OperationsOperations,
    QuotaOperations,
)

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


def _cost_row(compute: str, size: str, node_hours: float, idle_hours: float) -> ComputeCost:
    """What the compute cost today, as a backend reports it."""
    price = costs.hourly_cost(size) or 0.0
    return ComputeCost(compute, NOW.date().isoformat(), node_seconds=node_hours * 3600,
                       idle_node_seconds=idle_hours * 3600, cost=round(node_hours * price, 4),
                       idle_cost=round(idle_hours * price, 4))


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

ASSETS = [
    AssetVersion("data", "churn_features", "1", path="specs/data/churn-features", created_at=ago(hours=20)),
    AssetVersion("environment", "churn-train-env", "1", image="mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04",
                 created_at=ago(hours=20)),
]
# What the canned workspace leaves out, and why: its groups define none of these calls, and
# OperationGroup answers each with NotSupported saying so.
UNSUPPORTED_CANNED = {
    "jobs.submit": "the canned workspace runs no jobs", "assets.create": "the canned workspace loads no specs",
    "models.register": "the canned workspace stores no models",
    "endpoints.invoke": "the canned workspace has no scoring server",
}
CAPABILITIES_CANNED = CAPABILITIES - UNSUPPORTED_CANNED.keys()


# --- the workspace --------------------------------------------------------------------------


def _one(items: list, name: str, kind: str):
    found = next((item for item in items if item.name == name), None)
    if found is None:
        raise NotFound(kind, name)
    return found


class _Group(OperationGroup):
    """Read-only mode and the capabilities are `OperationGroup`'s checks, as on every backend."""

    ws: CannedWorkspace

    def _done(self, kind: str, target: str, before: Any = None, after: Any = None) -> Operation:
        return self.ws.record(kind, target, before, after)


class CannedJobs(_Group, of=JobOperations):
    page = 500
    def list(self, *, parent: str | None = None, limit: int | None = None) -> list[Job]:
        jobs = [job for job in self.ws.state.jobs if job.parent == parent]
        return jobs[:limit] if limit is not None else jobs

    def export(self, *, parent: str | None = None, limit: int | None = None) -> bytes:
        import json

        return json.dumps([j.to_dict() for j in self.list(parent=parent, limit=limit)], default=str).encode()

    def get(self, name: str) -> Job:
        return _one(self.ws.state.jobs, name, "job")

    def cancel(self, name: str) -> Operation:
        job = self.get(name)
        if job.is_terminal:
            raise BadInput(f"job '{name}' is already {job.status}")
        self.ws.state.jobs = [dataclasses.replace(j, status="Canceled", ended_at=NOW) if j.name == name else j
                              for j in self.ws.state.jobs]
        return self._done("jobs.cancel", name, {"status": job.status}, {"status": "Canceled"})

    def logs(self, name: str, *, follow: bool = False, offset: int = 0) -> Iterator[str]:
        self.get(name)
        yield from LOGS.get(name, "")[offset:].splitlines(keepends=True)

    def metrics(self, name: str) -> list[MetricSeries]:
        """The MLflow metrics of the job's run, each with its history; none before it starts."""
        self.get(name)
        return list(METRICS.get(name, ()))


class CannedCompute(_Group, of=ComputeOperations):
    def list(self) -> list[Compute]:
        return list(self.ws.state.computes)

    def get(self, name: str) -> Compute:
        return _one(self.ws.state.computes, name, "compute")

    def start(self, name: str) -> Operation:
        return self._transition(name, "Start", "Running")

    def stop(self, name: str) -> Operation:
        return self._transition(name, "Stop", "Stopped")

    def _transition(self, name: str, verb: str, state: str) -> Operation:
        compute = self.get(name)
        if not compute.is_instance:
            raise BadInput(f"'{name}' is a cluster: it scales with its jobs, it cannot be started or stopped")
        changed = dataclasses.replace(compute, state=state, current_nodes=int(state == "Running"),
                                      last_operation=ComputeOperation(verb, "User", "Succeeded", NOW))
        self.ws.state.computes = [changed if c.name == name else c for c in self.ws.state.computes]
        return self._done(f"compute.{verb.lower()}", name, {"state": compute.state}, {"state": state})

    def sizes(self):
        return list(costs.catalog().values())

    def costs_today(self) -> list[ComputeCost]:
        return list(COSTS_TODAY)


class CannedQuotas(_Group, of=QuotaOperations):
    def usage(self) -> list[QuotaUsage]:
        return list(QUOTAS)

    def how_to_raise(self, family: str) -> str:
        return costs.how_to_raise(family)  # as Azure: a quota request


class CannedModels(_Group, of=ModelOperations):
    def list(self, name: str | None = None) -> list[ModelVersion]:
        return [m for m in MODELS if name is None or m.name == name]


class CannedAssets(_Group, of=AssetOperations):
    def list(self, kind: str) -> list[AssetVersion]:
        return [a for a in ASSETS if a.kind == kind]


class CannedEndpoints(_Group, of=EndpointOperations):
    def list(self) -> list[Endpoint]:
        return [self._with_history(e) for e in self.ws.state.endpoints]

    def get(self, name: str) -> Endpoint:
        return self._with_history(_one(self.ws.state.endpoints, name, "endpoint"))

    def _with_history(self, endpoint: Endpoint) -> Endpoint:
        """The endpoint with the deployments it was seen serving at 100 % (blue, before any write)."""
        history = self.ws.state.full_history.get(endpoint.name, ["blue"])
        return dataclasses.replace(endpoint, full_history=tuple(history))

    def _names(self, endpoint: Endpoint) -> list[str]:
        return [d.name for d in endpoint.deployments]

    def _replace(self, endpoint: Endpoint) -> None:
        self.ws.state.endpoints = [endpoint if e.name == endpoint.name else e for e in self.ws.state.endpoints]

    def _apply(self, kind: str, endpoint: Endpoint, live: Mapping[str, int], mirror: Mapping[str, int]) -> Operation:
        before = {"traffic": dict(endpoint.traffic.live), "mirror": dict(endpoint.traffic.mirror)}
        self._replace(dataclasses.replace(endpoint, traffic=Traffic(live=dict(live), mirror=dict(mirror))))
        history = self.ws.state.full_history.setdefault(endpoint.name, ["blue"])
        self.ws.state.full_history[endpoint.name] = rollout.record_full(history, live)
        return self._done(kind, endpoint.name, before, {"traffic": dict(live), "mirror": dict(mirror)})

    def set_traffic(self, name: str, traffic: Mapping[str, int], *,
                    expected: Mapping[str, int] | None = None) -> Operation:
        endpoint = self.get(name)
        rollout.check_unchanged(name, endpoint.traffic.live, expected)
        split = rollout.check_traffic(traffic, self._names(endpoint), endpoint.traffic.mirror)
        return self._apply("endpoints.set_traffic", endpoint, split, endpoint.traffic.mirror)

    def set_mirror(self, name: str, mirror: Mapping[str, int], *,
                   expected: Mapping[str, int] | None = None) -> Operation:
        endpoint = self.get(name)
        rollout.check_unchanged(name, endpoint.traffic.live, expected)
        clean = rollout.check_mirror(mirror, endpoint.traffic.live, self._names(endpoint))
        return self._apply("endpoints.set_mirror", endpoint, endpoint.traffic.live, clean)

    def rollback(self, name: str, *, expected: Mapping[str, int] | None = None) -> Operation:
        endpoint = self.get(name)
        rollout.check_unchanged(name, endpoint.traffic.live, expected)
        history = self.ws.state.full_history.setdefault(name, ["blue"])
        split = rollout.rollback_split(self._names(endpoint), history, endpoint.traffic.live)
        return self._apply("endpoints.rollback", endpoint, split, {})

    def delete(self, name: str) -> Operation:
        self.get(name)
        self.ws.state.endpoints = [e for e in self.ws.state.endpoints if e.name != name]
        return self._done("endpoints.delete", name)

    def delete_deployment(self, name: str, deployment: str) -> Operation:
        endpoint = self.get(name)
        if deployment not in self._names(endpoint):
            raise NotFound("deployment", f"{name}/{deployment}")
        rollout.check_delete(deployment, endpoint.traffic.live, endpoint.traffic.mirror)
        kept = tuple(d for d in endpoint.deployments if d.name != deployment)
        live = {k: v for k, v in endpoint.traffic.live.items() if k != deployment}
        self._replace(dataclasses.replace(endpoint, deployments=kept, traffic=Traffic(live, endpoint.traffic.mirror)))
        return self._done("endpoints.delete_deployment", f"{name}/{deployment}")

    def keys(self, name: str) -> EndpointKeys:
        self.get(name)
        return self.ws.state.keys.setdefault(name, EndpointKeys("canned-primary-key", "canned-secondary-key"))

    def regenerate_keys(self, name: str, key_type: str = "primary") -> Operation:
        keys = self.keys(name)
        if key_type not in ("primary", "secondary"):
            from console.errors import InvalidField

            raise InvalidField("key_type", "primary or secondary")
        fresh = f"canned-{key_type}-key-{next(self.ws.counter)}"
        self.ws.state.keys[name] = dataclasses.replace(keys, **{key_type: fresh})
        return self._done("endpoints.regenerate_keys", name)

    def deployment_logs(self, name: str, deployment: str, *, lines: int = 200) -> str:
        endpoint = self.get(name)
        if deployment not in self._names(endpoint):
            raise NotFound("deployment", f"{name}/{deployment}")
        return f"==> instance-0.log <==\n{deployment}: listening on 127.0.0.1, model loaded\n"

    def metrics(self, name: str, *, window_s: int | None = None) -> list[DeploymentMetrics]:
        self.get(name)
        return list(SERVING.get(name, ()))


class CannedMonitors(_Group, of=MonitorOperations):
    def list(self) -> list[Monitor]:
        return list(MONITORS)

    def run(self, name: str, *, window_start: datetime | None = None,
            window_end: datetime | None = None) -> Operation:
        _one(MONITORS, name, "monitor")
        return self._done("monitors.run", name)  # the canned report stands: a run here computes nothing

    def latest(self, name: str) -> DriftReport | None:
        _one(MONITORS, name, "monitor")
        return REPORTS.get(name)

    def for_endpoint(self, endpoint: str, deployment: str | None = None) -> list[Monitor]:
        return [m for m in MONITORS if m.endpoint_name == endpoint and deployment in (None, m.deployment)]


class CannedAudit(_Group, of=AuditOperations):
    def list(self, *, limit: int | None = None, since: datetime | None = None) -> list[AuditEntry]:
        entries = [e for e in reversed(self.ws.state.audit) if since is None or e.time >= since]
        return entries[:limit] if limit else entries


class CannedOperations(_Group, of=OperationsOperations):
    def list(self, *, limit: int | None = None) -> list[Operation]:
        newest = list(reversed(self.ws.state.operations.values()))
        return newest[:limit] if limit else newest

    def get(self, id: str) -> Operation:
        found = self.ws.state.operations.get(id)
        if found is None:
            raise NotFound("operation", id)
        return found

    def wait(self, id: str, *, timeout_s: float | None = None) -> Operation:
        return self.get(id)  # every canned operation is done when it is returned


@dataclasses.dataclass
class CannedState:
    """What the canned workspace's writes change; a fresh copy per workspace."""

    jobs: list[Job] = dataclasses.field(default_factory=lambda: list(JOBS))
    computes: list[Compute] = dataclasses.field(default_factory=lambda: list(COMPUTES))
    endpoints: list[Endpoint] = dataclasses.field(default_factory=lambda: list(ENDPOINTS))
    full_history: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    keys: dict[str, EndpointKeys] = dataclasses.field(default_factory=dict)
    operations: dict[str, Operation] = dataclasses.field(default_factory=dict)
    audit: list[AuditEntry] = dataclasses.field(default_factory=list)


class CannedWorkspace:
    """The demo workspace in memory, behind the Workspace protocol."""

    backend = "local"
    capabilities = CAPABILITIES_CANNED
    unsupported = UNSUPPORTED_CANNED
    cadence = DEFAULT_CADENCE

    def __init__(self, *, name: str = "demo", read_only: bool = False) -> None:
        self.name, self.read_only, self.location = name, read_only, "memory (the canned demo workspace)"
        self.state = CannedState()
        self.counter = itertools.count(1)
        self.jobs, self.compute, self.quotas = CannedJobs(self), CannedCompute(self), CannedQuotas(self)
        self.models, self.assets, self.endpoints = CannedModels(self), CannedAssets(self), CannedEndpoints(self)
        self.monitors, self.audit, self.operations = CannedMonitors(self), CannedAudit(self), CannedOperations(self)

    def record(self, kind: str, target: str, before: Any = None, after: Any = None) -> Operation:
        """An operation that Succeeded at once, and its audit entry."""
        op = Operation(f"canned-{next(self.counter)}", kind, target, "Succeeded", started_at=NOW, ended_at=NOW)
        self.state.operations[op.id] = op
        self.state.audit.append(AuditEntry(NOW, "canned", kind, target, before=before, after=after))
        return op

    @functools.cached_property
    def rollouts(self):
        """Rollouts on disk, as on Azure, in a folder removed with the workspace; driven by its
        controller (console/rollout_controller.py) when a test ticks it."""
        from console.rollout_controller import RolloutsOnDisk

        self._rollouts_dir = tempfile.TemporaryDirectory(prefix="canned-rollouts-")

        def audit(operation: str, target: str, *, result: str = "Succeeded", detail: str | None = None) -> None:
            self.state.audit.append(AuditEntry(NOW, "canned", operation, target, result=result, detail=detail))

        return RolloutsOnDisk(self, Path(self._rollouts_dir.name), audit)

    def throttled_for(self) -> float | None:
        return None  # nothing throttles it

    def close(self) -> None:
        pass
