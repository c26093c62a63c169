"""The project's own records: what the UI and the CLI see of a workspace.

Frozen value objects, one per Azure ML concept, named in Azure's words. Backends convert their
native shapes (azure-ai-ml entities, the local daemon's JSON) into these at the edge, so nothing
above `console/workspace.py` ever touches an SDK type. `to_dict`/`from_dict` give the JSON form
used by `--json` and by the local daemon's wire protocol.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

# Azure's job statuses (azure.ai.ml.constants.JobStatus) and compute states, spelled as Azure does.
JOB_STATUSES = (
    "NotStarted", "Queued", "Preparing", "Provisioning", "Starting", "Running",
    "Finalizing", "CancelRequested", "Completed", "Failed", "Canceled", "NotResponding", "Paused",
)
# azure-ai-ml's RunHistoryConstants.TERMINAL_STATUSES: a NotResponding or Paused run moves no further.
JOB_TERMINAL = frozenset({"Completed", "Failed", "Canceled", "NotResponding", "Paused"})
COMPUTE_STATES = (
    "Creating", "CreateFailed", "Deleting", "Running", "Restarting", "JobRunning",
    "SettingUp", "SetupFailed", "Starting", "Stopped", "Stopping", "UserSettingUp",
    "UserSetupFailed", "Unknown", "Unusable", "Succeeded", "Resizing", "Steady",
)
OPERATION_TRIGGERS = ("User", "Schedule", "IdleShutdown")
OPERATION_STATUSES = ("InProgress", "Succeeded", "Failed", "Canceled")


class Record:
    """Shared JSON conversion for the frozen dataclasses below; converters are built once per
    class, since a refresh may convert ten thousand jobs."""

    def to_dict(self) -> dict[str, Any]:
        return {name: _to_json(getattr(self, name)) for name in _names(type(self))}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]):
        converters = _converters(cls)
        return cls(**{k: converters[k](v) for k, v in data.items() if k in converters})

    @classmethod
    def from_rows(cls, columns: list[str], rows: list[list[Any]]) -> list:
        """Records from the compact `{"columns", "rows"}` form of a large listing."""
        converters = _converters(cls)
        if tuple(columns) == _names(cls):
            convert = [converters[c] for c in columns]
            return [cls(*[f(v) for f, v in zip(convert, row)]) for row in rows]
        return [cls.from_dict(dict(zip(columns, row))) for row in rows]


@dataclass(frozen=True, slots=True)
class Job(Record):
    """An Azure ML job (command, pipeline, sweep); `parent` is set on a pipeline's steps."""

    name: str
    status: str
    job_type: str = "command"
    display_name: str | None = None
    experiment_name: str | None = None
    compute: str | None = None
    created_at: datetime | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    parent: str | None = None
    mlflow_run_id: str | None = None
    error: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)

    @property
    def is_terminal(self) -> bool:
        return self.status in JOB_TERMINAL

    def duration_s(self, now: datetime) -> float | None:
        """Seconds from start to end, or to `now` while it runs; None before it starts."""
        if self.started_at is None:
            return None
        return ((self.ended_at or now) - self.started_at).total_seconds()


@dataclass(frozen=True, slots=True)
class MetricSeries(Record):
    """One MLflow metric of a job's run: its history, step by step (what `log_metric` recorded)."""

    job_name: str
    key: str
    steps: tuple[int, ...] = ()
    values: tuple[float, ...] = ()


@dataclass(frozen=True, slots=True)
class ComputeOperation(Record):
    """A compute instance's last operation (Start, Stop, Restart, Create) and what triggered it."""

    name: str
    trigger: str  # User, Schedule, IdleShutdown
    status: str
    time: datetime | None = None


@dataclass(frozen=True, slots=True)
class Compute(Record):
    """An AmlCompute cluster or a ComputeInstance, with what the cost views need (what it bills
    and how long it has sat idle are `console.costs`': billed_nodes, cost_per_hour, idle_minutes)."""

    name: str
    type: str  # amlcompute, computeinstance
    size: str
    state: str  # an instance's state; a cluster's allocation state, Steady or Resizing
    location: str | None = None
    min_instances: int = 0
    max_instances: int = 1
    current_nodes: int = 0
    idle_time_before_scale_down_s: int | None = None
    idle_time_before_shutdown_minutes: int | None = None
    last_activity: datetime | None = None
    last_operation: ComputeOperation | None = None

    @property
    def is_instance(self) -> bool:
        return self.type == "computeinstance"


