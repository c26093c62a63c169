"""`AzureWorkspace`: the Workspace protocol over one real Azure ML workspace, its operation groups.

Reads go through azure-ai-ml's public operation groups (the one exception, a cluster's node
count, is in `rest.py`); writes are long-running operations, checked against Azure's rules
before any request is sent. Read-only mode and the capabilities are checked before that, by
`console.workspace.OperationGroup`, as on every backend. A write in flight, its audit and how it
ended are `writes.py`'s; which deployment was stable, for rollback, is `history.py`'s. A traffic
change is a full PUT of the endpoint (read, change, write), then reads until Azure reports the
new split: Azure applies it eventually.

A refresh's cost does not grow with the endpoints: the endpoints listing is one request, and an
endpoint's deployments are read again only when the listing shows it changed (provisioning state,
traffic, mirror traffic, lastModifiedAt), a write of ours touched it, it or a deployment of it is
mid-change, or on a slow round (each endpoint's within `DEPLOYMENTS_EVERY_S`, a few a listing):
a deployment someone else made shows within 5 minutes at worst, traffic at once. `get` and writes
read deployments afresh. Metrics come from Azure Monitor's batch API, off ARM's budget.

Deploying (`create.py`), scoring (`scoring.py`, the console's own POST) and Azure Monitor's
endpoint metrics (`metrics.py`) live in their own modules. What Azure ML does not report is
left out of `capabilities` (`UNSUPPORTED` says why) and raises NotSupported. Drift is the
console's own engine over the deployment's collected data (`drift.py`), not Azure's Spark run.
A compute's cost today would need Azure Cost Management: never guessed.
"""

from __future__ import annotations

import dataclasses
import json
import os
import threading
import time
from collections.abc import Iterator, Mapping
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

from console import workspace as protocol
from console.azure.audit import AuditLog
from console.azure.errors import mapped
from console.azure.history import TrafficHistory
from console.azure.session import Session
from console.azure.target import AzureTarget, state_dir
from console.azure.writes import Writes, fingerprint
from console.errors import BadInput, NotFound, NotSupported
from console.lazy import lazy
from console.workspace import OperationGroup

if TYPE_CHECKING:
    from console.domain import AssetVersion, AuditEntry, Compute, Created, Deployment, DeploymentMetrics, DriftReport, Endpoint, InvokeResult, Job, MetricSeries, ModelVersion, Monitor, Operation

# The records, the catalog and the traffic rules cost a fifth of the console's start, and its
# first frame needs none of them: imported on first use.
convert, costs, rollout = lazy("console.azure.convert"), lazy("console.costs"), lazy("console.rollout")

# What Azure ML does not report, and why: the rest of the protocol's capabilities are this backend's.
UNSUPPORTED = {"compute.costs": "Azure ML has no per-compute cost: it is in Azure Cost Management"}
CAPABILITIES = protocol.CAPABILITIES - UNSUPPORTED.keys()
MODEL_ARTIFACT = "model"  # the artifact path training/train.py logs its MLflow model under
JOB_PAGE = 100  # jobs read per refresh: Azure lists newest first, a page at a time
# Every read is an ARM request against a budget (250 per principal, refilled at 25/s). What this
# cadence costs is measured, not estimated: `benchmarks/azure_refresh.py --growth` (azure-ai-ml's own
# requests over the fake ARM) gives 27 ARM requests a minute with 5 endpoints (1.8 % of it), 36 with
# 50, 66 with 200; run it again after changing the cadence. Azure Monitor's metrics are not ARM's.
# Rollouts are files on this machine (the host writes them): read as often as the local ones.
CADENCE = {"jobs": 5.0, "endpoints": 10.0, "computes": 15.0, "monitors": 60.0, "quotas": 60.0, "rollouts": 2.0}
DEPLOYMENTS_EVERY_S = 300.0  # an unchanged endpoint's deployments are read again within this (AzureEndpoints)
SETTLED = frozenset({"Succeeded", "Failed", "Canceled"})  # provisioning states that stay until something changes


