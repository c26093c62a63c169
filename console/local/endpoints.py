"""Online endpoints in the local workspace: the control plane of real serving.

An endpoint is a router process (`serving/router.py`) on its own 127.0.0.1 port; a deployment is
`instance_count` real `mlflow models serve` processes. This service creates them from specs,
supervises the instances (restarts one that dies, probes readiness and liveness with the spec's
settings), pushes the set of ready instances and the traffic to the router, and checks every
traffic change against Azure's rules (`console/rollout.py`) before the router sees it.

The router and the instances run in their own sessions: they outlive the daemon, and a restarted
daemon adopts them with their traffic as it was. Keys live only in the router's config file (0600).
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from console import costs, rollout, specs
from console.domain import Deployment, DeploymentMetrics, Endpoint, Traffic
from console.errors import BadInput, InvalidField, NotFound, NotSupported, OperationFailed
from console.local.assets import parse_ref
from console.local.procs import alive, free_port, signal_group, start_time, stop_group
from console.local.serving.metrics import WINDOWS_S
from console.naming import check_name

if TYPE_CHECKING:
    from console.local.context import Context
    from console.local.ledger import Ledger
    from console.local.rpc import Request
    from console.local.tracking import Tracking

log = logging.getLogger("amlops.serving")

PROBE_DEFAULTS = {"initial_delay": 10, "period": 10, "timeout": 2, "failure_threshold": 30, "success_threshold": 1}
ROUTER_START_TIMEOUT_S = 15
MAX_EARLY_EXITS = 3  # an instance that dies this often before it is ever ready fails the deployment


class EndpointService:
    def __init__(self, ctx: Context, ledger: Ledger, tracking: Tracking) -> None:
        self.ctx = ctx
        self.store = ctx.store
        self.ledger = ledger
        self.tracking = tracking
        self.root = ctx.folder.root / "endpoints"
        self.root.mkdir(mode=0o700, exist_ok=True)
        self._probes: dict[tuple[str, str, int], dict[str, Any]] = {}
        self._procs: dict[tuple[str, str, int], subprocess.Popen[bytes]] = {}
        self._push_lock = threading.Lock()
        # Held by each supervision pass and around every start of an instance and every mark
        # of a deployment as Deleting: a restart can then never race a delete and leave a
        # scoring server nobody knows about.
        self._lifecycle = threading.RLock()
        self._last_accrual: datetime | None = None
        self.suspended = False  # set by stop_all: nothing is started or restarted any more

    def rpc_methods(self) -> dict[str, tuple[Any, bool]]:
        return {"list": (self.list, False), "get": (self.get, False), "create": (self.create, True),
                "create_deployment": (self.create_deployment, True), "set_traffic": (self.set_traffic, True),
                "set_mirror": (self.set_mirror, True), "rollback": (self.rollback, True),
                "delete_deployment": (self.delete_deployment, True), "delete": (self.delete, True),
                "keys": (self.keys, False), "regenerate_keys": (self.regenerate_keys, True),
                "metrics": (self.metrics, False), "deployment_logs": (self.deployment_logs, False)}

    # --- reads -------------------------------------------------------------------------------

    def list(self, req: Request) -> list[dict[str, Any]]:
        return [self._record(row).to_dict() for row in self.store.rows("SELECT * FROM endpoints ORDER BY name")]

    def get(self, req: Request | None, name: str) -> dict[str, Any]:
        return self._record(self._endpoint(name)).to_dict()

    def keys(self, req: Request, name: str) -> dict[str, str]:
        self._endpoint(name)
        return dict(self._config(name)["keys"])

    def deployment_logs(self, req: Request, name: str, deployment: str, lines: int = 200) -> str:
        self._deployment(name, deployment)
        out = []
        for path in sorted((self.root / name / deployment).glob("instance-*.log")):
            tail = path.read_text(errors="replace").splitlines()[-lines:]
            out.append(f"==> {path.name} <==\n" + "\n".join(tail))
        return "\n".join(out)

    def metrics(self, req: Request, name: str, window_s: int = 60) -> list[dict[str, Any]]:
        row = self._endpoint(name)
        if int(window_s) not in WINDOWS_S:  # zeros for a window the router does not keep would be invented
            raise InvalidField("window_s", f"{window_s}: the router keeps windows of {' and '.join(map(str, WINDOWS_S))} s")
        data = self._router_call(row, "GET", "/-/metrics")
        out = []
        for deployment, figures in sorted((data.get("deployments") or {}).items()):
            window = figures.get(str(int(window_s))) or {}
            out.append(DeploymentMetrics(
                endpoint_name=name, deployment=deployment, window_s=int(window_s),
                requests=int(window.get("requests", 0)), rps=float(window.get("rps", 0.0)),
                success_rate=window.get("success_rate"), p50_ms=window.get("p50_ms"),
                p95_ms=window.get("p95_ms"), p99_ms=window.get("p99_ms"),
                latency_series_ms=tuple(x for x in figures.get("series_p50_ms") or [] if x is not None),
            ).to_dict())
        return out

    # --- endpoints ---------------------------------------------------------------------------

    def create(self, req: Request, spec: specs.Spec, data: dict[str, Any]) -> dict[str, Any]:
        name = check_name("endpoint", data.get("name"))
        auth_mode = str(data.get("auth_mode", "key")).lower()
        if auth_mode not in ("key", "aml_token"):
            raise InvalidField("auth_mode", f"{auth_mode!r}: use key or aml_token")
        if data.get("traffic") and any(int(v) > 0 for v in data["traffic"].values()):
            raise InvalidField("traffic", "a new endpoint has no deployments to send traffic to: create it "
                                          "without traffic, then `amlops endpoint traffic` once they are ready")
        existing = self.store.row("SELECT * FROM endpoints WHERE name = ?", (name,))
        if existing:
            if existing["auth_mode"] != auth_mode:
                raise BadInput(f"endpoint '{name}' exists with auth_mode {existing['auth_mode']}; "
                               "auth_mode cannot change")
            op = self.ctx.new_operation("endpoints.create", name, "Succeeded")
            return {"kind": "online_endpoint", "operation": op, **self.get(req, name)}
        folder = self.root / name
        folder.mkdir(mode=0o700, exist_ok=True)
        config = {"endpoint": name, "host": "127.0.0.1", "port": 0, "auth_mode": auth_mode,
                  "keys": {"primary": secrets.token_urlsafe(32), "secondary": secrets.token_urlsafe(32)},
                  "admin_token": secrets.token_urlsafe(32), "collect_dir": str(self.ctx.folder.collected_dir),
                  "traffic": {}, "mirror": {}, "deployments": {}, "version": 1}
        _write_private(folder / "router.json", config)
        now = self.ctx.clock.now().isoformat()
        with self.store.transaction():
            self.store.insert("endpoints", {"name": name, "auth_mode": auth_mode, "provisioning_state": "Creating",
                                            "traffic": {}, "mirror": {}, "spec": data, "created_at": now})
            self.ctx.audit(req, "endpoints.create", name, after={"auth_mode": auth_mode}, detail=spec.path)
        try:
            self._start_router(name)
        except OperationFailed:
            self.store.update("endpoints", {"name": name}, {"provisioning_state": "Failed"})
            raise
        self.store.update("endpoints", {"name": name}, {"provisioning_state": "Succeeded"})
        op = self.ctx.new_operation("endpoints.create", name, "Succeeded")
        return {"kind": "online_endpoint", "operation": op, **self.get(req, name)}

    def delete(self, req: Request, name: str) -> dict[str, Any]:
        self._endpoint(name)
        op = self.ctx.new_operation("endpoints.delete", name)
        before = self.get(req, name)
        with self._lifecycle, self.store.transaction():
            self.store.update("endpoints", {"name": name}, {"provisioning_state": "Deleting"})
            self.store.execute("UPDATE deployments SET provisioning_state = 'Deleting' WHERE endpoint = ?", (name,))
        self._finish_delete(self._endpoint(name))
        with self.store.transaction():
            self.ctx.audit(req, "endpoints.delete", name, before=before)
            self.ctx.finish_operation(op["id"])
        return {**op, "status": "Succeeded"}

    def _finish_delete(self, row: dict[str, Any]) -> None:
        """Stop what a Deleting endpoint still runs (instances first, then the router) and forget it."""
        name = row["name"]
        for dep in self.store.rows("SELECT name FROM deployments WHERE endpoint = ?", (name,)):
            self._stop_instances(name, dep["name"])
        stop_group(row["router_pid"], row["router_pid_start"])
        with self.store.transaction():
            self.store.execute("DELETE FROM instances WHERE endpoint = ?", (name,))
            self.store.execute("DELETE FROM deployments WHERE endpoint = ?", (name,))
            self.store.execute("DELETE FROM endpoints WHERE name = ?", (name,))
        shutil.rmtree(self.root / name, ignore_errors=True)

    def regenerate_keys(self, req: Request, name: str, key_type: str = "primary") -> dict[str, Any]:
        if key_type not in ("primary", "secondary"):
            raise InvalidField("key_type", "primary or secondary")
        row = self._endpoint(name)
        config = self._config(name)
        config["keys"][key_type] = secrets.token_urlsafe(32)
        self._push(row, config)
        self.ctx.audit(req, "endpoints.regenerate_keys", name, detail=f"{key_type} key regenerated")
        return self.ctx.new_operation("endpoints.regenerate_keys", name, "Succeeded")

    # --- deployments -------------------------------------------------------------------------

    def create_deployment(self, req: Request, spec: specs.Spec, data: dict[str, Any]) -> dict[str, Any]:
        name = check_name("deployment", data.get("name"))
        endpoint = check_name("endpoint", data.get("endpoint_name"), "endpoint_name")
        self._endpoint(endpoint)
        existing = [r["name"] for r in self.store.rows("SELECT name FROM deployments WHERE endpoint = ?", (endpoint,))]
        if name in existing:
            raise BadInput(f"deployment '{name}' already exists on '{endpoint}'; delete it first to change it "
                           "(in-place updates are not supported locally)")
        rollout.check_new_deployment(name, existing)
        model_ref, model_uri = self._resolve_model(data.get("model"), spec)
        size = costs.size(str(data.get("instance_type") or ""))
        if size is None:
            raise InvalidField("instance_type", f"unknown VM size {data.get('instance_type')!r}")
        count = int(data.get("instance_count") or 1)
        if count < 1:
            raise InvalidField("instance_count", "at least 1")
        # Azure reserves 20 % extra instances for upgrades; the check counts what is held now.
        self.ledger.check_quota(size.name, count, reserve=costs.online_reserve(size.name))
        settings = data.get("request_settings") or {}
        data["request_settings"] = {"request_timeout_ms": int(settings.get("request_timeout_ms", 5000)),
                                    "max_concurrent_requests_per_instance":
                                        int(settings.get("max_concurrent_requests_per_instance", 1))}
        for probe in ("liveness_probe", "readiness_probe"):
            data[probe] = {**PROBE_DEFAULTS, **{k: v for k, v in (data.get(probe) or {}).items() if v is not None}}
        op = self.ctx.new_operation("endpoints.create_deployment", f"{endpoint}/{name}")
        now = self.ctx.clock.now().isoformat()
        folder = self.root / endpoint / name
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        with self.store.transaction():
            self.store.insert("deployments", {
                "endpoint": endpoint, "name": name, "model": model_ref, "model_uri": model_uri,
                "instance_type": size.name, "instance_count": count, "provisioning_state": "Creating",
                "spec": data, "operation_id": op["id"], "created_at": now})
            for idx in range(count):
                self.store.insert("instances", {"endpoint": endpoint, "deployment": name, "idx": idx,
                                                "port": free_port(), "ready": 0, "restarts": 0})
            self.ctx.audit(req, "endpoints.create_deployment", f"{endpoint}/{name}",
                         after={"model": model_ref, "instance_type": size.name, "instance_count": count,
                                "traffic": 0}, detail=spec.path)
        threading.Thread(target=self._provision, args=(endpoint, name), daemon=True,
                         name=f"provision-{endpoint}-{name}").start()
        return op

    def _provision(self, endpoint: str, name: str) -> None:
        """Download the model once, then start the instances; readiness completes the operation."""
        row = self._deployment(endpoint, name)
        try:
            target = self.root / endpoint / name / "model"
            if not (target / "MLmodel").exists():
                import mlflow.artifacts

                self.tracking.client()  # sets the tracking URI for models:/ resolution
                mlflow.artifacts.download_artifacts(artifact_uri=row["model_uri"], dst_path=str(target))
            with self._lifecycle:
                for inst in self.store.rows("SELECT * FROM instances WHERE endpoint = ? AND deployment = ?",
                                            (endpoint, name)):
                    self._start_instance(inst)
        except Exception as err:
            log.exception("provisioning %s/%s", endpoint, name)
            self._fail(endpoint, name, f"provisioning failed: {err}")

    def delete_deployment(self, req: Request, name: str, deployment: str) -> dict[str, Any]:
        row = self._endpoint(name)
        self._deployment(name, deployment)
        rollout.check_delete(deployment, row["traffic"], row["mirror"])
        op = self.ctx.new_operation("endpoints.delete_deployment", f"{name}/{deployment}")
        with self._lifecycle, self.store.transaction():
            before = self._deployment(name, deployment)
            self.store.update("deployments", {"endpoint": name, "name": deployment}, {"provisioning_state": "Deleting"})
        self._push(row)  # the router forgets it before its instances go
        self._stop_instances(name, deployment)
        with self.store.transaction():
            self.store.execute("DELETE FROM instances WHERE endpoint = ? AND deployment = ?", (name, deployment))
            self.store.execute("DELETE FROM deployments WHERE endpoint = ? AND name = ?", (name, deployment))
            traffic = {k: v for k, v in row["traffic"].items() if k != deployment}
            self.store.update("endpoints", {"name": name}, {"traffic": traffic})
            self.ctx.audit(req, "endpoints.delete_deployment", f"{name}/{deployment}",
                         before={"model": before["model"], "instance_count": before["instance_count"]})
            self.ctx.finish_operation(op["id"])
        shutil.rmtree(self.root / name / deployment, ignore_errors=True)
        return {**op, "status": "Succeeded"}

    # --- traffic -----------------------------------------------------------------------------

    def set_traffic(self, req: Request, name: str, traffic: dict[str, Any]) -> dict[str, Any]:
        row = self._endpoint(name)
        names = self._deployment_names(name)
        split = rollout.check_traffic(traffic, names, row["mirror"])
        return self._apply(req, row, "endpoints.set_traffic", traffic=split)

    def set_mirror(self, req: Request, name: str, mirror: dict[str, Any]) -> dict[str, Any]:
        row = self._endpoint(name)
        clean = rollout.check_mirror(mirror, row["traffic"], self._deployment_names(name))
        return self._apply(req, row, "endpoints.set_mirror", mirror=clean)

    def rollback(self, req: Request, name: str) -> dict[str, Any]:
        row = self._endpoint(name)
        split = rollout.rollback_split(self._deployment_names(name), row["full_history"], row["traffic"])
        return self._apply(req, row, "endpoints.rollback", traffic=split, mirror={})

    def _apply(self, req: Request, row: dict[str, Any], operation: str, *, traffic: dict[str, int] | None = None,
               mirror: dict[str, int] | None = None) -> dict[str, Any]:
        """Push the new split to the router first; record it only once the router took it."""
        name = row["name"]
        new_traffic = row["traffic"] if traffic is None else traffic
        new_mirror = row["mirror"] if mirror is None else mirror
        self._push({**row, "traffic": new_traffic, "mirror": new_mirror})
        history = rollout.record_full(row["full_history"], new_traffic)
        with self.store.transaction():
            self.store.update("endpoints", {"name": name},
                              {"traffic": new_traffic, "mirror": new_mirror, "full_history": history})
            self.ctx.audit(req, operation, name, before={"traffic": row["traffic"], "mirror": row["mirror"]},
                         after={"traffic": new_traffic, "mirror": new_mirror})
        return self.ctx.new_operation(operation, name, "Succeeded")

    # --- the router ----------------------------------------------------------------------------

    def _config(self, name: str) -> dict[str, Any]:
        return json.loads((self.root / name / "router.json").read_text())

    def _router_config(self, row: dict[str, Any], base: dict[str, Any] | None = None) -> dict[str, Any]:
        """The router's config from the database: traffic, mirror and each deployment's ready instances."""
        config = base or self._config(row["name"])
        deployments = {}
        for dep in self.store.rows("SELECT * FROM deployments WHERE endpoint = ? AND provisioning_state != 'Deleting'",
                                   (row["name"],)):
            ready = self.store.rows("SELECT port FROM instances WHERE endpoint = ? AND deployment = ? AND ready = 1 "
                                    "ORDER BY idx", (row["name"], dep["name"]))
            settings = dep["spec"]["request_settings"]
            collections = (dep["spec"].get("data_collector") or {}).get("collections") or {}
            deployments[dep["name"]] = {
                "instances": [f"http://127.0.0.1:{r['port']}" for r in ready],
                "request_timeout_ms": settings["request_timeout_ms"],
                "max_concurrent_requests_per_instance": settings["max_concurrent_requests_per_instance"],
                "instance_count": dep["instance_count"],
                "collect": [c for c in ("model_inputs", "model_outputs")
                            if str((collections.get(c) or {}).get("enabled", "false")).lower() == "true"],
            }
        live = {k: v for k, v in row["traffic"].items() if k in deployments}
        return {**config, "traffic": live, "mirror": {k: v for k, v in row["mirror"].items() if k in deployments},
                "deployments": deployments, "version": int(config.get("version", 0)) + 1}

    def _push(self, row: dict[str, Any], base: dict[str, Any] | None = None) -> None:
        with self._push_lock:
            config = self._router_config(row, base)
            self._router_call(row, "PUT", "/-/config", config)
            _write_private(self.root / row["name"] / "router.json", config)

    def _router_call(self, row: dict[str, Any], method: str, path: str, body: Any = None) -> Any:
        if not row.get("port"):
            raise OperationFailed(f"endpoint '{row['name']}' has no running router")
        token = self._config(row["name"])["admin_token"]
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"http://127.0.0.1:{row['port']}{path}", data=data, method=method,
                                         headers={"x-amlops-admin-token": token, "content-type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=5) as reply:
                return json.loads(reply.read() or b"null")
        except urllib.error.HTTPError as err:
            detail = err.read().decode(errors="replace")[:300]
            if err.code == 400:
                raise BadInput(f"the router refused the change: {detail}") from None
            raise OperationFailed(f"router of '{row['name']}' answered {err.code}: {detail}") from None
        except (urllib.error.URLError, OSError) as err:
            raise OperationFailed(f"router of '{row['name']}' is unreachable: {err}") from None

    def _start_router(self, name: str) -> None:
        folder = self.root / name
        state = folder / "router.state.json"
        state.unlink(missing_ok=True)
        with open(folder / "router.log", "ab") as out:
            proc = subprocess.Popen([sys.executable, "-m", "console.local.serving.router", "--config",
                                     str(folder / "router.json")], cwd=folder, stdin=subprocess.DEVNULL,
                                    stdout=out, stderr=out, start_new_session=True, env=_serving_env())
        deadline = time.monotonic() + ROUTER_START_TIMEOUT_S
        while time.monotonic() < deadline:
            if state.exists():
                try:
                    info = json.loads(state.read_text())
                except ValueError:
                    info = None  # being written
                if info and info.get("pid") == proc.pid:
                    self.store.update("endpoints", {"name": name}, {
                        "router_pid": proc.pid, "router_pid_start": start_time(proc.pid), "port": info["port"]})
                    return
            if proc.poll() is not None:
                break
            time.sleep(0.05)
        tail = (folder / "router.log").read_text(errors="replace")[-500:]
        raise OperationFailed(f"the router of '{name}' did not start:\n{tail}")

    # --- instances ---------------------------------------------------------------------------

    def _start_instance(self, inst: dict[str, Any]) -> None:
        """Start one `mlflow models serve` instance, unless its deployment is being deleted, has
        failed or is gone, or the service is suspended (checked under the lifecycle lock)."""
        endpoint, name = inst["endpoint"], inst["deployment"]
        with self._lifecycle:
            state = self.store.scalar("SELECT provisioning_state FROM deployments WHERE endpoint = ? AND name = ?",
                                      (endpoint, name))
            if state is None or state in ("Deleting", "Failed") or self.suspended:
                return
            self._spawn_instance(inst)

    def _spawn_instance(self, inst: dict[str, Any]) -> None:
        endpoint, name, idx = inst["endpoint"], inst["deployment"], inst["idx"]
        folder = self.root / endpoint / name
        mlflow_bin = Path(sys.executable).parent / "mlflow"
        with open(folder / f"instance-{idx}.log", "ab") as out:
            proc = subprocess.Popen(
                [str(mlflow_bin), "models", "serve", "-m", str(folder / "model"), "--env-manager", "local",
                 "-h", "127.0.0.1", "-p", str(inst["port"]), "-w", "1"],
                cwd=folder, stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True,
                env=_serving_env())
        key = (endpoint, name, idx)
        self._procs[key] = proc
        self._probes[key] = {"started": time.monotonic(), "ok": 0, "fail": 0, "live_fail": 0, "next": 0.0}
        self.store.update("instances", {"endpoint": endpoint, "deployment": name, "idx": idx},
                          {"pid": proc.pid, "pid_start": start_time(proc.pid), "ready": 0,
                           "started_at": self.ctx.clock.now().isoformat()})

    def _stop_instances(self, endpoint: str, name: str) -> list[int]:
        """Stop every instance of a deployment and wait until each process group is gone;
        returns the pids that were running."""
        stopped = []
        for inst in self.store.rows("SELECT * FROM instances WHERE endpoint = ? AND deployment = ?", (endpoint, name)):
            key = (endpoint, name, inst["idx"])
            self._probes.pop(key, None)
            if stop_group(inst["pid"], inst["pid_start"], proc=self._procs.pop(key, None)):
                stopped.append(inst["pid"])
            self.store.update("instances", {"endpoint": endpoint, "deployment": name, "idx": inst["idx"]},
                              {"pid": None, "ready": 0})
        return stopped

    def _fail(self, endpoint: str, name: str, error: str) -> None:
        row = self.store.row("SELECT operation_id FROM deployments WHERE endpoint = ? AND name = ?", (endpoint, name))
        with self.store.transaction():
            self.store.update("deployments", {"endpoint": endpoint, "name": name},
                              {"provisioning_state": "Failed", "error": error})
            if row and row["operation_id"]:
                self.ctx.finish_operation(row["operation_id"], "Failed", error)
        self._stop_instances(endpoint, name)

    # --- supervision (the serving loop) ------------------------------------------------------

    def supervise(self) -> None:
        """One pass: restart dead instances, probe, update readiness, push changes to routers."""
        with self._lifecycle:
            if not self.suspended:
                self._supervise()

    def _supervise(self) -> None:
        changed: set[str] = set()
        now = time.monotonic()
        for inst in self.store.rows("SELECT i.*, d.spec, d.provisioning_state FROM instances i JOIN deployments d "
                                    "ON d.endpoint = i.endpoint AND d.name = i.deployment"):
            if inst["provisioning_state"] in ("Failed", "Deleting") or not inst["pid"]:
                continue
            key = (inst["endpoint"], inst["deployment"], inst["idx"])
            proc = self._procs.get(key)
            dead = proc.poll() is not None if proc is not None else not alive(inst["pid"], inst["pid_start"])
            if dead:
                changed |= self._on_death(inst, key)
                continue
            changed |= self._probe(inst, key, now)
        for endpoint in changed:
            row = self.store.row("SELECT * FROM endpoints WHERE name = ?", (endpoint,))
            if row:
                try:
                    self._push(row)
                except Exception:
                    log.exception("pushing config to the router of %s", endpoint)
        self._settle_provisioning()

    def _on_death(self, inst: dict[str, Any], key: tuple[str, str, int]) -> set[str]:
        self._procs.pop(key, None)
        # `mlflow models serve` runs uvicorn as a child: if only the parent died, the orphan would
        # keep the port (and answer probes for a process we no longer supervise). End the group.
        try:
            os.killpg(inst["pid"], signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        restarts = inst["restarts"] + 1
        self.store.update("instances", {"endpoint": key[0], "deployment": key[1], "idx": key[2]},
                          {"ready": 0, "restarts": restarts, "pid": None})
        if inst["provisioning_state"] == "Creating" and restarts >= MAX_EARLY_EXITS:
            log_path = self.root / key[0] / key[1] / f"instance-{key[2]}.log"
            tail = log_path.read_text(errors="replace").strip().splitlines()[-3:] if log_path.exists() else []
            self._fail(key[0], key[1], "instance exited before it was ready: " + " | ".join(tail))
            return {key[0]}
        self._start_instance({**inst, "restarts": restarts})
        return {key[0]} if inst["ready"] else set()

    def _probe(self, inst: dict[str, Any], key: tuple[str, str, int], now: float) -> set[str]:
        state = self._probes.setdefault(key, {"started": now - 3600, "ok": 0, "fail": 0, "live_fail": 0, "next": 0.0})
        readiness, liveness = inst["spec"]["readiness_probe"], inst["spec"]["liveness_probe"]
        if now - state["started"] < min(readiness["initial_delay"], liveness["initial_delay"]) or now < state["next"]:
            return set()
        state["next"] = now + min(readiness["period"], liveness["period"])
        ok = _ping(inst["port"], readiness["timeout"])
        state["ok"], state["fail"] = (state["ok"] + 1, 0) if ok else (0, state["fail"] + 1)
        state["live_fail"] = 0 if ok else state["live_fail"] + 1
        if state["live_fail"] >= liveness["failure_threshold"]:
            log.warning("instance %s failed its liveness probe %d times: restarting", key, state["live_fail"])
            signal_group(inst["pid"], inst["pid_start"], signal.SIGKILL)
            return set()
        ready = inst["ready"]
        if not ready and state["ok"] >= readiness["success_threshold"]:
            ready = 1
        elif ready and state["fail"] >= readiness["failure_threshold"]:
            ready = 0
        if ready != inst["ready"]:
            self.store.update("instances", {"endpoint": key[0], "deployment": key[1], "idx": key[2]}, {"ready": ready})
            return {key[0]}
        return set()

    def _settle_provisioning(self) -> None:
        for dep in self.store.rows("SELECT * FROM deployments WHERE provisioning_state = 'Creating'"):
            ready = self.store.scalar("SELECT COUNT(*) FROM instances WHERE endpoint = ? AND deployment = ? AND ready = 1",
                                      (dep["endpoint"], dep["name"]))
            if ready == dep["instance_count"]:
                with self.store.transaction():
                    self.store.update("deployments", {"endpoint": dep["endpoint"], "name": dep["name"]},
                                      {"provisioning_state": "Succeeded"})
                    if dep["operation_id"]:
                        self.ctx.finish_operation(dep["operation_id"])

    def adopt(self) -> None:
        """After a daemon restart: keep routers and instances that still run, restart the rest;
        finish the deletes a stopped daemon left half done."""
        with self._lifecycle:
            self._adopt()

    def _adopt(self) -> None:
        for row in self.store.rows("SELECT * FROM endpoints WHERE provisioning_state = 'Deleting'"):
            self._finish_delete(row)
        for row in self.store.rows("SELECT * FROM endpoints"):
            if not (row["router_pid"] and alive(row["router_pid"], row["router_pid_start"])):
                log.warning("router of %s is gone: restarting it from its config", row["name"])
                try:
                    self._start_router(row["name"])
                except OperationFailed:
                    log.exception("restarting the router of %s", row["name"])
        for inst in self.store.rows("SELECT i.*, d.provisioning_state FROM instances i JOIN deployments d "
                                    "ON d.endpoint = i.endpoint AND d.name = i.deployment"):
            if inst["provisioning_state"] in ("Failed", "Deleting"):
                continue
            if inst["pid"] and alive(inst["pid"], inst["pid_start"]):
                continue  # adopted: its readiness stands until a probe says otherwise
            self._start_instance(inst)

    def stop_all(self) -> list[dict[str, Any]]:
        """Stop every scoring instance and router of the workspace, keeping the endpoints and
        deployments: the next daemon start adopts them and starts them again. Returns what was
        stopped, one {"kind", "name", "pid"} each. Nothing is started after this (suspended)."""
        stopped: list[dict[str, Any]] = []
        with self._lifecycle:
            self.suspended = True
        for row in self.store.rows("SELECT * FROM endpoints ORDER BY name"):
            for dep in self.store.rows("SELECT name FROM deployments WHERE endpoint = ? ORDER BY name", (row["name"],)):
                stopped += [{"kind": "instance", "name": f"{row['name']}/{dep['name']}", "pid": pid}
                            for pid in self._stop_instances(row["name"], dep["name"])]
            if stop_group(row["router_pid"], row["router_pid_start"]):
                stopped.append({"kind": "router", "name": row["name"], "pid": row["router_pid"]})
            self.store.update("endpoints", {"name": row["name"]}, {"router_pid": None, "router_pid_start": None})
        return stopped

    def processes(self) -> list[dict[str, Any]]:
        """The routers and scoring instances that run now, one {"kind", "name", "pid"} each."""
        found = [{"kind": "router", "name": r["name"], "pid": r["router_pid"]}
                 for r in self.store.rows("SELECT name, router_pid, router_pid_start FROM endpoints ORDER BY name")
                 if r["router_pid"] and alive(r["router_pid"], r["router_pid_start"])]
        found += [{"kind": "instance", "name": f"{i['endpoint']}/{i['deployment']}", "pid": i["pid"]}
                  for i in self.store.rows("SELECT * FROM instances ORDER BY endpoint, deployment, idx")
                  if i["pid"] and alive(i["pid"], i["pid_start"])]
        return found

    def run(self) -> None:
        self.adopt()
        while not self.ctx.stopping.is_set():
            try:
                self.supervise()
            except Exception:
                log.exception("serving loop failed")
            self.ctx.stopping.wait(0.5)

    # --- helpers -----------------------------------------------------------------------------

    def _resolve_model(self, ref: Any, spec: specs.Spec) -> tuple[str, str]:
        if not isinstance(ref, str) or not ref.startswith("azureml:"):
            raise NotSupported("local", f"model {ref!r}", "use a registered model: azureml:NAME:VERSION")
        name, version, label = parse_ref(ref)
        from mlflow.exceptions import MlflowException

        client = self.tracking.client()
        try:
            if version is None:
                versions = client.search_model_versions(f"name = '{name}'")
                if not versions:
                    raise NotFound("model", name)
                version = str(max(int(v.version) for v in versions))
            client.get_model_version(name, version)
        except MlflowException:
            raise NotFound("model", f"{name}:{version}") from None
        return f"{name}:{version}", f"models:/{name}/{version}"

    def _deployment_names(self, endpoint: str) -> list[str]:
        return [r["name"] for r in self.store.rows(
            "SELECT name FROM deployments WHERE endpoint = ? AND provisioning_state != 'Deleting' ORDER BY name",
            (endpoint,))]

    def _endpoint(self, name: str) -> dict[str, Any]:
        row = self.store.row("SELECT * FROM endpoints WHERE name = ?", (name,))
        if row is None:
            raise NotFound("endpoint", name)
        return row

    def _deployment(self, endpoint: str, name: str) -> dict[str, Any]:
        row = self.store.row("SELECT * FROM deployments WHERE endpoint = ? AND name = ?", (endpoint, name))
        if row is None:
            raise NotFound("deployment", f"{endpoint}/{name}")
        return row

    def _record(self, row: dict[str, Any]) -> Endpoint:
        deployments = []
        spent = {r["deployment"]: r["cost"] for r in self.store.rows(
            "SELECT deployment, cost FROM deployment_usage WHERE endpoint = ? AND day = ?",
            (row["name"], self.ctx.clock.now().date().isoformat()))}
        for dep in self.store.rows("SELECT * FROM deployments WHERE endpoint = ? ORDER BY name", (row["name"],)):
            ready = self.store.scalar("SELECT COUNT(*) FROM instances WHERE endpoint = ? AND deployment = ? AND ready = 1",
                                      (row["name"], dep["name"]))
            settings = dep["spec"].get("request_settings") or {}
            collections = (dep["spec"].get("data_collector") or {}).get("collections") or {}
            deployments.append(Deployment(
                endpoint_name=row["name"], name=dep["name"], model=dep["model"], instance_type=dep["instance_type"],
                instance_count=dep["instance_count"], provisioning_state=dep["provisioning_state"],
                ready_instances=ready or 0, request_timeout_ms=settings.get("request_timeout_ms", 5000),
                max_concurrent_requests_per_instance=settings.get("max_concurrent_requests_per_instance", 1),
                data_collection=tuple(c for c in ("model_inputs", "model_outputs")
                                      if str((collections.get(c) or {}).get("enabled", "false")).lower() == "true"),
                cost_per_hour=_billed_per_hour(dep), cost_today=spent.get(dep["name"], 0.0)))
        return Endpoint(name=row["name"], auth_mode=row["auth_mode"],
                        scoring_uri=f"http://127.0.0.1:{row['port']}/score" if row["port"] else None,
                        provisioning_state=row["provisioning_state"],
                        # Every deployment shows in the split: a new one at 0 %, as Azure reports it.
                        traffic=Traffic(live={d.name: row["traffic"].get(d.name, 0) for d in deployments},
                                        mirror=row["mirror"]), deployments=tuple(deployments))

    def accrue(self, now: datetime) -> None:
        """Add what each billed deployment's instances cost since the last tick to today's row
        (the scheduler calls this; time the daemon was down is not counted)."""
        last, self._last_accrual = self._last_accrual, now
        if last is None or now <= last:
            return
        dt, day = (now - last).total_seconds(), now.date().isoformat()
        rows = []
        for dep in self.store.rows("SELECT endpoint, name, instance_type, instance_count, provisioning_state "
                                   "FROM deployments"):
            hourly = _billed_per_hour(dep)
            if hourly:
                rows.append((dep["endpoint"], dep["name"], day, dep["instance_count"] * dt, hourly * dt / 3600))
        if rows:
            with self.store.transaction():
                for r in rows:
                    self.store.execute(
                        "INSERT INTO deployment_usage VALUES (?, ?, ?, ?, ?) ON CONFLICT(endpoint, deployment, day) "
                        "DO UPDATE SET instance_seconds = instance_seconds + excluded.instance_seconds, "
                        "cost = cost + excluded.cost", r)

def _billed_per_hour(dep: dict[str, Any]) -> float | None:
    """List price of the deployment's instances per hour while they are allocated, 0 once they are
    not (failed or being deleted), None for a size without a price."""
    if dep["provisioning_state"] not in costs.BILLED_DEPLOYMENT_STATES:
        return 0.0
    return costs.hourly_cost(dep["instance_type"], dep["instance_count"])


def _ping(port: int, timeout: float) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=timeout) as reply:
            return reply.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _serving_env() -> dict[str, str]:
    env = dict(os.environ)
    # `mlflow models serve` starts uvicorn by name: the venv's bin must be on PATH.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.pop("MLFLOW_RUN_ID", None)
    # One request scores a row or a few: an OpenMP pool per model buys nothing and hands each
    # tree of a booster to another thread, which on a busy machine turned 2 ms into 100 ms.
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


def _write_private(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh)
    os.replace(tmp, path)