@dataclass(frozen=True, slots=True)
class VmSize(Record):
    """A VM size from the catalog: its quota family, shape and hourly list price."""

    name: str
    family: str
    vcpus: int
    gpus: int
    memory_gb: float
    price_per_hour: float | None = None
    price_date: str | None = None  # ISO date the price was read


@dataclass(frozen=True, slots=True)
class QuotaUsage(Record):
    """vCPUs in use against the limit in one region: one VM family's (`kind` dedicated, or
    lowPriority), or the region's total over every family (regionalDedicated,
    regionalLowPriority; `family` is then Azure's name for the total), which caps the families
    together. A limit of None is no limit: Azure says -1 for each family's low-priority vCPUs,
    which only the regional low-priority total caps."""

    DEDICATED: ClassVar[str] = "dedicated"
    LOW_PRIORITY: ClassVar[str] = "lowPriority"
    REGIONAL_DEDICATED: ClassVar[str] = "regionalDedicated"
    REGIONAL_LOW_PRIORITY: ClassVar[str] = "regionalLowPriority"
    KINDS: ClassVar[tuple[str, ...]] = (REGIONAL_DEDICATED, REGIONAL_LOW_PRIORITY, DEDICATED, LOW_PRIORITY)

    family: str
    used: int
    limit: int | None
    location: str | None = None
    unit: str = "Cores"
    kind: str = DEDICATED

    @property
    def unlimited(self) -> bool:
        """No limit: None, or a negative limit as Azure spells it (-1)."""
        return self.limit is None or self.limit < 0

    @property
    def regional(self) -> bool:
        return self.kind in (self.REGIONAL_DEDICATED, self.REGIONAL_LOW_PRIORITY)

    @property
    def free(self) -> int | None:
        """vCPUs left before the limit; None where there is no limit."""
        return None if self.unlimited else max(self.limit - self.used, 0)

    @property
    def ratio(self) -> float:
        """Used over limit (0 with no limit: nothing to run into)."""
        if self.unlimited:
            return 0.0
        return self.used / self.limit if self.limit else (1.0 if self.used else 0.0)


@dataclass(frozen=True, slots=True)
class ModelVersion(Record):
    """A registered model version; `job` names the job whose run produced it, if any."""

    name: str
    version: str
    path: str | None = None
    job: str | None = None
    mlflow_run_id: str | None = None
    created_at: datetime | None = None
    description: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)

    @property
    def ref(self) -> str:
        return f"azureml:{self.name}:{self.version}"


@dataclass(frozen=True, slots=True)
class Traffic(Record):
    """An endpoint's split: live percentages and mirror percentages by deployment name."""

    live: Mapping[str, int] = field(default_factory=dict)
    mirror: Mapping[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.live.values())


@dataclass(frozen=True, slots=True)
class Deployment(Record):
    """A managed online deployment behind an endpoint."""

    endpoint_name: str
    name: str
    model: str | None
    instance_type: str
    instance_count: int = 1
    provisioning_state: str = "Succeeded"  # Creating, Updating, Succeeded, Failed, Deleting
    ready_instances: int = 0
    request_timeout_ms: int = 5000
    max_concurrent_requests_per_instance: int = 1
    data_collection: tuple[str, ...] = ()  # enabled collections, e.g. ("model_inputs", "model_outputs")
    # Online deployments bill every instance around the clock, traffic or not: list price x
    # instance_count, and what the instances have cost since midnight UTC. None: no known price.
    cost_per_hour: float | None = None
    cost_today: float | None = None


@dataclass(frozen=True, slots=True)
class Endpoint(Record):
    """A managed online endpoint with its traffic and the deployments behind it."""

    name: str
    auth_mode: str = "key"
    scoring_uri: str | None = None
    provisioning_state: str = "Succeeded"
    traffic: Traffic = field(default_factory=Traffic)
    deployments: tuple[Deployment, ...] = ()
    # Whether the scoring URI is served: False while the local endpoint's router is down (the
    # daemon restarts it on the same port), with why; None where the backend does not say (Azure).
    healthy: bool | None = None
    unhealthy_reason: str | None = None
    # The deployments seen holding all live traffic, oldest first: what a rollback goes back to
    # (`rollout.rollback_split`), so the console can name it before asking. Azure keeps no such
    # list; each backend keeps its own (local: its store; azure: console/azure/history.py).
    # None where the backend does not say.
    full_history: tuple[str, ...] | None = None

    @property
    def cost_per_hour(self) -> float | None:
        """What the endpoint's deployments cost per hour together (the priced ones); None if none is."""
        return _total(d.cost_per_hour for d in self.deployments)

    @property
    def cost_today(self) -> float | None:
        return _total(d.cost_today for d in self.deployments)

    def to_dict(self) -> dict[str, Any]:
        # The totals ride along in the JSON form (`endpoint show --json`); from_dict ignores them.
        return {**Record.to_dict(self), "cost_per_hour": self.cost_per_hour, "cost_today": self.cost_today}


