"""The Workspace protocol: the one interface the UI, the CLI and the demo use, whatever the backend.

Shaped like azure-ai-ml's `MLClient`: typed operation groups (`ws.jobs`, `ws.compute`,
`ws.endpoints`, ...) with the same verbs throughout. Reads return the frozen records of
`console/domain.py`; writes that take time in Azure return an `Operation` to poll or wait on,
as `begin_*` pollers do. A backend declares what it can do in `capabilities` (the UI asks that,
once); a call outside them raises `NotSupported`, and nothing here ever returns invented data.
Those checks, and read-only mode's refusal of every write, are written once, here: the protocols
mark their writes (`@mutates`) and optional reads (`@needs`), and every backend's operation
groups derive from `OperationGroup`, which runs the marks before the backend's own code.

Backends are opened through `open_workspace`, a registry of lazily imported builders (as MLflow
picks its stores by URI scheme): `local` (`console/local/`, the embedded default) and `azure`.
Every method may also raise `BackendUnavailable` when the workspace cannot be reached.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from importlib import import_module
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

from console.errors import (  # re-exported: the UI and CLI import errors from here
    AmlopsError,
    BackendUnavailable,
    BadInput,
    InvalidField,
    NotFound,
    NotSupported,
    OperationFailed,
    QuotaExceeded,
    ReadOnlyError,
    SpecError,
    TrafficRuleError,
)

if TYPE_CHECKING:  # the records are only named here: importing them costs a third of a CLI call
    from console.domain import (
        AssetVersion,
        AuditEntry,
        Compute,
        ComputeCost,
        Created,
        DeploymentMetrics,
        DriftReport,
        Endpoint,
        EndpointKeys,
        InvokeResult,
        Job,
        MetricSeries,
        ModelVersion,
        Monitor,
        Operation,
        QuotaUsage,
        Rollout,
        VmSize,
    )

__all__ = [
    "BACKENDS", "CAPABILITIES", "AmlopsError", "AssetOperations", "AuditOperations", "BackendUnavailable",
    "BadInput", "ComputeOperations", "EndpointOperations", "Guard", "InvalidField", "JobOperations",
    "ModelOperations", "MonitorOperations", "NotFound", "NotSupported", "OperationFailed", "OperationGroup",
    "OperationsOperations", "QuotaExceeded", "QuotaOperations", "ReadOnlyError", "RolloutOperations", "SpecError",
    "TrafficRuleError",
    "Workspace", "mutates", "needs", "open_workspace", "refuse_if_read_only", "require",
]

F = TypeVar("F", bound=Callable[..., Any])

# What a backend may declare it can do. Reads of the panes' areas first, then the writes.
CAPABILITIES = frozenset({
    "jobs", "jobs.logs", "jobs.metrics", "compute", "compute.costs", "quotas", "models", "endpoints",
    "endpoints.keys", "endpoints.invoke", "endpoints.metrics", "endpoints.logs", "monitors",
    "monitors.reports", "audit",
    "jobs.submit", "jobs.cancel", "compute.start_stop", "models.register", "assets.create",
    "endpoints.traffic", "endpoints.delete", "endpoints.regenerate_keys", "monitors.run", "rollouts",
})


# --- the one guard every backend's operation groups share ------------------------------------
# The protocols below mark each call that changes the workspace (`@mutates`) and each read a
# backend may lack (`@needs`); a backend's group says which protocol it implements
# (`class AzureJobs(OperationGroup, of=JobOperations)`) and gets those checks, run before its own
# code, so before any request: a capability the workspace does not declare is NotSupported, then
# a write in read-only mode is ReadOnlyError. A marked call a backend leaves out answers
# NotSupported the same way. No backend writes these checks itself.


class Guard:
    """What a protocol call needs: a capability; for a write, the action read-only mode refuses.
    (A plain class: a dataclass would cost every start its generated code.)"""

    __slots__ = ("action", "capability")

    def __init__(self, capability: str, action: str | None = None) -> None:
        self.capability, self.action = capability, action  # action None: a read

    def __repr__(self) -> str:
        return f"Guard({self.capability!r}, {self.action!r})"

    def check(self, ws: Workspace) -> None:
        require(ws, self.capability)
        if self.action is not None:
            refuse_if_read_only(ws, self.action)


def mutates(action: str, capability: str) -> Callable[[F], F]:
    """Marks a protocol call that changes the workspace: refused outside `capability` and, as
    `action`, in read-only mode."""
    return _marked(Guard(capability, action))


def needs(capability: str) -> Callable[[F], F]:
    """Marks a protocol read that a backend may lack: NotSupported outside `capability`."""
    return _marked(Guard(capability))


def _marked(guard: Guard) -> Callable[[F], F]:
    def mark(fn: F) -> F:
        fn.__guard__ = guard  # type: ignore[attr-defined]
        return fn

    return mark


def guard_of(fn: Any) -> Guard | None:
    """The guard a protocol call (or a backend's guarded method) carries, if any."""
    return getattr(fn, "__guard__", None)


def require(ws: Workspace, capability: str) -> None:
    """Raise NotSupported unless the workspace declares `capability` (with the backend's reason)."""
    if capability not in ws.capabilities:
        raise NotSupported(ws.backend, capability, ws.unsupported.get(capability, ""))


def refuse_if_read_only(ws: Workspace, action: str) -> None:
    """ReadOnlyError for `action` in read-only mode: the guard's own rule, for a change that is no
    one protocol call (starting the demo load, stopping the daemon) or that asks before it calls."""
    if ws.read_only:
        raise ReadOnlyError(action)


class OperationGroup:
    """The base of every backend's operation groups: `ws` is the workspace the group belongs to.
    `of=` names the protocol the group implements; each of its marked calls the group defines is
    wrapped in the call's guard, and each it leaves out raises NotSupported."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws

    def __init_subclass__(cls, *, of: type | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name, call in vars(of or object).items():
            guard = guard_of(call)
            if guard is None:
                continue
            own = cls.__dict__.get(name)
            if own is not None:
                setattr(cls, name, _guarded(own, guard))
            elif not hasattr(cls, name):  # (one inherited from a group is guarded there)
                setattr(cls, name, _absent(name, guard))


def _guarded(fn: Callable[..., Any], guard: Guard) -> Callable[..., Any]:
    @functools.wraps(fn)
    def call(self: OperationGroup, *args: Any, **kwargs: Any) -> Any:
        guard.check(self.ws)
        return fn(self, *args, **kwargs)

    call.__guard__ = guard  # type: ignore[attr-defined]
    return call


def _absent(name: str, guard: Guard) -> Callable[..., Any]:
    def call(self: OperationGroup, *args: Any, **kwargs: Any) -> Any:
        guard.check(self.ws)  # NotSupported where the capability is not declared, as it should not be
        raise NotSupported(self.ws.backend, guard.capability, f"{name} is not built on this backend")

    call.__name__ = call.__qualname__ = name
    call.__guard__ = guard  # type: ignore[attr-defined]
    return call


class JobOperations(Protocol):
    page: int  # how many jobs the console's refresh reads: a page of the backend's listing

    def list(self, *, parent: str | None = None, limit: int | None = None) -> list[Job]:
        """Jobs, newest first (at most `limit`; None: every one); with `parent`, that pipeline's steps."""

    def export(self, *, parent: str | None = None, limit: int | None = None) -> bytes:
        """The same jobs as `list`, as a UTF-8 JSON array of the objects `Job.to_dict()` gives
        (the CLI's `--json`), without building records: ten thousand jobs must print fast."""

    def get(self, name: str) -> Job:
        """One job. Raises NotFound."""

    @mutates("job submit", "jobs.submit")
    def submit(self, spec_path: str, overrides: Mapping[str, str] | None = None) -> Job:
        """Load a job YAML with azure-ai-ml's loader, apply `--set`-style overrides
        (`inputs.reg_rate=0.1`), check it, and queue it. Returns the job as queued.
        Raises SpecError (bad YAML), NotFound (compute, asset version), QuotaExceeded,
        InvalidField (bad override). Nothing is created when it raises."""

    @mutates("job cancel", "jobs.cancel")
    def cancel(self, name: str) -> Operation:
        """Ask a job to stop (its process group, or Azure's cancel). Raises NotFound."""

    @needs("jobs.logs")
    def logs(self, name: str, *, follow: bool = False, offset: int = 0) -> Iterator[str]:
        """The job's combined stdout/stderr from byte `offset`, line by line; with `follow`,
        keep yielding until the job is terminal. Raises NotFound."""


    @needs("jobs.metrics")
    def metrics(self, name: str) -> list[MetricSeries]:
        """Every metric of the job's MLflow run with its history (one point per step), sorted
        by key; empty before the run exists. Raises NotFound."""

class ComputeOperations(Protocol):
    def list(self) -> list[Compute]:
        """Clusters and instances."""

    def get(self, name: str) -> Compute:
        """One compute. Raises NotFound."""

    @mutates("compute start", "compute.start_stop")
    def start(self, name: str) -> Operation:
        """Start a stopped compute instance. Raises NotFound, QuotaExceeded, BadInput (a cluster)."""

    @mutates("compute stop", "compute.start_stop")
    def stop(self, name: str) -> Operation:
        """Stop a running compute instance (trigger User). Raises NotFound, BadInput (a cluster)."""

    def sizes(self) -> list[VmSize]:
        """The VM sizes of the workspace's region, with family, shape and price where known."""

    @needs("compute.costs")
    def costs_today(self) -> list[ComputeCost]:
        """What each compute cost today (UTC): node time, idle time and their price.
        Capability `compute.costs`; raises NotSupported without it."""


class QuotaOperations(Protocol):
    def usage(self) -> list[QuotaUsage]:
        """vCPUs used and the limit per VM family in the workspace's region."""

    def how_to_raise(self, family: str) -> str:
        """Where this workspace's limit for `family` is raised: the exact file or request."""


class ModelOperations(Protocol):
    def list(self, name: str | None = None) -> list[ModelVersion]:
        """Registered model versions, newest first; with `name`, only that model's versions."""

    @mutates("model register", "models.register")
    def register(self, name: str, *, job: str | None = None, path: str | None = None,
                 description: str | None = None) -> ModelVersion:
        """Register the MLflow model of a Completed job (`job`) or a local MLflow model folder
        (`path`) as the next version of `name`. Raises NotFound, BadInput (job not Completed,
        no model in it, neither or both of job/path)."""


class AssetOperations(Protocol):
    @mutates("create", "assets.create")
    def create(self, spec_path: str, overrides: Mapping[str, Any] | None = None, *,
               endpoint_name: str | None = None) -> Created:
        """`create -f`: load any creatable spec (compute, data, environment, online endpoint or
        deployment, monitor schedule) with azure-ai-ml's loader, apply the overrides (and
        `endpoint_name`, for a deployment file without one) and create it. Raises SpecError,
        InvalidField, NotFound, QuotaExceeded; nothing is created when it raises."""

    def list(self, kind: str) -> list[AssetVersion]:
        """The versions of every data asset (`kind` "data") or environment ("environment")."""


class EndpointOperations(Protocol):
    def list(self) -> list[Endpoint]:
        """Online endpoints, each with its deployments and traffic."""

    def get(self, name: str) -> Endpoint:
        """One endpoint. Raises NotFound."""

    @mutates("create online endpoint", "assets.create")
    def create(self, spec_path: str, overrides: Mapping[str, str] | None = None) -> Operation:
        """Create or update an online endpoint from its YAML. Raises SpecError, InvalidField (name)."""

    @mutates("create online deployment", "assets.create")
    def create_deployment(self, spec_path: str, overrides: Mapping[str, str] | None = None, *,
                          endpoint_name: str | None = None) -> Operation:
        """Create or update a deployment from its YAML; a new one starts at 0 % traffic.
        Raises SpecError, NotFound (endpoint, model version), QuotaExceeded, InvalidField."""

    @mutates("endpoint traffic", "endpoints.traffic")
    def set_traffic(self, name: str, traffic: Mapping[str, int], *,
                    expected: Mapping[str, int] | None = None) -> Operation:
        """Replace the live split. Percentages are integers summing to 0 or 100 over existing
        deployments. `expected`: the live split the caller read; if it changed since, refused
        (rollout.check_unchanged). Raises TrafficRuleError, NotFound. Nothing changes when it raises."""

    @mutates("endpoint mirror", "endpoints.traffic")
    def set_mirror(self, name: str, mirror: Mapping[str, int], *,
                   expected: Mapping[str, int] | None = None) -> Operation:
        """Replace mirror traffic: at most one deployment, at most 50 %, with 0 live traffic;
        `{}` turns mirroring off. `expected` as for set_traffic. Raises TrafficRuleError, NotFound."""

    @mutates("endpoint rollback", "endpoints.traffic")
    def rollback(self, name: str, *, expected: Mapping[str, int] | None = None) -> Operation:
        """All live traffic back to the stable deployment (the last to hold 100 % before the
        current rollout), mirroring off: one update. `expected` as for set_traffic. Raises
        TrafficRuleError, NotFound."""

    @mutates("endpoint delete", "endpoints.delete")
    def delete(self, name: str) -> Operation:
        """Delete an endpoint with all its deployments. Raises NotFound."""

    @mutates("deployment delete", "endpoints.delete")
    def delete_deployment(self, name: str, deployment: str) -> Operation:
        """Delete a deployment with no live or mirror traffic. Raises TrafficRuleError, NotFound."""

    @needs("endpoints.keys")
    def keys(self, name: str) -> EndpointKeys:
        """The endpoint's primary and secondary scoring keys. Raises NotFound."""

    @mutates("endpoint regenerate-keys", "endpoints.regenerate_keys")
    def regenerate_keys(self, name: str, key_type: str = "primary") -> Operation:
        """Replace one scoring key (`primary` or `secondary`). Raises NotFound, InvalidField."""

    @needs("endpoints.logs")
    def deployment_logs(self, name: str, deployment: str, *, lines: int = 200) -> str:
        """The last `lines` of each instance's log of a deployment. Raises NotFound."""

    @needs("endpoints.invoke")
    def invoke(self, name: str, body: bytes | str, *, deployment: str | None = None) -> InvokeResult:
        """Score a request through the endpoint; `deployment` pins it with the
        `azureml-model-deployment` header. Raises NotFound."""

    @needs("endpoints.metrics")
    def metrics(self, name: str, *, window_s: int | None = None) -> list[DeploymentMetrics]:
        """Per-deployment request rate, success rate and latency percentiles over `window_s`
        seconds, or (None) the backend's live window: the local router's last 10 s, Azure
        Monitor's newest complete minute. Each record says its window and how old it is.
        Raises NotFound, NotSupported, InvalidField (a window the backend does not keep)."""


class MonitorOperations(Protocol):
    def list(self) -> list[Monitor]:
        """Model monitor schedules."""

    @mutates("monitor run", "monitors.run")
    def run(self, name: str, *, window_start: datetime | None = None,
            window_end: datetime | None = None) -> Operation:
        """Run a monitor now over a window (default: its lookback up to now). Raises NotFound."""

    @needs("monitors.reports")
    def latest(self, name: str) -> DriftReport | None:
        """The newest stored report of a monitor, or None if it never ran. Raises NotFound."""

    def for_endpoint(self, endpoint: str, deployment: str | None = None) -> list[Monitor]:
        """The monitors that watch an endpoint (or one of its deployments)."""


class RolloutOperations(Protocol):
    """Rollouts by plan (console/rollout_plan.py), driven outside the console: by the daemon on
    the local workspace, by `amlops rollout run` for an Azure one."""

    @needs("rollouts")
    def list(self) -> list[Rollout]:
        """Every endpoint's latest rollout, under way or ended."""

    @needs("rollouts")
    def get(self, endpoint: str) -> Rollout:
        """The latest rollout of an endpoint. Raises NotFound."""

    @mutates("rollout start", "rollouts")
    def start(self, plan_path: str) -> Rollout:
        """Begin the plan in a `specs/rollouts/` file. Raises SpecError, BadInput (a rollout of the
        endpoint under way, a deployment missing, the stable not at 100 %)."""

    @mutates("rollout command", "rollouts")
    def command(self, endpoint: str, verb: str, reason: str = "") -> Rollout:
        """pause, resume, approve, promote, abort or fail the endpoint's rollout. Raises NotFound,
        BadInput (a command its phase does not take)."""


class AuditOperations(Protocol):
    def list(self, *, limit: int | None = None, since: datetime | None = None) -> list[AuditEntry]:
        """The append-only audit log, newest first."""


class OperationsOperations(Protocol):
    def get(self, id: str) -> Operation:
        """The current state of a long-running operation. Raises NotFound."""

    def list(self, *, limit: int | None = None) -> list[Operation]:
        """Long-running writes, newest first: how the id of one left running is found again."""

    def wait(self, id: str, *, timeout_s: float | None = None) -> Operation:
        """Block until the operation is done or the timeout passes; returns its last state."""


@runtime_checkable
class Workspace(Protocol):
    """One Azure ML workspace, local or in Azure."""

    name: str
    backend: str  # "local" or "azure"
    read_only: bool
    location: str  # where it is, for a person: the local folder, or subscription/group/workspace
    capabilities: frozenset[str]  # a subset of CAPABILITIES
    unsupported: Mapping[str, str]  # why a capability left out is missing (NotSupported says it), where known
    cadence: Mapping[str, float]  # seconds between the console's reads of each area (an Azure call costs)

    @property
    def jobs(self) -> JobOperations: ...
    @property
    def compute(self) -> ComputeOperations: ...
    @property
    def quotas(self) -> QuotaOperations: ...
    @property
    def models(self) -> ModelOperations: ...
    @property
    def assets(self) -> AssetOperations: ...
    @property
    def endpoints(self) -> EndpointOperations: ...
    @property
    def monitors(self) -> MonitorOperations: ...
    @property
    def rollouts(self) -> RolloutOperations: ...
    @property
    def audit(self) -> AuditOperations: ...
    @property
    def operations(self) -> OperationsOperations: ...

    def throttled_for(self) -> float | None:
        """Seconds until the backend takes reads again (Azure's Retry-After after a 429), or None."""

    def close(self) -> None:
        """Release connections; never stops jobs or endpoints."""


# How often the console reads each area of a workspace that costs nothing to read (the local one):
# what an operator watches (jobs, endpoints) often, what rarely changes (quotas) rarely.
DEFAULT_CADENCE: Mapping[str, float] = {"jobs": 2.0, "endpoints": 2.0, "computes": 5.0, "monitors": 10.0,
                                        "quotas": 30.0, "rollouts": 2.0}


# --- the registry of backends ----------------------------------------------------------------

# Backend name -> "module:function" building it from the user's selection (keyword options).
# Only the backend the user named is imported: the azure one pays for azure.ai.ml.
BACKENDS: dict[str, str] = {
    "local": "console.local.client:open_local",
    "azure": "console.azure.workspace:open_azure",
}


def open_workspace(backend: str, *, read_only: bool = False, **options: Any) -> Workspace:
    """The workspace of `backend`, opened with its options (local: `root`; azure: a profile).
    Raises InvalidField for an unknown backend, BackendUnavailable when it cannot be opened."""
    target = BACKENDS.get(backend)
    if target is None:
        raise InvalidField("workspace", f"{backend!r}: use {' or '.join(BACKENDS)}")
    module, _, function = target.partition(":")
    builder: Callable[..., Workspace] = getattr(import_module(module), function)
    return builder(read_only=read_only, **options)