class _Group(OperationGroup):
    """An operation group over MLClient; `area` names the refresh area its requests count to."""

    ws: AzureWorkspace

    def __init__(self, ws: AzureWorkspace, area: str) -> None:
        super().__init__(ws)
        self.area = area

    @property
    def target(self) -> AzureTarget:
        return self.ws.target

    @property
    def ml(self) -> Any:
        self.ws.session.counter.area.name = self.area  # the requests that follow are this area's
        return self.ws.session.client()


class AzureJobs(_Group, of=protocol.JobOperations):
    page = JOB_PAGE  # one page of ARM's listing a refresh: the next page costs another request

    def __init__(self, ws: AzureWorkspace, area: str) -> None:
        super().__init__(ws, area)
        self.skipped = 0  # jobs azure-ai-ml could not parse in the last listing (jobs.list yields None)
        self.seen: dict[str, Job] = {}  # this workspace's last listing by name: the detail asks ARM nothing more

    def _known(self, name: str) -> Job:
        return self.seen.get(name) or self.get(name)

    @mapped("job")
    def list(self, *, parent: str | None = None, limit: int | None = None) -> list[Job]:
        jobs, skipped = [], 0
        for entity in self.ml.jobs.list(parent_job_name=parent) if parent else self.ml.jobs.list():
            if entity is None:
                skipped += 1
                continue
            job = convert.job(entity)
            if parent:  # a step: the run history says neither its parent nor its type, nor its times
                from dataclasses import replace

                job = replace(job, parent=parent, job_type="step" if job.job_type == "base" else job.job_type)
            jobs.append(job)
            if len(jobs) >= (limit or JOB_PAGE):
                break  # the pager reads the next page only when asked: this bounds the calls
        jobs.sort(key=lambda j: (j.created_at is not None, j.created_at), reverse=True)
        if parent is None:  # the listing the refresh made, which the job detail relies on
            self.skipped, self.seen = skipped, {j.name: j for j in jobs}
        return jobs

    def export(self, *, parent: str | None = None, limit: int | None = None) -> bytes:
        return json.dumps([j.to_dict() for j in self.list(parent=parent, limit=limit)], default=str).encode()

    @mapped("job")
    def get(self, name: str) -> Job:
        return convert.job(self.ml.jobs.get(name))

    @mapped("spec", writes=True)
    def submit(self, spec_path: str, overrides: Mapping[str, str] | None = None) -> Job:
        from console.azure.submit import submit

        self.ws.session.counter.area.name = self.area
        return submit(self.ws, spec_path, overrides)

    @mapped("job", writes=True)
    def cancel(self, name: str) -> Operation:
        job = self.get(name)
        if job.is_terminal:
            raise BadInput(f"job '{name}' is already {job.status}")
        poller = self.ml.jobs.begin_cancel(name)
        return self.ws.writes.begin("jobs.cancel", name, poller.result, {"job_status": ["Canceled", "CancelRequested"]},
                             before={"status": job.status}, after={"status": "CancelRequested"})

    def logs(self, name: str, *, follow: bool = False, offset: int = 0) -> Iterator[str]:
        """The run's `user_logs/std_log.txt` in the artifact store, from byte `offset`; with
        `follow`, read on from where it ended every poll until the job is terminal. Not
        `jobs.stream`: it prints to the terminal and blocks until the job ends."""
        job = self.get(name) if follow else self._known(name)  # NotFound before the first line
        return self._follow(job, follow, offset)

    def _follow(self, job: Job, follow: bool, offset: int) -> Iterator[str]:
        """What the log holds past `offset`; storage's errors as the project's typed ones (the
        generator runs after `mapped` has returned)."""
        from console.azure.errors import translate
        from console.errors import AmlopsError

        try:
            yield from self._read_log(job, follow, offset)
        except AmlopsError:
            raise
        except Exception as err:
            raise translate(err, self.target, "job", job.name) from None

    def _read_log(self, job: Job, follow: bool, offset: int) -> Iterator[str]:
        from console.azure.storage import ARTIFACT_STORE

        path, pending = None, b""
        while True:
            if path is None:
                found = [n for n in self.ws.storage.names(ARTIFACT_STORE, f"ExperimentRun/dcid.{job.name}/user_logs/")
                         if n.rsplit("/", 1)[-1].startswith("std_log")]
                path = next((n for n in found if n.endswith("/std_log.txt")), found[0] if found else None)
            chunk = self.ws.storage.read(ARTIFACT_STORE, path, offset) if path else None
            if chunk:
                offset += len(chunk)
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    yield line.decode("utf-8", errors="replace") + "\n"
            if not follow or job.is_terminal:
                break
            time.sleep(max(self.ws.poll_s, 0.05))
            job = self.get(job.name)
        if pending:
            yield pending.decode("utf-8", errors="replace")

    @mapped("job")
    def metrics(self, name: str) -> list[MetricSeries]:
        """The run's MLflow metrics through the workspace's tracking server (tracking.py)."""
        job = self._known(name)
        self.ml  # noqa: B018 - the requests that follow are this area's
        return self.ws.tracking.metrics(job.name, job.mlflow_run_id or job.name, job.is_terminal)