def _total(values: typing.Iterable[float | None]) -> float | None:
    from console.costs import known_sum  # costs builds on these records: imported when first summed

    return known_sum(values)


@dataclass(frozen=True, slots=True)
class EndpointKeys(Record):
    """The endpoint's two scoring keys; rotate one while clients use the other."""

    primary: str
    secondary: str


@dataclass(frozen=True, slots=True)
class InvokeResult(Record):
    """One scoring call: status, body, the deployment that answered, and latency."""

    status_code: int
    body: str
    deployment: str | None = None
    latency_ms: float | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DeploymentMetrics(Record):
    """Serving figures for one deployment over a window the backend chose and states: `window_s`
    long, ending `age_s` seconds before the read (the local router's window ends at the read;
    Azure Monitor's newest complete minute ended a minute or more before, since it ingests late)."""

    endpoint_name: str
    deployment: str
    window_s: int
    requests: int
    rps: float
    success_rate: float | None  # None when there were no requests
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    latency_series_ms: tuple[float, ...] = ()  # per-interval p50, oldest first, for sparklines
    age_s: float = 0.0  # from the window's end to the read


@dataclass(frozen=True, slots=True)
class Monitor(Record):
    """A model monitor schedule: what it watches and when it runs."""

    name: str
    endpoint_name: str | None
    deployment: str | None
    signals: tuple[str, ...] = ()
    trigger: str | None = None  # e.g. "cron 0 3 * * *" or "every 1 day"
    last_run_at: datetime | None = None
    last_run_status: str | None = None  # Azure: the status of the newest job the schedule created
    enabled: bool = True  # a disabled schedule runs nothing until it is enabled again


@dataclass(frozen=True, slots=True)
class FeatureDrift(Record):
    """One feature's drift between the baseline and a production window."""

    feature: str
    type: str  # numeric, categorical
    metric: str  # normalized_wasserstein_distance, jensen_shannon_distance
    value: float | None
    threshold: float
    drifted: bool
    psi: float | None = None
    p_value: float | None = None
    null_rate: float = 0.0
    baseline_null_rate: float = 0.0
    note: str | None = None  # e.g. "not enough data"
    # The histograms the drift pane draws: each side's share of its non-null rows per bin
    # (numeric: the PSI bins, labelled "<12", "12–24", "≥60"; categorical: per category).
    bins: tuple[str, ...] = ()
    baseline_share: tuple[float, ...] = ()
    production_share: tuple[float, ...] = ()

    @property
    def breaches_below(self) -> bool:
        """Whether the metric is a p-value (Azure names those `..._test`): drifted below its
        threshold, where a distance drifts above it."""
        return self.metric.endswith("_test")


@dataclass(frozen=True, slots=True)
class DriftReport(Record):
    """A monitor run over one production window, with the per-feature results and the verdict."""

    monitor: str
    endpoint_name: str | None
    deployment: str | None
    window_start: datetime
    window_end: datetime
    baseline_rows: int
    production_rows: int
    features: tuple[FeatureDrift, ...] = ()
    drifted_share: float = 0.0
    alert: bool = False
    dataset_drift: bool = False
    created_at: datetime | None = None

    @property
    def measured(self) -> bool:
        """Whether anything was measured: rows, and a feature with a value. A report that
        measured nothing is "no data", never an ok."""
        return self.production_rows > 0 and any(f.value is not None for f in self.features)


