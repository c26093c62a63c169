"""The local workspace heals itself, against a real daemon, router and `mlflow models serve`
instances in a temporary folder: a killed router is back on the same port within 2 s (the
endpoint unhealthy meanwhile, the death in the daemon's log); a killed demo instance is ready
again within 10 s on the demo's own probes; a traffic write the store cannot commit changes
nothing, live included; a write from a stale read is refused; deletes finish even when the
router does not answer, and a delete a dead daemon left half done is finished by the next.

The module's workspace serves churn-ep with blue (100 %, the demo spec as shipped: two instances,
its own probes) and green (0 %, one instance)."""

from __future__ import annotations

import contextlib
import functools
import io
import json
import os
import signal
import socket
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from console import cli
from console.errors import OperationFailed, TrafficRuleError
from console.loadgen import churn_payloads
from console.local.client import LocalWorkspace, score, stop_daemon
from console.local.procs import alive

from helpers import FAST_PROBES, wait_until

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SPECS = ROOT / "specs" / "endpoints"


@functools.cache
def body() -> bytes:
    """One request of two churn rows (made on first use: collecting this file must stay cheap)."""
    return churn_payloads(1, rows_per_request=2)[0]


@pytest.fixture(scope="module")
def ws(tmp_path_factory, churn_model):
    root = tmp_path_factory.mktemp("heal") / "ws"
    workspace = LocalWorkspace(root)
    try:
        workspace.models.register("churn-classifier", path=str(churn_model))
        workspace.endpoints.create(str(SPECS / "churn-ep.yml"))
        ops = [workspace.endpoints.create_deployment(str(SPECS / "blue-deployment.yml")),
               workspace.endpoints.create_deployment(str(SPECS / "green-deployment.yml"),
                                                     {**FAST_PROBES, "instance_count": 1})]
        for op in ops:
            done = workspace.operations.wait(op.id, timeout_s=120)
            assert done.status == "Succeeded", done.error
        workspace.endpoints.set_traffic("churn-ep", {"blue": 100})
        yield workspace
    finally:
        for endpoint in _safe(workspace.endpoints.list) or []:
            _safe(lambda: workspace.endpoints.delete(endpoint.name))
        stop_daemon(workspace.folder)


def _safe(fn):
    try:
        return fn()
    except Exception:
        return None


def router_pid(ws: LocalWorkspace) -> int:
    return next(p["pid"] for p in ws.connection.call("daemon.processes") if p["kind"] == "router")


def instances(ws: LocalWorkspace, deployment: str) -> list[dict]:
    with sqlite3.connect(ws.folder.db) as db:
        db.row_factory = sqlite3.Row
        return [dict(r) for r in db.execute(
            "SELECT * FROM instances WHERE endpoint = 'churn-ep' AND deployment = ? ORDER BY idx", (deployment,))]


def ready(ws: LocalWorkspace, deployment: str) -> int:
    return next(d.ready_instances for d in ws.endpoints.get("churn-ep").deployments if d.name == deployment)


def daemon_log(ws: LocalWorkspace) -> str:
    return (ws.folder.logs_dir / "daemon.log").read_text()


def answers(uri: str, key: str) -> bool:
    try:
        return score(uri, key, body(), timeout_s=5).status_code == 200
    except OperationFailed:  # BackendUnavailable: nothing listens (yet)
        return False


