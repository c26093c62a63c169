"""`LocalWorkspace`: the Workspace protocol over the local daemon's Unix socket.

Starts the daemon on demand (it then outlives this process), converts the daemon's JSON into
domain records, and re-raises the daemon's typed errors as themselves. Capabilities the local
workspace does not have yet raise `NotSupported` instead of returning anything invented.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

from console.errors import BackendUnavailable
from console.lazy import lazy
from console.local import rpc
from console.local.folder import WorkspaceFolder
from console.local.procs import terminate
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
    RolloutOperations,
)

# The domain records, imported on first use: `job list --json` never needs them, and building
# their dataclasses is a third of this module's import time.
records = lazy("console.domain")

START_TIMEOUT_S = 20.0
CALL_TIMEOUT_S = 120.0


class DaemonConnection:
    """Calls into one workspace's daemon; one short connection per call."""

    def __init__(self, folder: WorkspaceFolder, *, autostart: bool = True) -> None:
        self.folder = folder
        self.autostart = autostart
        self.code: str | None = rpc.code_stamp()  # the code this process runs, read at its start

    def call(self, method: str, **params: Any) -> Any:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                reply = self._send(method, params)
                if not reply.get("ok") and (reply.get("error") or {}).get("type") == rpc.STALE:
                    self._on_stale_daemon()
                    continue
                break
            except (FileNotFoundError, ConnectionRefusedError):
                if not self.autostart:
                    raise BackendUnavailable(f"the local daemon for {self.folder.root} is not running "
                                             "(amlops local up)") from None
                start_daemon(self.folder)
            except (ConnectionResetError, BrokenPipeError, _NoReply):
                # A daemon that just died (its socket not yet refusing) or is restarting: try again.
                if time.monotonic() > deadline:
                    raise BackendUnavailable(f"the local daemon for {self.folder.root} stopped answering") from None
                time.sleep(0.05)
        if not reply.get("ok"):
            rpc.raise_error(reply.get("error") or {})
        return reply.get("result")

    def _on_stale_daemon(self) -> None:
        """The daemon runs other code than this process. If this process runs the code on disk,
        the daemon is the old one: restart it (jobs and endpoints outlive it and are adopted).
        If the code changed under this process too, this process is the old one: go on without
        the check rather than restart a daemon that is newer than we are."""
        if rpc.code_stamp() == self.code and self.autostart:
            stop_daemon(self.folder)
            start_daemon(self.folder)
        else:
            self.code = None

    def _send(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.connect(str(self.folder.socket))  # blocking: waits its turn in the listen queue
            sock.settimeout(CALL_TIMEOUT_S)
            sock.sendall(rpc.encode({"method": method, "params": params, "code": self.code}))
            chunks = []
            while chunk := sock.recv(1 << 20):  # the daemon closes the connection after its reply
                chunks.append(chunk)
        data = b"".join(chunks)
        if not data:
            raise _NoReply()
        if data.startswith(rpc.RAW_HEADER):
            return {"ok": True, "result": rpc.RawJSON(data[len(rpc.RAW_HEADER):])}
        return json.loads(data)


class _NoReply(Exception):
    """The daemon closed the connection without answering (it was stopping)."""


def daemon_pid(folder: WorkspaceFolder) -> int | None:
    """The pid of the daemon serving `folder`, or None when none answers."""
    try:
        return DaemonConnection(folder, autostart=False).call("daemon.status")["pid"]
    except (BackendUnavailable, OSError, ValueError):
        return None


def start_daemon(folder: WorkspaceFolder) -> int:
    """Start the daemon in its own session (it survives this process and the SSH session) and
    wait until it answers. Returns its pid. Two callers racing both end up on the one daemon."""
    folder.create()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}  # the daemon sets its own
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"  # mlflow needs uvicorn etc.
    with open(folder.logs_dir / "daemon.out", "ab") as out:
        subprocess.run([sys.executable, "-m", "console.local.daemon", "--detach", "--workspace-dir",
                        str(folder.root)], cwd=folder.root, env=env, stdin=subprocess.DEVNULL, stdout=out,
                       stderr=out, start_new_session=True, close_fds=True, check=False)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        pid = daemon_pid(folder)
        if pid is not None:
            return pid
        time.sleep(0.05)
    tail = (folder.logs_dir / "daemon.out").read_text(errors="replace")[-800:]
    raise BackendUnavailable(f"the local daemon did not answer within {START_TIMEOUT_S:.0f} s:\n{tail}")


def stop_daemon(folder: WorkspaceFolder, timeout_s: float = 10.0) -> bool:
    """SIGTERM the daemon and wait for it to go. Jobs keep running. False if none was running."""
    pid = daemon_pid(folder)
    if pid is None:
        return False
    if terminate(pid, None, timeout_s):
        return True
    raise BackendUnavailable(f"the local daemon (pid {pid}) did not stop within {timeout_s:.0f} s")