@dataclass(frozen=True, slots=True)
class AuditEntry(Record):
    """One mutation: who, when, what changed from what to what, and how it ended."""

    time: datetime
    actor: str
    operation: str
    target: str
    before: Any = None
    after: Any = None
    result: str = "Succeeded"
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class Rollout(Record):
    """A rollout of a candidate deployment by its plan (specs/rollouts/): where it stands, why,
    and what it decided. `step` is -1 during the mirror step; `history` holds every step,
    traffic write and analysis with its numbers, oldest first."""

    endpoint: str
    stable: str
    candidate: str
    phase: str  # Progressing, Paused, AwaitingApproval; Succeeded, RolledBack, Aborted, Failed
    step: int
    weights: tuple[int, ...]
    reason: str = ""
    plan: str | None = None  # the plan's file
    started_at: datetime | None = None
    updated_at: datetime | None = None
    next_at: datetime | None = None  # when the step held its time (it moves on if the analysis passes)
    last_analysis: Mapping[str, Any] | None = None
    history: tuple[Mapping[str, Any], ...] = ()

    @property
    def ended(self) -> bool:
        return self.phase in ("Succeeded", "RolledBack", "Aborted", "Failed")

    @property
    def weight(self) -> int:
        """The candidate's live share this step sets (0 while mirroring)."""
        return self.weights[self.step] if 0 <= self.step < len(self.weights) else 0


@dataclass(frozen=True, slots=True)
class Operation(Record):
    """A long-running write, as Azure's `begin_*` pollers return: poll `status` until done."""

    id: str
    kind: str  # e.g. "compute.stop", "endpoints.set_traffic"
    target: str
    status: str = "InProgress"
    started_at: datetime | None = None
    ended_at: datetime | None = None
    error: str | None = None

    TERMINAL: ClassVar[frozenset[str]] = frozenset({"Succeeded", "Failed", "Canceled"})

    @property
    def done(self) -> bool:
        return self.status in self.TERMINAL


@dataclass(frozen=True, slots=True)
class AssetVersion(Record):
    """One version of a data asset or an environment."""

    kind: str  # data, environment
    name: str
    version: str
    path: str | None = None  # a data asset's location
    image: str | None = None  # an environment's image
    created_at: datetime | None = None
    note: str | None = None  # what the backend did not do with it (e.g. no image built locally)


@dataclass(frozen=True, slots=True)
class Created(Record):
    """What `create -f` made: its kind and name, and the operation that makes it ready (a
    deployment's instances loading the model), or None when it was ready at once."""

    kind: str  # compute, data, environment, online_endpoint, online_deployment, schedule
    name: str
    version: str | None = None
    endpoint_name: str | None = None  # an online deployment's endpoint
    operation: Operation | None = None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class ComputeCost(Record):
    """What one compute cost on one UTC day: node time, the idle part of it, and their price."""

    compute: str
    day: str  # ISO date, UTC
    node_seconds: float = 0.0
    idle_node_seconds: float = 0.0
    cost: float = 0.0
    idle_cost: float = 0.0


# --- JSON conversion -------------------------------------------------------------------------

_SCALARS = (str, int, float, bool, type(None))


def _to_json(value: Any) -> Any:
    if isinstance(value, _SCALARS):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Record):
        return value.to_dict()
    if isinstance(value, Mapping):
        return {k: _to_json(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return [_to_json(v) for v in value]
    return value


_NAMES: dict[type, tuple[str, ...]] = {}
_CONVERTERS: dict[type, dict[str, Any]] = {}


def _names(cls: type) -> tuple[str, ...]:
    if cls not in _NAMES:
        _NAMES[cls] = tuple(f.name for f in dataclasses.fields(cls))  # type: ignore[arg-type]
    return _NAMES[cls]


def _converters(cls: type) -> dict[str, Any]:
    if cls not in _CONVERTERS:
        hints = typing.get_type_hints(cls)
        _CONVERTERS[cls] = {name: _converter(hints[name]) for name in _names(cls)}
    return _CONVERTERS[cls]


def _identity(value: Any) -> Any:
    return value


def _converter(hint: Any):
    """A function turning the JSON form of a `hint`-typed field back into its value."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(inner) != 1:
            return _identity
        convert = _converter(inner[0])
        return lambda v: None if v is None else convert(v)
    if hint is datetime:
        return lambda v: None if v is None else datetime.fromisoformat(v)
    if isinstance(hint, type) and issubclass(hint, Record):
        return lambda v: None if v is None else hint.from_dict(v)
    if origin is tuple:
        item = _converter(typing.get_args(hint)[0])
        return lambda v: () if v is None else tuple(item(x) for x in v)
    if origin in (Mapping, dict):
        return lambda v: {} if v is None else dict(v)
    return _identity