class AzureCompute(_Group, of=protocol.ComputeOperations):
    @mapped("compute")
    def list(self) -> list[Compute]:
        from console.azure.rest import computes

        return [convert.compute(entity, rest) for entity, rest in computes(self.ml)]

    @mapped("compute")
    def get(self, name: str) -> Compute:
        return next((c for c in self.list() if c.name == name), None) or self._not_found(name)

    @staticmethod
    def _not_found(name: str) -> Compute:
        raise NotFound("compute", name)

    def start(self, name: str) -> Operation:
        return self._transition(name, "start", "Running")

    def stop(self, name: str) -> Operation:
        return self._transition(name, "stop", "Stopped")

    @mapped("compute", writes=True)
    def _transition(self, name: str, verb: str, state: str) -> Operation:
        compute = self.get(name)
        if not compute.is_instance:
            raise BadInput(f"'{name}' is a cluster: it scales with its jobs, it cannot be started or stopped")
        poller = (self.ml.compute.begin_stop if verb == "stop" else self.ml.compute.begin_start)(name)
        return self.ws.writes.begin(f"compute.{verb}", name, poller.result, {"compute_state": state},
                             before={"state": compute.state}, after={"state": state}, detail="trigger User")

    @mapped("compute")
    def sizes(self):
        return [convert.vm_size(s) for s in self.ml.compute.list_sizes(location=self.ws.session.location())]

    # costs_today: not a capability here (UNSUPPORTED); OperationGroup answers it with NotSupported.


class AzureQuotas(_Group, of=protocol.QuotaOperations):
    @mapped("quota")
    def usage(self):
        """The region's totals and each family's dedicated and low-priority vCPUs, once each:
        the subscription's rows, not the workspaces' and computes' shares of them."""
        location = self.ws.session.location()
        found = {}
        for entity in self.ml.compute.list_usage(location=location):
            record = convert.usage(entity, location)
            if record is not None:
                found.setdefault((record.kind, record.family), record)
        return sorted(found.values(), key=lambda u: (u.family.lower(), u.kind))

    def how_to_raise(self, family: str) -> str:
        return costs.how_to_raise(family)


class AzureModels(_Group, of=protocol.ModelOperations):
    @mapped("model")
    def list(self, name: str | None = None) -> list[ModelVersion]:
        names = [name] if name else [c.name for c in self.ml.models.list()]
        versions = [convert.model(v) for n in names for v in self.ml.models.list(name=n)]
        versions.sort(key=lambda m: (m.created_at is not None, m.created_at), reverse=True)
        return versions

    @mapped("model", writes=True)
    def register(self, name: str, *, job: str | None = None, path: str | None = None,
                 description: str | None = None) -> ModelVersion:
        """A Completed job's MLflow model (its `model` artifact folder, as the demo's training logs
        it) as the next version of `name`. A folder on this machine would need uploading: not built."""
        from console.naming import check_name

        check_name("asset", name)
        if bool(job) == bool(path):
            raise BadInput("register takes exactly one of --job NAME or --path DIR")
        if path:
            raise NotSupported("azure", "models.register", "registering a folder on this machine needs it uploaded, "
                                "which is not built yet: `az ml model create --name NAME --path DIR --type mlflow_model`")
        status = self.ws.jobs.get(job).status
        if status != "Completed":
            raise BadInput(f"job '{job}' is {status}: only a Completed job's model can be registered")
        from azure.ai.ml.entities import Model

        entity = Model(name=name, path=f"azureml://jobs/{job}/outputs/artifacts/paths/{MODEL_ARTIFACT}/",
                       type="mlflow_model", description=description, tags={"azureml.job": job})
        made = convert.model(self.ml.models.create_or_update(entity))
        self.ws.audit_log.append("models.register", f"{name}:{made.version}", after=made.to_dict(),
                                 result="Succeeded", detail=f"from job {job}")
        return made


