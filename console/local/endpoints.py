"""Online endpoints in the local workspace: the API of real serving (the RPC methods).

An endpoint is a router process (`serving/router.py`) on its own 127.0.0.1 port; a deployment is
`instance_count` real `mlflow models serve` processes. This service creates and deletes them from
specs, checks every traffic change against Azure's rules (`console/rollout.py`), and turns the
store's rows into records. The processes are the supervisor's (`serving/supervisor.py`), the
router's config and admin calls `serving/admin.py`'s, the bill `serving/billing.py`'s.

Every write is committed to the store first (with its audit row), then handed to the router: a
failed commit changes nothing anywhere, and a commit the router did not take is pushed again by
the supervisor's next pass. Keys live only in the router's config file (0600).
"""

from __future__ import annotations

import json
import logging
import secrets
import shutil
import threading
from typing import TYPE_CHECKING, Any

from console import costs, rollout, specs
from console.domain import Deployment, DeploymentMetrics, Endpoint, Traffic
from console.errors import BadInput, InvalidField, NotFound, NotSupported, OperationFailed
from console.local.assets import parse_ref
from console.local.procs import service_port
from console.local.serving.admin import RouterAdmin, write_private
from console.local.serving.billing import DeploymentBilling, billed_per_hour
from console.local.serving.metrics import LIVE_WINDOW_S, WINDOWS_S
from console.local.serving.supervisor import Supervisor
from console.naming import check_name

if TYPE_CHECKING:
    from console.local.context import Context
    from console.local.ledger import Ledger
    from console.local.rpc import Request
    from console.local.tracking import Tracking

log = logging.getLogger("amlops.serving")

PROBE_DEFAULTS = {"initial_delay": 10, "period": 10, "timeout": 2, "failure_threshold": 30, "success_threshold": 1}


