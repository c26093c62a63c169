"""The daemon's side of an endpoint's router: its config, built from the store, and the admin
calls that hand it over (`PUT /-/config`) or read its figures (`GET /-/metrics`).

The store is the truth for traffic, mirror, deployments and ready instances; the router's config
file (`endpoints/NAME/router.json`, 0600) is the truth for its keys, admin token and port, and is
rewritten with the rest on every push, so a router restarted from it serves what it last took.
A push records the endpoint revision the router has taken (`applied_revision`) and finishes the
operations that waited for it: a commit whose push failed is pushed again by the daemon's pass.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any

from console.errors import BadInput, OperationFailed

if TYPE_CHECKING:
    from console.local.context import Context

log = logging.getLogger("amlops.serving")

ADMIN_TIMEOUT_S = 5


class RouterAdmin:
    def __init__(self, ctx: Context, root: Path) -> None:
        self.ctx = ctx
        self.store = ctx.store
        self.root = root
        # One push at a time (the router takes configs in order), and none while the keys change.
        self.lock = threading.RLock()

    def config_path(self, name: str) -> Path:
        return self.root / name / "router.json"

    def config(self, name: str) -> dict[str, Any]:
        return json.loads(self.config_path(name).read_text())

    def write_config(self, name: str, config: dict[str, Any]) -> None:
        write_private(self.config_path(name), config)

    def build(self, row: dict[str, Any]) -> dict[str, Any]:
        """The router's config from the store: traffic, mirror and each deployment's ready instances."""
        config = self.config(row["name"])
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

    def push(self, name: str) -> None:
        """Hand the router the endpoint's committed state; then record the revision it took and
        finish the operations that waited for it. Raises OperationFailed if the router cannot
        take it (the revision stays pending for the daemon's next pass)."""
        with self.lock:
            row = self.store.row("SELECT * FROM endpoints WHERE name = ?", (name,))
            if row is None or row["provisioning_state"] == "Deleting":
                return
            config = self.build(row)
            self.call(row, "PUT", "/-/config", config)
            self.write_config(name, config)
            if row["applied_revision"] >= row["revision"]:
                return
            with self.store.transaction():
                self.store.execute("UPDATE endpoints SET applied_revision = ? WHERE name = ? AND applied_revision < ?",
                                   (row["revision"], name, row["revision"]))
                current = self.store.row("SELECT revision, pending_operations FROM endpoints WHERE name = ?", (name,))
                if current and current["revision"] == row["revision"]:
                    for op_id in current["pending_operations"]:
                        self.ctx.finish_operation(op_id)
                    self.store.update("endpoints", {"name": name}, {"pending_operations": []})

    def call(self, row: dict[str, Any], method: str, path: str, body: Any = None) -> Any:
        if not row.get("port") or not row.get("router_pid"):
            raise OperationFailed(f"endpoint '{row['name']}' has no running router (the daemon restarts it)")
        token = self.config(row["name"])["admin_token"]
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"http://127.0.0.1:{row['port']}{path}", data=data, method=method,
                                         headers={"x-amlops-admin-token": token, "content-type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=ADMIN_TIMEOUT_S) as reply:
                return json.loads(reply.read() or b"null")
        except urllib.error.HTTPError as err:
            detail = err.read().decode(errors="replace")[:300]
            if err.code == 400:
                raise BadInput(f"the router refused the change: {detail}") from None
            raise OperationFailed(f"router of '{row['name']}' answered {err.code}: {detail}") from None
        except (urllib.error.URLError, OSError) as err:
            raise OperationFailed(f"router of '{row['name']}' is unreachable: {err}") from None


def write_private(path: Path, data: dict[str, Any]) -> None:
    """Replace a file the owner alone may read, atomically."""
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh)
    os.replace(tmp, path)