class AzureAssets(_Group, of=protocol.AssetOperations):
    @mapped("spec", writes=True)
    def create(self, spec_path: str, overrides: Mapping[str, Any] | None = None, *,
               endpoint_name: str | None = None) -> Created:
        from console.azure.create import create

        self.ws.session.counter.area.name = self.area
        return create(self.ws, spec_path, overrides, endpoint_name=endpoint_name)

    @mapped("asset")
    def list(self, kind: str) -> list[AssetVersion]:
        group = self.ml.data if kind == "data" else self.ml.environments
        return [convert.asset(entity, kind) for entity in group.list()]


class AzureEndpoints(_Group, of=protocol.EndpointOperations):
    """The listing is one request; each endpoint's deployments one more, so `list` reads them again
    only where they may have changed: the endpoint's provisioning state, traffic, mirror traffic or
    last-modified time differ from the last read's, a write of ours touched it, it or one of its
    deployments is mid-change (not Succeeded, Failed or Canceled), or the slow round comes to it:
    every endpoint's within `DEPLOYMENTS_EVERY_S`, a few each listing, the oldest read first, so
    no refresh reads them all. A deployment someone else created shows within that at worst, its
    traffic at once (traffic is the endpoint's). `get`, and every write, read them afresh."""

    def __init__(self, ws: AzureWorkspace, area: str) -> None:
        super().__init__(ws, area)
        self.clock = time.monotonic  # tests and the refresh benchmark move it
        # endpoint -> (what the listing said of it, when its deployments were read, the deployments)
        self._kept: dict[str, tuple[tuple, float, list[Deployment]]] = {}
        self._touched: set[str] = set()
        self._touched_lock = threading.Lock()  # writes touch from their own threads
        self._round, self._listed_at = 0.0, None  # slow reads owed; when the last listing was

    @mapped("endpoint")
    def list(self) -> list[Endpoint]:
        entities = list(self.ml.online_endpoints.list())
        due = self._due(entities)
        out = [self._with_deployments(e) if e.name in due else self._endpoint(e, self._kept[e.name][2])
               for e in entities]
        for gone in set(self._kept) - {e.name for e in entities}:
            self._kept.pop(gone, None)
            self.ws.deployments_seen.pop(gone, None)
        return out

    def _due(self, entities: list[Any]) -> set[str]:
        """The endpoints whose deployments this listing reads again."""
        now = self.clock()
        elapsed = 0.0 if self._listed_at is None else now - self._listed_at
        self._listed_at = now
        with self._touched_lock:
            touched, self._touched = self._touched, set()
        due = {e.name for e in entities if (kept := self._kept.get(e.name)) is None or e.name in touched
               or kept[0] != _listed(e) or not _steady(e, kept[2])}
        # The slow round: n endpoints every DEPLOYMENTS_EVERY_S is n x elapsed / DEPLOYMENTS_EVERY_S
        # reads owed by this listing (what is owed carries over, up to one read).
        owed = len(entities) * elapsed / DEPLOYMENTS_EVERY_S
        self._round = min(self._round + owed, owed + 1)
        oldest = sorted((n for n in (e.name for e in entities) if n not in due), key=lambda n: self._kept[n][1])
        slow = oldest[:int(self._round)]
        self._round -= len(slow)
        return due | set(slow)

    def touched(self, name: str) -> None:
        """A write of ours went to `name` or one of its deployments: the next listing reads them."""
        with self._touched_lock:
            self._touched.add(name)

    @mapped("endpoint")
    def get(self, name: str) -> Endpoint:
        return self._with_deployments(self.ml.online_endpoints.get(name))

    def _with_deployments(self, entity: Any) -> Endpoint:
        """The endpoint with its deployments read now (one request): what `get` and writes use."""
        deployments = sorted((convert.deployment(d, entity.name)
                              for d in self.ml.online_deployments.list(endpoint_name=entity.name)), key=lambda d: d.name)
        self._kept[entity.name] = (_listed(entity), self.clock(), deployments)
        return self._endpoint(entity, deployments)

    def _endpoint(self, entity: Any, deployments: list[Deployment]) -> Endpoint:
        endpoint = convert.endpoint(entity, deployments)
        self.ws.history.saw(endpoint.name, dict(endpoint.traffic.live))
        self.ws.deployments_seen[endpoint.name] = [d.name for d in deployments]
        return dataclasses.replace(endpoint, full_history=tuple(self.ws.history.full(endpoint.name)))

    def create(self, spec_path: str, overrides: Mapping[str, str] | None = None) -> Operation:
        return self._create(spec_path, overrides, "online_endpoint")

    def create_deployment(self, spec_path: str, overrides: Mapping[str, str] | None = None, *,
                          endpoint_name: str | None = None) -> Operation:
        return self._create(spec_path, overrides, "online_deployment", endpoint_name)

    @mapped("spec", writes=True)
    def _create(self, spec_path: str, overrides: Mapping[str, str] | None, kind: str,
                endpoint_name: str | None = None) -> Operation:
        from console.azure.create import create

        self.ws.session.counter.area.name = self.area
        return create(self.ws, spec_path, overrides, endpoint_name=endpoint_name, expect=kind).operation

    def set_traffic(self, name: str, traffic: Mapping[str, int], *,
                    expected: Mapping[str, int] | None = None) -> Operation:
        return self._update(name, "endpoints.set_traffic", traffic=traffic, expected=expected)

    def set_mirror(self, name: str, mirror: Mapping[str, int], *,
                   expected: Mapping[str, int] | None = None) -> Operation:
        return self._update(name, "endpoints.set_mirror", mirror=mirror, expected=expected)

    @mapped("endpoint", writes=True)
    def rollback(self, name: str, *, expected: Mapping[str, int] | None = None) -> Operation:
        current = self.get(name)  # the split to roll back from; _update checks `expected` on its own read
        split = rollout.rollback_split([d.name for d in current.deployments], self.ws.history.full(name),
                                       current.traffic.live)
        return self._update(name, "endpoints.rollback", traffic=split, mirror={}, expected=expected)

    @mapped("endpoint", writes=True)
    def _update(self, name: str, kind: str, *, traffic: Mapping[str, Any] | None = None,
                mirror: Mapping[str, Any] | None = None, expected: Mapping[str, int] | None = None) -> Operation:
        """Azure's traffic update: checked under its rules and against the split the caller read
        (Azure takes a PUT from anyone: the check is a fresh read just before it, which narrows
        a race to the PUT's own round trip), a full PUT of the endpoint (zeros stripped, as
        azure-ai-ml sends it), then reads until the endpoint reports the new split."""
        entity = self.ml.online_endpoints.get(name)
        current = self._with_deployments(entity)
        rollout.check_unchanged(name, current.traffic.live, expected)
        names = [d.name for d in current.deployments]
        if traffic is None:  # mirror only
            live = dict(current.traffic.live)
            shadow = rollout.check_mirror(mirror or {}, live, names)
        else:  # a new live split, with the mirror as it is (or as given: rollback turns it off)
            shadow = dict(current.traffic.mirror) if mirror is None else rollout.check_mirror(mirror, {}, names)
            live = rollout.check_traffic(traffic, names, shadow)
        entity.traffic = {k: v for k, v in live.items() if v}
        entity.mirror_traffic = {k: v for k, v in shadow.items() if v}
        poller = self.ml.online_endpoints.begin_create_or_update(entity)
        expect = {"traffic": {k: v for k, v in live.items() if v}, "mirror": entity.mirror_traffic}

        def work() -> None:
            poller.result()
            self.ws.writes.settle(name, expect)

        return self.ws.writes.begin(kind, name, work, {"endpoint_split": expect},
                             before={"traffic": dict(current.traffic.live), "mirror": dict(current.traffic.mirror)},
                             after={"traffic": live, "mirror": shadow})

    @mapped("endpoint", writes=True)
    def delete(self, name: str) -> Operation:
        before = self.get(name)
        poller = self.ml.online_endpoints.begin_delete(name=name)
        return self.ws.writes.begin("endpoints.delete", name, poller.result, {"endpoint_gone": name},
                             before={"deployments": [d.name for d in before.deployments]})

    @mapped("deployment", writes=True)
    def delete_deployment(self, name: str, deployment: str) -> Operation:
        current = self.get(name)
        if deployment not in {d.name for d in current.deployments}:
            raise NotFound("deployment", f"{name}/{deployment}")
        rollout.check_delete(deployment, current.traffic.live, current.traffic.mirror)
        poller = self.ml.online_deployments.begin_delete(name=deployment, endpoint_name=name)
        return self.ws.writes.begin("endpoints.delete_deployment", f"{name}/{deployment}", poller.result,
                             {"deployment_gone": [name, deployment]})

    @mapped("endpoint")
    def keys(self, name: str):
        return convert.keys(self.ml.online_endpoints.get_keys(name=name))

    @mapped("endpoint", writes=True)
    def regenerate_keys(self, name: str, key_type: str = "primary") -> Operation:
        if key_type not in ("primary", "secondary"):
            from console.errors import InvalidField

            raise InvalidField("key_type", "primary or secondary")
        before = fingerprint(getattr(self.ml.online_endpoints.get_keys(name=name), f"{key_type}_key", None))
        poller = self.ml.online_endpoints.begin_regenerate_keys(name=name, key_type=key_type)
        # Another process tells it is done by the key no longer being the one it replaced.
        return self.ws.writes.begin("endpoints.regenerate_keys", name, poller.result,
                             {"key_changed": [key_type, before]}, detail=f"{key_type} key")

    @mapped("deployment")
    def deployment_logs(self, name: str, deployment: str, *, lines: int = 200) -> str:
        out = []
        for container in ("inference-server", "storage-initializer"):
            text = self.ml.online_deployments.get_logs(name=deployment, endpoint_name=name, lines=lines,
                                                       container_type=container)
            out.append(f"==> {container} <==\n{text or ''}")
        return "\n".join(out)

    @mapped("endpoint")
    def invoke(self, name: str, body: bytes | str, *, deployment: str | None = None) -> InvokeResult:
        from console.azure.scoring import invoke

        self.ml  # noqa: B018 - the requests that follow are this area's
        return invoke(self.ws.session, name, body, deployment=deployment)

    @mapped("endpoint")
    def metrics(self, name: str, *, window_s: int | None = None) -> list[DeploymentMetrics]:
        """Azure Monitor's figures (console/azure/metrics.py), for the deployments last read; read
        with the other endpoints last listed, in one batch off ARM's budget."""
        from console.azure.metrics import SPAN

        if window_s is not None and not 60 <= window_s <= SPAN.total_seconds():  # None: the newest minute
            from console.errors import InvalidField

            raise InvalidField("window", f"{window_s} s: Azure Monitor's grain is a minute; give 60 to "
                                         f"{int(SPAN.total_seconds())} s")
        names = self.ws.deployments_seen.get(name)
        if names is None:
            names = [d.name for d in self.get(name).deployments]
        self.ml  # noqa: B018 - the requests that follow are this area's
        return self.ws.monitor_metrics.of(name, names, window_s, others=list(self.ws.deployments_seen))