class Load:
    """Requests back to back on one thread while a fault happens: what a client sees."""

    def __init__(self, uri: str, key: str) -> None:
        self.uri, self.key = uri, key
        self.results: list[tuple[float, bool]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.results.append((time.monotonic(), answers(self.uri, self.key)))

    def __enter__(self) -> Load:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def test_a_killed_router_is_back_on_the_same_port_within_2_s_under_load(ws):
    endpoint = ws.endpoints.get("churn-ep")
    key = ws.endpoints.keys("churn-ep").primary
    victim = router_pid(ws)
    with Load(endpoint.scoring_uri, key) as load:
        wait_until(lambda: len(load.results) > 20, timeout=30)
        killed = time.monotonic()
        os.kill(victim, signal.SIGKILL)
        wait_until(lambda: any(t > killed and ok for t, ok in load.results), timeout=10,
                   what="a request answered after the kill")
    back = next(t for t, ok in load.results if t > killed and ok) - killed
    assert back <= 2.0, f"the scoring URI answered again {back:.2f} s after the router was killed"
    assert ws.endpoints.get("churn-ep").scoring_uri == endpoint.scoring_uri  # the same port
    # recorded once the daemon has read the new router's state file (it may answer a moment before)
    wait_until(lambda: [p for p in ws.connection.call("daemon.processes") if p["kind"] == "router"
                        and p["pid"] != victim], timeout=5, what="the new router recorded")
    log = daemon_log(ws)
    assert f"router of churn-ep (pid {victim}" in log and "killed by SIGKILL" in log
    assert "router of churn-ep restarted" in log


def test_the_endpoint_reads_unhealthy_while_its_router_cannot_start(ws):
    endpoint = ws.endpoints.get("churn-ep")
    assert endpoint.healthy is True
    port = int(endpoint.scoring_uri.split(":")[2].split("/")[0])
    victim = router_pid(ws)
    squatter = socket.socket()
    squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    os.kill(victim, signal.SIGKILL)
    # Take the port before the daemon's restart can (a Python start takes a few hundred ms).
    wait_until(lambda: _bind(squatter, port), timeout=5, interval=0.001)
    try:
        down = wait_until(lambda: (e := ws.endpoints.get("churn-ep")).healthy is False and e, timeout=5)
        assert down.provisioning_state == "Succeeded" and "router" in down.unhealthy_reason
        shown = io.StringIO()
        with contextlib.redirect_stdout(shown):
            assert cli.main(["--workspace-dir", str(ws.folder.root), "endpoint", "show", "churn-ep"]) == 0
        assert "Succeeded, unhealthy: its router is down" in shown.getvalue()
        wait_until(lambda: "did not start" in daemon_log(ws), timeout=10)
    finally:
        squatter.close()
    key = ws.endpoints.keys("churn-ep").primary
    wait_until(lambda: answers(endpoint.scoring_uri, key), timeout=40, what="the router back on its port")
    # The router answers as soon as it listens; the daemon records it once it has read the
    # router's state file (polled every 20 ms), and reads it healthy from then on.
    wait_until(lambda: ws.endpoints.get("churn-ep").healthy is True, timeout=5, what="healthy again")


def _bind(sock: socket.socket, port: int) -> bool:
    try:
        sock.bind(("127.0.0.1", port))
        sock.listen()
        return True
    except OSError:
        return False


def test_a_killed_demo_instance_is_logged_and_ready_again_within_10_s(ws):
    victim = instances(ws, "blue")[0]
    killed = time.monotonic()
    os.kill(victim["pid"], signal.SIGKILL)
    wait_until(lambda: instances(ws, "blue")[0]["restarts"] == victim["restarts"] + 1, timeout=10)
    wait_until(lambda: ready(ws, "blue") == 2, timeout=15)
    took = time.monotonic() - killed
    assert took <= 10.0, f"the replaced instance was ready {took:.1f} s after the kill"
    log = daemon_log(ws)
    assert f"churn-ep/blue instance 0 (pid {victim['pid']}" in log and "died: killed by SIGKILL" in log


def test_a_traffic_write_the_store_cannot_commit_changes_nothing(ws):
    endpoint = ws.endpoints.get("churn-ep")
    key = ws.endpoints.keys("churn-ep").primary
    audited = len(ws.audit.list())
    holder = sqlite3.connect(ws.folder.db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another writer holds the database: every write of the daemon fails
    try:
        with pytest.raises(OperationFailed, match=r"could not write .*state\.db"):
            ws.endpoints.set_traffic("churn-ep", {"blue": 90, "green": 10})
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert dict(ws.endpoints.get("churn-ep").traffic.live) == {"blue": 100, "green": 0}
    # live equals stored: the router never saw 90/10
    served = {score(endpoint.scoring_uri, key, body()).deployment for _ in range(30)}
    assert served == {"blue"}
    assert len(ws.audit.list()) == audited  # nothing could be written, so the log keeps the attempt
    assert "endpoints.set_traffic by" in daemon_log(ws) and "could not be audited" in daemon_log(ws)


def test_a_write_from_a_stale_read_is_refused(ws):
    read = dict(ws.endpoints.get("churn-ep").traffic.live)  # both operators read blue 100
    ws.connection.call("endpoints.set_traffic", name="churn-ep", traffic={"blue": 90, "green": 10}, expected=read)
    with pytest.raises(TrafficRuleError, match="changed since it was read: it is now blue=90 green=10"):
        ws.connection.call("endpoints.set_traffic", name="churn-ep", traffic={"blue": 50, "green": 50},
                           expected=read)
    assert dict(ws.endpoints.get("churn-ep").traffic.live) == {"blue": 90, "green": 10}
    ws.endpoints.set_traffic("churn-ep", {"blue": 100, "green": 0})


def test_a_delete_finishes_while_the_router_does_not_answer(ws):
    done = ws.operations.wait(ws.endpoints.create_deployment(
        str(SPECS / "green-deployment.yml"), {**FAST_PROBES, "name": "spare", "instance_count": 1}).id, timeout_s=120)
    assert done.status == "Succeeded", done.error
    spare = instances(ws, "spare")[0]
    router = router_pid(ws)
    os.kill(router, signal.SIGSTOP)  # alive, but answers nothing: the push cannot reach it
    try:
        ws.endpoints.delete_deployment("churn-ep", "spare")
    finally:
        os.kill(router, signal.SIGCONT)
    assert [d.name for d in ws.endpoints.get("churn-ep").deployments] == ["blue", "green"]
    assert not alive(spare["pid"], spare["pid_start"])
    # the router takes the change on the daemon's next pass
    config = ws.folder.root / "endpoints" / "churn-ep" / "router.json"
    wait_until(lambda: "spare" not in json.loads(config.read_text())["deployments"], timeout=15)


def test_a_delete_a_dead_daemon_left_half_done_is_finished_by_the_next(ws):
    done = ws.operations.wait(ws.endpoints.create_deployment(
        str(SPECS / "green-deployment.yml"), {**FAST_PROBES, "name": "spare2", "instance_count": 1}).id,
        timeout_s=120)
    assert done.status == "Succeeded", done.error
    spare = instances(ws, "spare2")[0]
    stop_daemon(ws.folder)
    # What a daemon killed in the middle of the delete leaves: marked Deleting, its instance running.
    with sqlite3.connect(ws.folder.db) as db:
        db.execute("UPDATE deployments SET provisioning_state = 'Deleting' WHERE name = 'spare2'")
    assert alive(spare["pid"], spare["pid_start"])
    wait_until(lambda: [d.name for d in ws.endpoints.get("churn-ep").deployments] == ["blue", "green"], timeout=20)
    assert not alive(spare["pid"], spare["pid_start"])
    # The daemon audits the delete once it has finished it: a moment after the rows are gone.
    finished = wait_until(lambda: [a for a in ws.audit.list() if a.target == "churn-ep/spare2"
                                   and a.actor == "amlops-daemon"], 5, "the finished delete's audit row")
    assert "interrupted" in finished[0].detail