def stop_all(folder: WorkspaceFolder) -> dict[str, Any]:
    """With the daemon stopped: cancel every job and stop every router and scoring instance of
    the folder (`python -m console.local.daemon --stop-all`, which holds the daemon's lock, so
    no daemon can restart them meanwhile). Returns {"stopped": [...], "left": [...]}."""
    done = subprocess.run([sys.executable, "-m", "console.local.daemon", "--stop-all", "--workspace-dir",
                           str(folder.root)], cwd=folder.root, stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, check=False, timeout=300,
                          env={k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")})
    if done.returncode != 0:
        raise BackendUnavailable(f"stopping the workspace's processes failed: {done.stderr.strip()[-500:]}")
    return json.loads(done.stdout)


# --- operation groups ----------------------------------------------------------------------------


class _Group(OperationGroup):
    """A group of calls to the daemon. Read-only mode and the capabilities are checked by
    `OperationGroup` before a call reaches the socket (and the daemon refuses writes again when
    its folder's config says read_only)."""

    ws: LocalWorkspace

    def _call(self, method: str, **params: Any) -> Any:
        return self.ws.connection.call(method, **params)  # the workspace's connection now (a test may watch it)


class LocalJobs(_Group, of=JobOperations):
    page = 500  # the daemon lists from memory: the console shows the newest 500
    def list(self, *, parent: str | None = None, limit: int | None = None) -> list[Job]:
        listing = self._call("jobs.list", parent=parent, limit=limit)
        return records.Job.from_rows(listing["columns"], listing["rows"])

    def export(self, *, parent: str | None = None, limit: int | None = None) -> bytes:
        # The daemon sends the JSON array as it caches it: nothing is parsed or re-encoded here.
        return bytes(self._call("jobs.export", parent=parent, limit=limit))

    def get(self, name: str) -> Job:
        return records.Job.from_dict(self._call("jobs.get", name=name))

    def submit(self, spec_path: str, overrides: Mapping[str, Any] | None = None) -> Job:
        return records.Job.from_dict(self._call("jobs.submit", spec_path=str(Path(spec_path).resolve()),
                                        overrides=dict(overrides or {})))

    def cancel(self, name: str) -> Operation:
        return records.Operation.from_dict(self._call("jobs.cancel", name=name))

    def metrics(self, name: str) -> list[MetricSeries]:
        return [records.MetricSeries.from_dict(series) for series in self._call("jobs.metrics", name=name)]

    def logs(self, name: str, *, follow: bool = False, offset: int = 0) -> Iterator[str]:
        while True:
            chunk = self._call("jobs.logs", name=name, offset=offset)
            offset = chunk["offset"]
            if chunk["text"]:
                yield from chunk["text"].splitlines(keepends=True)
            if not follow or (chunk["terminal"] and not chunk["text"]):
                return
            if not chunk["text"]:
                time.sleep(0.25)


class LocalCompute(_Group, of=ComputeOperations):
    def list(self) -> list[Compute]:
        return [records.Compute.from_dict(c) for c in self._call("compute.list")]

    def get(self, name: str) -> Compute:
        return records.Compute.from_dict(self._call("compute.get", name=name))

    def start(self, name: str) -> Operation:
        return records.Operation.from_dict(self._call("compute.start", name=name))

    def stop(self, name: str) -> Operation:
        return records.Operation.from_dict(self._call("compute.stop", name=name))

    def sizes(self) -> list[VmSize]:
        return [records.VmSize.from_dict(s) for s in self._call("compute.sizes")]

    def costs_today(self) -> list[ComputeCost]:
        """Per compute: node-seconds, idle node-seconds and their cost today (UTC)."""
        return [records.ComputeCost.from_dict(row) for row in self._call("compute.costs")]


class LocalQuotas(_Group, of=QuotaOperations):
    def usage(self) -> list[QuotaUsage]:
        return [records.QuotaUsage.from_dict(q) for q in self._call("compute.usage")]

    def how_to_raise(self, family: str) -> str:
        from console.costs import how_to_raise

        return how_to_raise(family, str(self.ws.folder.config_file))


class LocalModels(_Group, of=ModelOperations):
    def list(self, name: str | None = None) -> list[ModelVersion]:
        return [records.ModelVersion.from_dict(m) for m in self._call("models.list", name=name)]

    def register(self, name: str, *, job: str | None = None, path: str | None = None,
                 description: str | None = None) -> ModelVersion:
        resolved = str(Path(path).resolve()) if path else None
        return records.ModelVersion.from_dict(self._call("models.register", name=name, job=job, path=resolved,
                                                 description=description))


class LocalAssets(_Group, of=AssetOperations):
    """`create -f` for compute, data and environment specs; lists of versioned assets."""

    def create(self, spec_path: str, overrides: Mapping[str, Any] | None = None, *,
               endpoint_name: str | None = None) -> Created:
        return records.Created.from_dict(self._call(
            "assets.create", spec_path=str(Path(spec_path).resolve()), overrides=dict(overrides or {}),
            endpoint_name=endpoint_name))

    def list(self, kind: str) -> list[AssetVersion]:
        return [records.AssetVersion.from_dict(row) for row in self._call("assets.list", kind=kind)]


class LocalEndpoints(_Group, of=EndpointOperations):
    def list(self) -> list[Endpoint]:
        return [records.Endpoint.from_dict(e) for e in self._call("endpoints.list")]

    def get(self, name: str) -> Endpoint:
        return records.Endpoint.from_dict(self._call("endpoints.get", name=name))

    def create(self, spec_path: str, overrides: Mapping[str, Any] | None = None) -> Operation:
        return self._create(spec_path, overrides, "online_endpoint")

    def create_deployment(self, spec_path: str, overrides: Mapping[str, Any] | None = None, *,
                          endpoint_name: str | None = None) -> Operation:
        return self._create(spec_path, overrides, "online_deployment", endpoint_name)

    def _create(self, spec_path: str, overrides: Mapping[str, Any] | None, kind: str,
                endpoint_name: str | None = None) -> Operation:
        # `expect`: a spec of another kind is refused before anything is created.
        created = self._call("assets.create", spec_path=str(Path(spec_path).resolve()),
                             overrides=dict(overrides or {}), endpoint_name=endpoint_name, expect=kind)
        return records.Operation.from_dict(created["operation"])

    def set_traffic(self, name: str, traffic: Mapping[str, int], *,
                    expected: Mapping[str, int] | None = None) -> Operation:
        return records.Operation.from_dict(self._call("endpoints.set_traffic", name=name, traffic=dict(traffic),
                                                      expected=_split_or_none(expected)))

    def set_mirror(self, name: str, mirror: Mapping[str, int], *,
                   expected: Mapping[str, int] | None = None) -> Operation:
        return records.Operation.from_dict(self._call("endpoints.set_mirror", name=name, mirror=dict(mirror),
                                                      expected=_split_or_none(expected)))

    def rollback(self, name: str, *, expected: Mapping[str, int] | None = None) -> Operation:
        return records.Operation.from_dict(self._call("endpoints.rollback", name=name,
                                                      expected=_split_or_none(expected)))

    def delete(self, name: str) -> Operation:
        return records.Operation.from_dict(self._call("endpoints.delete", name=name))

    def delete_deployment(self, name: str, deployment: str) -> Operation:
        return records.Operation.from_dict(self._call("endpoints.delete_deployment", name=name, deployment=deployment))

    def keys(self, name: str) -> EndpointKeys:
        return records.EndpointKeys.from_dict(self._call("endpoints.keys", name=name))

    def regenerate_keys(self, name: str, key_type: str = "primary") -> Operation:
        return records.Operation.from_dict(self._call("endpoints.regenerate_keys", name=name, key_type=key_type))

    def deployment_logs(self, name: str, deployment: str, *, lines: int = 200) -> str:
        return self._call("endpoints.deployment_logs", name=name, deployment=deployment, lines=lines)

    def invoke(self, name: str, body: bytes | str, *, deployment: str | None = None) -> InvokeResult:
        """Score through the endpoint's router, as a client would (the daemon is not in the path)."""
        endpoint = self.get(name)
        if not endpoint.scoring_uri:
            raise BackendUnavailable(f"endpoint '{name}' has no scoring URI yet")
        return score(endpoint.scoring_uri, self.keys(name).primary, body, deployment=deployment)

    def metrics(self, name: str, *, window_s: int | None = None) -> list[DeploymentMetrics]:
        return [records.DeploymentMetrics.from_dict(m) for m in self._call("endpoints.metrics", name=name, window_s=window_s)]


def _split_or_none(split: Mapping[str, int] | None) -> dict[str, int] | None:
    return None if split is None else dict(split)


def score(uri: str, key: str | None, body: bytes | str, *, deployment: str | None = None,
          timeout_s: float = 30.0) -> InvokeResult:
    """One scoring request; HTTP errors come back as results, not exceptions."""
    import urllib.error
    import urllib.request

    data = body.encode() if isinstance(body, str) else body
    headers = {"content-type": "application/json"}
    if key:
        headers["authorization"] = f"Bearer {key}"
    if deployment:
        headers["azureml-model-deployment"] = deployment
    request = urllib.request.Request(uri, data=data, headers=headers, method="POST")
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as reply:
            status, payload, reply_headers = reply.status, reply.read(), dict(reply.headers)
    except urllib.error.HTTPError as err:
        status, payload, reply_headers = err.code, err.read(), dict(err.headers)
    except (urllib.error.URLError, OSError) as err:
        raise BackendUnavailable(f"cannot reach {uri}: {err}") from None
    latency = (time.perf_counter() - start) * 1000
    return records.InvokeResult(status_code=status, body=payload.decode(errors="replace"),
                        deployment=reply_headers.get("azureml-model-deployment"), latency_ms=latency,
                        headers={k.lower(): v for k, v in reply_headers.items()})


class LocalMonitors(_Group, of=MonitorOperations):
    def list(self) -> list[Monitor]:
        return [records.Monitor.from_dict(m) for m in self._call("monitors.list")]

    def run(self, name: str, *, window_start: datetime | None = None,
            window_end: datetime | None = None) -> Operation:
        return records.Operation.from_dict(self._call(
            "monitors.run", name=name, window_start=window_start.isoformat() if window_start else None,
            window_end=window_end.isoformat() if window_end else None))

    def latest(self, name: str) -> DriftReport | None:
        report = self._call("monitors.latest", name=name)
        return records.DriftReport.from_dict(report) if report else None

    def for_endpoint(self, endpoint: str, deployment: str | None = None) -> list[Monitor]:
        return [records.Monitor.from_dict(m) for m in self._call("monitors.for_endpoint", endpoint=endpoint,
                                                         deployment=deployment)]


class LocalRollouts(_Group, of=RolloutOperations):
    """Hosted by the daemon (console/local/rollouts.py): they go on with the console closed."""

    def list(self) -> list[Rollout]:
        return [records.Rollout.from_dict(r) for r in self._call("rollouts.list")]

    def get(self, endpoint: str) -> Rollout:
        return records.Rollout.from_dict(self._call("rollouts.get", endpoint=endpoint))

    def start(self, plan_path: str) -> Rollout:
        return records.Rollout.from_dict(self._call("rollouts.start", plan_path=str(Path(plan_path).resolve())))

    def command(self, endpoint: str, verb: str, reason: str = "") -> Rollout:
        return records.Rollout.from_dict(self._call("rollouts.command", endpoint=endpoint, verb=verb, reason=reason))


class LocalAudit(_Group, of=AuditOperations):
    def list(self, *, limit: int | None = None, since: datetime | None = None) -> list[AuditEntry]:
        rows = self._call("audit.list", limit=limit, since=since.isoformat() if since else None)
        return [records.AuditEntry.from_dict(r) for r in rows]


class LocalOperations(_Group, of=OperationsOperations):
    def list(self, *, limit: int | None = None) -> list[Operation]:
        """Long-running writes, newest first (`amlops operation list`)."""
        return [records.Operation.from_dict(op) for op in self._call("operations.list", limit=limit)]

    def get(self, id: str) -> Operation:
        return records.Operation.from_dict(self._call("operations.get", id=id))

    def wait(self, id: str, *, timeout_s: float | None = None) -> Operation:
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            op = self.get(id)
            if op.done or (deadline is not None and time.monotonic() >= deadline):
                return op
            time.sleep(0.1)


class LocalWorkspace:
    """The embedded local workspace, backed by its daemon. Beyond the Workspace protocol it has
    a `folder` (what `local up/down` and the demo load work on): code that needs it takes a
    LocalWorkspace explicitly."""

    backend = "local"
    capabilities = CAPABILITIES  # everything: the local workspace is the reference backend
    unsupported: Mapping[str, str] = {}
    cadence = DEFAULT_CADENCE

    def __init__(self, root: Path, *, read_only: bool = False, autostart: bool = True) -> None:
        self.folder = WorkspaceFolder(root)
        self.name = root.name
        self.location = str(self.folder.root)
        self.connection = DaemonConnection(self.folder, autostart=autostart)
        self.read_only = read_only or bool(self.folder.config.get("read_only", False))
        self.jobs = LocalJobs(self)
        self.compute = LocalCompute(self)
        self.quotas = LocalQuotas(self)
        self.models = LocalModels(self)
        self.assets = LocalAssets(self)
        self.endpoints = LocalEndpoints(self)
        self.monitors = LocalMonitors(self)
        self.audit = LocalAudit(self)
        self.operations = LocalOperations(self)
        self.rollouts = LocalRollouts(self)

    def throttled_for(self) -> float | None:
        return None  # nothing throttles it

    def close(self) -> None:
        """Nothing to release: each call opens its own connection."""


def open_local(*, root: Path, read_only: bool = False) -> LocalWorkspace:
    """The registry's builder (`console.workspace.open_workspace("local", root=...)`)."""
    return LocalWorkspace(root, read_only=read_only)

