"""A local deployment being created counts its instances one by one as each passes its readiness
probe (what deploy green's progress shows: 1 of 2, not 0 of 2 then 2 of 2), and its operation
ends only when the last one is ready. The daemon's real supervisor pass over a real store: the
instances are real processes, and their readiness is a real /ping on their ports, answered for
one instance first, then for the other."""

from __future__ import annotations

import http.server
import subprocess
import threading
from collections.abc import Callable, Iterator

import pytest

from console.local.context import Context
from console.local.endpoints import EndpointService
from console.local.folder import WorkspaceFolder
from console.local.procs import service_port, start_time
from console.local.store import Store

PROBE = {"initial_delay": 0, "period": 0, "timeout": 1, "failure_threshold": 30, "success_threshold": 1}


class Ping(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.send_response(200 if self.path == "/ping" else 404)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def serving(tmp_path) -> Iterator[tuple[EndpointService, Callable[[int], None], str]]:
    """churn-ep/green being created with two instances (live processes, nothing on their ports
    yet), and a way to make instance N answer its readiness probe."""
    folder = WorkspaceFolder(tmp_path / "ws").create()
    ctx = Context(folder, Store(folder.db))
    service = EndpointService(ctx, ledger=None, tracking=None)
    now = ctx.clock.now().isoformat()
    op = ctx.new_operation("endpoints.create_deployment", "churn-ep/green")
    ports: list[int] = []
    procs = [subprocess.Popen(["sleep", "60"]) for _ in range(2)]
    servers: list[http.server.HTTPServer] = []
    try:
        ctx.store.insert("endpoints", {"name": "churn-ep", "auth_mode": "key", "provisioning_state": "Creating",
                                       "traffic": {}, "mirror": {}, "spec": {}, "created_at": now, "port": None})
        ctx.store.insert("deployments", {
            "endpoint": "churn-ep", "name": "green", "model": "churn-classifier:1", "model_uri": "models:/x/1",
            "instance_type": "Standard_DS2_v2", "instance_count": 2, "provisioning_state": "Creating",
            "spec": {"readiness_probe": PROBE, "liveness_probe": PROBE}, "operation_id": op["id"], "created_at": now})
        for idx, proc in enumerate(procs):
            ports.append(service_port(set(ports)))
            ctx.store.insert("instances", {"endpoint": "churn-ep", "deployment": "green", "idx": idx, "port": ports[-1],
                                           "pid": proc.pid, "pid_start": start_time(proc.pid), "ready": 0, "restarts": 0})

        def answer(idx: int) -> None:
            server = http.server.HTTPServer(("127.0.0.1", ports[idx]), Ping)
            servers.append(server)
            threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

        yield service, answer, op["id"]
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()
        for proc in procs:
            proc.kill()
            proc.wait()


def green(service: EndpointService) -> tuple[int, int, str]:
    (deployment,) = service.get(None, "churn-ep")["deployments"]
    return deployment["ready_instances"], deployment["instance_count"], deployment["provisioning_state"]


def test_each_instance_is_counted_as_it_passes_readiness(serving):
    service, answer, op_id = serving
    service.supervisor.supervise()
    assert green(service) == (0, 2, "Creating")

    answer(0)
    service.supervisor.supervise()
    assert green(service) == (1, 2, "Creating")  # the one that answers is counted; the other is not yet
    assert service.ctx.operation_get(None, op_id)["status"] == "InProgress"

    answer(1)
    service.supervisor.supervise()
    assert green(service) == (2, 2, "Succeeded")
    assert service.ctx.operation_get(None, op_id)["status"] == "Succeeded"