class EndpointService:
    def __init__(self, ctx: Context, ledger: Ledger, tracking: Tracking) -> None:
        self.ctx = ctx
        self.store = ctx.store
        self.ledger = ledger
        self.tracking = tracking
        self.root = ctx.folder.root / "endpoints"
        self.root.mkdir(mode=0o700, exist_ok=True)
        self.admin = RouterAdmin(ctx, self.root)
        self.supervisor = Supervisor(ctx, self.admin, self.root)
        self.billing = DeploymentBilling(ctx)

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
        return dict(self.admin.config(name)["keys"])

    def deployment_logs(self, req: Request, name: str, deployment: str, lines: int = 200) -> str:
        self._deployment(name, deployment)
        out = []
        for path in sorted((self.root / name / deployment).glob("instance-*.log")):
            tail = path.read_text(errors="replace").splitlines()[-lines:]
            out.append(f"==> {path.name} <==\n" + "\n".join(tail))
        return "\n".join(out)

    def metrics(self, req: Request, name: str, window_s: int | None = None) -> list[dict[str, Any]]:
        row = self._endpoint(name)
        window_s = LIVE_WINDOW_S if window_s is None else window_s  # the console's live figure
        if int(window_s) not in WINDOWS_S:  # zeros for a window the router does not keep would be invented
            raise InvalidField("window_s", f"{window_s}: the router keeps windows of {' and '.join(map(str, WINDOWS_S))} s")
        data = self.admin.call(row, "GET", "/-/metrics")
        out = []
        for deployment, figures in sorted((data.get("deployments") or {}).items()):
            window, seconds = figures.get(str(int(window_s))) or {}, int(window_s)
            if not window.get("requests") and figures.get("mirror_percent"):
                # A mirrored deployment takes no live traffic (Azure's rule): what it serves is the
                # mirror's copies, which Azure Monitor counts as its requests too. The router keeps
                # those over 60 s and 300 s, so the window says which it is.
                seconds = next((w for w in (60, 300) if w >= seconds), 300)
                window = (figures.get("mirror") or {}).get(str(seconds)) or {}
            out.append(DeploymentMetrics(
                endpoint_name=name, deployment=deployment, window_s=seconds,
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
        port = service_port(self.supervisor.kept_ports())  # kept while the endpoint exists
        config = {"endpoint": name, "host": "127.0.0.1", "port": port, "auth_mode": auth_mode,
                  "keys": {"primary": secrets.token_urlsafe(32), "secondary": secrets.token_urlsafe(32)},
                  "admin_token": secrets.token_urlsafe(32), "collect_dir": str(self.ctx.folder.collected_dir),
                  "traffic": {}, "mirror": {}, "deployments": {}, "version": 1}
        write_private(folder / "router.json", config)
        now = self.ctx.clock.now().isoformat()
        with self.store.transaction():
            self.store.insert("endpoints", {"name": name, "auth_mode": auth_mode, "provisioning_state": "Creating",
                                            "traffic": {}, "mirror": {}, "spec": data, "created_at": now,
                                            "port": port})
            self.ctx.audit(req, "endpoints.create", name, after={"auth_mode": auth_mode}, detail=spec.path)
        try:
            self.supervisor.start_router(name)
        except OperationFailed:
            self.store.update("endpoints", {"name": name}, {"provisioning_state": "Failed"})
            raise
        self.store.update("endpoints", {"name": name}, {"provisioning_state": "Succeeded"})
        op = self.ctx.new_operation("endpoints.create", name, "Succeeded")
        return {"kind": "online_endpoint", "operation": op, **self.get(req, name)}

    def delete(self, req: Request, name: str) -> dict[str, Any]:
        before = self.get(req, name)
        op = self.ctx.new_operation("endpoints.delete", name)
        with self.supervisor.lifecycle:
            with self.store.transaction():
                self.store.update("endpoints", {"name": name}, {"provisioning_state": "Deleting"})
                self.store.execute("UPDATE deployments SET provisioning_state = 'Deleting' WHERE endpoint = ?", (name,))
                self.ctx.audit(req, "endpoints.delete", name, before=before)
            self.supervisor.deleting.add((name, None))
        try:
            self.supervisor.finish_endpoint_delete(name)
        finally:
            self.supervisor.deleting.discard((name, None))  # if it failed, the next pass finishes it
        self.ctx.finish_operation(op["id"])
        return {**op, "status": "Succeeded"}

    def regenerate_keys(self, req: Request, name: str, key_type: str = "primary") -> dict[str, Any]:
        if key_type not in ("primary", "secondary"):
            raise InvalidField("key_type", "primary or secondary")
        self._endpoint(name)
        with self.admin.lock:  # the config file is the keys' store: no push may write it meanwhile
            config = self.admin.config(name)
            config["keys"][key_type] = secrets.token_urlsafe(32)
            with self.store.transaction():
                op = self._commit(req, name, "endpoints.regenerate_keys", detail=f"{key_type} key regenerated")
                self.admin.write_config(name, config)
        return self._hand_over(name, op)

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
            kept = self.supervisor.kept_ports()
            for idx in range(count):
                port = service_port(kept)  # kept for the instance: restarts serve on the same port
                kept.add(port)
                self.store.insert("instances", {"endpoint": endpoint, "deployment": name, "idx": idx,
                                                "port": port, "ready": 0, "restarts": 0})
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
            with self.supervisor.lifecycle:
                for inst in self.store.rows("SELECT * FROM instances WHERE endpoint = ? AND deployment = ?",
                                            (endpoint, name)):
                    self.supervisor.start_instance(inst)
        except Exception as err:
            log.exception("provisioning %s/%s", endpoint, name)
            self.supervisor.fail(endpoint, name, f"provisioning failed: {err}")

    def delete_deployment(self, req: Request, name: str, deployment: str) -> dict[str, Any]:
        """Mark it Deleting (committed and audited), let the router forget it, stop its instances
        and forget it. The router is not needed for the delete: the deployment has no traffic (a
        rule checked first), and a router that misses the change takes it on the next pass."""
        self._endpoint(name)
        before = self._deployment(name, deployment)
        op = self.ctx.new_operation("endpoints.delete_deployment", f"{name}/{deployment}")
        key = (name, deployment)
        with self.supervisor.lifecycle:
            with self.store.transaction():
                row = self._endpoint(name)
                rollout.check_delete(deployment, row["traffic"], row["mirror"])
                self.store.update("deployments", {"endpoint": name, "name": deployment},
                                  {"provisioning_state": "Deleting"})
                self.store.update("endpoints", {"name": name},
                                  {"traffic": {k: v for k, v in row["traffic"].items() if k != deployment},
                                   "revision": row["revision"] + 1})
                self.ctx.audit(req, "endpoints.delete_deployment", f"{name}/{deployment}",
                               before={"model": before["model"], "instance_count": before["instance_count"]})
            self.supervisor.deleting.add(key)
        try:
            try:
                self.admin.push(name)  # the router forgets it before its instances go
            except (OperationFailed, BadInput) as err:
                log.warning("router of %s did not take the delete of %s yet: %s", name, deployment, err)
            self.supervisor.finish_deployment_delete(name, deployment)
        finally:
            self.supervisor.deleting.discard(key)  # if it failed, the next pass finishes it
        self.ctx.finish_operation(op["id"])
        return {**op, "status": "Succeeded"}

    # --- traffic -----------------------------------------------------------------------------

    def set_traffic(self, req: Request, name: str, traffic: dict[str, Any],
                    expected: dict[str, Any] | None = None) -> dict[str, Any]:
        def change(row: dict[str, Any]) -> dict[str, Any]:
            return {"traffic": rollout.check_traffic(traffic, self._deployment_names(name), row["mirror"])}
        return self._apply(req, name, "endpoints.set_traffic", change, expected)

    def set_mirror(self, req: Request, name: str, mirror: dict[str, Any],
                   expected: dict[str, Any] | None = None) -> dict[str, Any]:
        def change(row: dict[str, Any]) -> dict[str, Any]:
            return {"mirror": rollout.check_mirror(mirror, row["traffic"], self._deployment_names(name))}
        return self._apply(req, name, "endpoints.set_mirror", change, expected)

    def rollback(self, req: Request, name: str, expected: dict[str, Any] | None = None) -> dict[str, Any]:
        def change(row: dict[str, Any]) -> dict[str, Any]:
            names = self._deployment_names(name)
            return {"traffic": rollout.rollback_split(names, row["full_history"], row["traffic"]), "mirror": {}}
        return self._apply(req, name, "endpoints.rollback", change, expected)

    def _apply(self, req: Request, name: str, operation: str, change: Any,
               expected: dict[str, Any] | None) -> dict[str, Any]:
        """Commit a traffic or mirror change (checked against the endpoint as it is inside the
        transaction, so two writes never interleave), then hand it to the router. `expected` is
        the live split the caller read: if it has changed since, the write is refused."""
        with self.store.transaction():
            row = self._endpoint(name)
            rollout.check_unchanged(name, row["traffic"], expected)
            new = {"traffic": row["traffic"], "mirror": row["mirror"], **change(row)}
            history = rollout.record_full(row["full_history"], new["traffic"])
            self.store.update("endpoints", {"name": name}, {**new, "full_history": history})
            before = {"traffic": row["traffic"], "mirror": row["mirror"]}
            op = self._commit(req, name, operation, before=before, after=new, detail=rollout.split_detail(before, new))
        return self._hand_over(name, op)

    def _commit(self, req: Request, name: str, operation: str, **audit: Any) -> dict[str, Any]:
        """Inside the caller's transaction: a new revision of the endpoint, its audit row, and its
        operation, which finishes once the router has taken the revision."""
        op = self.ctx.new_operation(operation, name)
        self.store.execute("UPDATE endpoints SET revision = revision + 1, pending_operations = ? WHERE name = ?",
                           (json.dumps(self._endpoint(name)["pending_operations"] + [op["id"]]), name))
        self.ctx.audit(req, operation, name, **audit)
        return op

    def _hand_over(self, name: str, op: dict[str, Any]) -> dict[str, Any]:
        """Push the committed revision to the router, which finishes the operation; if the router
        cannot take it now, the operation stays InProgress and the supervisor's next pass pushes
        it (the router is being restarted). Returns the operation as the store has it."""
        try:
            self.admin.push(name)
        except OperationFailed as err:
            log.warning("router of %s has not taken %s yet (the next pass retries): %s", name, op["kind"], err)
        return self.ctx.operation_get(None, op["id"])

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
        spent = self.billing.spent_today(row["name"])
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
                cost_per_hour=billed_per_hour(dep), cost_today=spent.get(dep["name"], 0.0)))
        # Whether the scoring URI is served: asked only of an endpoint that should serve.
        healthy = self.supervisor.router_up(row) if row["provisioning_state"] == "Succeeded" else None
        return Endpoint(name=row["name"], auth_mode=row["auth_mode"],
                        scoring_uri=f"http://127.0.0.1:{row['port']}/score" if row["port"] else None,
                        provisioning_state=row["provisioning_state"],
                        # Every deployment shows in the split: a new one at 0 %, as Azure reports it.
                        traffic=Traffic(live={d.name: row["traffic"].get(d.name, 0) for d in deployments},
                                        mirror=row["mirror"]), deployments=tuple(deployments),
                        healthy=healthy, unhealthy_reason="its router is down; the daemon is restarting it"
                        if healthy is False else None, full_history=tuple(row["full_history"]))