class AzureMonitors(_Group, of=protocol.MonitorOperations):
    unreadable: tuple[str, ...] = ()  # schedules azure-ai-ml could not translate in the last listing

    @mapped("monitor")
    def list(self) -> list[Monitor]:
        """The model monitor schedules, disabled ones too (azure-ai-ml lists enabled ones unless
        asked), each with its newest run: the job the schedule created last (one request per
        monitor: `jobs.list(scheduled_job_name=...)`, its first page). A schedule azure-ai-ml
        cannot translate (a batch endpoint's) is named in `unreadable`, not printed."""
        from console.azure.session import sdk_notes

        with sdk_notes() as notes:  # "All": ARM's ScheduleListViewType, which azure-ai-ml does not export
            schedules = list(self.ml.schedules.list(list_view_type="All"))
        self.unreadable = tuple(n.split("Translate ", 1)[1].split(" to Schedule", 1)[0]
                                for n in notes if n.startswith("Translate ") and " to Schedule" in n)
        found = sorted((m for m in (convert.monitor(s) for s in schedules) if m is not None), key=lambda m: m.name)
        return [self._with_last_run(m) for m in found]

    def _with_last_run(self, monitor: Monitor) -> Monitor:
        from dataclasses import replace

        last = next((j for j in self.ml.jobs.list(scheduled_job_name=monitor.name) if j is not None), None)
        if last is None:
            return monitor
        run = convert.job(last)
        return replace(monitor, last_run_at=run.created_at, last_run_status=run.status)

    @mapped("monitor", writes=True)
    def run(self, name: str, *, window_start: datetime | None = None,
            window_end: datetime | None = None) -> Operation:
        """Drift over the collected data now (console/azure/drift.py), not Azure's Spark run: the
        window defaults to the last hour. Audited: it is the operator's action, though Azure is not
        written to."""
        from datetime import timezone

        from console.azure.drift import RECENT

        end = window_end or datetime.now(timezone.utc)
        start = window_start or end - RECENT
        if start >= end:
            from console.errors import InvalidField

            raise InvalidField("window_start", "must be before window_end")
        self.ml.schedules.get(name)  # NotFound before anything starts
        # Computed in this process: another one finds its report on disk, or this process gone.
        expect = {"monitor_report": [name, start.isoformat(), end.isoformat()], "pid": os.getpid()}
        return self.ws.writes.begin("monitors.run", name, lambda: self.ws.drift.run(name, start, end), expect,
                             detail=f"{start:%Y-%m-%d %H:%M}–{end:%H:%M} UTC over the collected model_inputs")

    @mapped("monitor")
    def latest(self, name: str) -> DriftReport | None:
        """The report over the collected data of the last hour, computed again when the kept one
        is older than five minutes (Azure keeps no per-feature results)."""
        from console.azure.drift import REPORT_MAX_AGE_S

        self.ml  # noqa: B018 - the requests that follow are this area's
        return self.ws.drift.recent(name, max_age_s=REPORT_MAX_AGE_S)

    def for_endpoint(self, endpoint: str, deployment: str | None = None) -> list[Monitor]:
        return [m for m in self.list() if m.endpoint_name == endpoint and deployment in (None, m.deployment)]


class AzureAudit(_Group, of=protocol.AuditOperations):
    def list(self, *, limit: int | None = None, since: datetime | None = None) -> list[AuditEntry]:
        from console.domain import AuditEntry

        entries = [AuditEntry.from_dict(e) for e in reversed(self.ws.audit_log.entries())]
        if since is not None:
            entries = [e for e in entries if e.time >= since]
        return entries[:limit] if limit else entries


class AzureOperations(_Group, of=protocol.OperationsOperations):
    def get(self, id: str) -> Operation:
        return self.ws.writes.table.get(id)

    def list(self, *, limit: int | None = None) -> list[Operation]:
        return self.ws.writes.table.list(limit)

    def wait(self, id: str, *, timeout_s: float | None = None) -> Operation:
        return self.ws.writes.table.wait(id, timeout_s=timeout_s, poll_s=max(self.ws.poll_s, 0.02))


class AzureWorkspace:
    """One Azure ML workspace behind the Workspace protocol."""

    backend = "azure"
    capabilities = CAPABILITIES
    unsupported = UNSUPPORTED
    cadence = CADENCE

    def __init__(self, target: AzureTarget, *, read_only: bool = False, credential: Any = None,
                 transport: Any = None, polling_interval: float | None = None) -> None:
        self.target = target
        self.name = target.workspace_name
        self.location = f"{target.subscription_id}/{target.resource_group}/{target.workspace_name}"
        self.read_only = read_only or target.read_only
        self.session = Session(target, credential=credential, transport=transport, polling_interval=polling_interval)
        self.poll_s = 1.0 if polling_interval is None else polling_interval
        folder = state_dir(target)
        self.audit_log = AuditLog(folder / "audit.jsonl")
        self.writes = Writes(self, folder)  # writes in flight: their operations, audit and outcome
        self.history = TrafficHistory(folder / "traffic-history.json")  # what rollback goes back to
        self.deployments_seen: dict[str, list[str]] = {}  # endpoint -> deployment names, as last listed
        self._folder = folder
        self.jobs, self.compute, self.quotas = AzureJobs(self, "jobs"), AzureCompute(self, "computes"), AzureQuotas(self, "quotas")
        self.models, self.assets = AzureModels(self, "models"), AzureAssets(self, "assets")
        self.endpoints, self.monitors = AzureEndpoints(self, "endpoints"), AzureMonitors(self, "monitors")
        self.audit, self.operations = AzureAudit(self, "audit"), AzureOperations(self, "operations")

    @cached_property
    def rollouts(self):
        """Rollouts live beside the audit log; `amlops rollout run` drives them."""
        from console.rollout_controller import RolloutsOnDisk

        return RolloutsOnDisk(self, self._folder / "rollouts", self.audit_log.append)

    # What only some reads need, built on first use: the first frame waits for none of it.

    @cached_property
    def monitor_metrics(self):
        from console.azure.metrics import EndpointMetrics

        return EndpointMetrics(self.session)

    @cached_property
    def storage(self):
        from console.azure.storage import Storage

        return Storage(self.session)

    @cached_property
    def tracking(self):
        from console.azure.tracking import Tracking

        return Tracking(self.session)

    @cached_property
    def drift(self):
        from console.azure.drift import CollectedDrift

        return CollectedDrift(self, self._folder / "monitors")

    def throttled_for(self) -> float | None:
        return self.session.counter.throttled_for()

    def close(self) -> None:
        """Release the clients the workspace built beside MLClient (their connections), unless a
        transport was injected: it is shared, and the caller owns it. Never stops anything in Azure."""
        if self.session.transport_kwargs():
            return
        built = self.__dict__  # only what was built: close() must not build anything
        for client in (self.session.closable(),
                       built["monitor_metrics"].closable() if "monitor_metrics" in built else None,
                       built["tracking"].closable() if "tracking" in built else None,
                       *(built["storage"].closable() if "storage" in built else ())):
            if client is not None:
                try:
                    client.close()
                except Exception:  # closing is best effort: the process is usually ending
                    pass


def _listed(entity: Any) -> tuple:
    """What the endpoints listing says of an endpoint that a change to its deployments would move."""
    def split(value: Any) -> tuple:
        return tuple(sorted((str(k), int(v)) for k, v in (value or {}).items()))

    return (str(getattr(entity, "provisioning_state", None)), split(getattr(entity, "traffic", None)),
            split(getattr(entity, "mirror_traffic", None)),
            str((getattr(entity, "properties", None) or {}).get("lastModifiedAt")))


def _steady(entity: Any, deployments: list[Deployment]) -> bool:
    """Neither the endpoint nor a deployment of it is mid-change."""
    return convert.text(getattr(entity, "provisioning_state", None), "Unknown") in SETTLED and all(
        d.provisioning_state in SETTLED for d in deployments)


def open_azure(*, read_only: bool = False, profile: str | None = None, credential: Any = None,
               transport: Any = None, polling_interval: float | None = None,
               sign_in: str | None = None) -> AzureWorkspace:
    """The registry's builder: a profile of the config file, or the Azure ML config.json found
    upward from the working directory. Cheap: nothing of azure is imported until the first call."""
    from console.azure.target import from_config_file, from_profile
    from console.config import config_file, user_config

    # `credential` is an injected credential object (tests); `sign_in` is --credential's choice.
    target = (from_profile(profile, user_config(), str(config_file()), credential=sign_in) if profile
              else from_config_file(credential=sign_in))
    return AzureWorkspace(target, read_only=read_only, credential=credential, transport=transport,
                          polling_interval=polling_interval)
