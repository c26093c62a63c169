"""Local online endpoints end to end, against a real daemon, router and `mlflow models serve`
instances in a temporary folder: register, blue at 100, keys, green at 0, pinning, mirror, ramp,
rollback; every broken rule rejected with nothing changed; traffic changes under load drop
nothing; the data plane outlives the daemon.

The module's workspace serves churn-ep with blue (100 %) and green (0 %), two instances each;
every test starts from that split and leaves the deployments as it found them, so any one test
runs alone (`-k`). The end-to-end rollout builds its own endpoint from nothing."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import pytest

from console.errors import BadInput, TrafficRuleError
from console.loadgen import churn_payloads, run_load
from console.local.client import LocalWorkspace, score, stop_daemon
from console.local.procs import alive

from helpers import FAST_PROBES, wait_until

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
# Unready after two failed probes: the readiness test waits for that.
PROBES = {**FAST_PROBES, "readiness_probe.failure_threshold": 2}


@pytest.fixture(scope="module")
def ws(tmp_path_factory, churn_model):
    root = tmp_path_factory.mktemp("endpoints") / "ws"
    workspace = LocalWorkspace(root)
    try:
        workspace.models.register("churn-classifier", path=str(churn_model))
        workspace.endpoints.create(str(ROOT / "specs" / "endpoints" / "churn-ep.yml"))
        # Both at once: their model servers start side by side.
        ops = [start_deployment(workspace, spec) for spec in ("blue-deployment.yml", "green-deployment.yml")]
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


def state(ws: LocalWorkspace) -> tuple:
    endpoint = ws.endpoints.get("churn-ep")
    return (dict(endpoint.traffic.live), dict(endpoint.traffic.mirror),
            tuple(sorted((d.name, d.provisioning_state) for d in endpoint.deployments)))


def body(rows: int = 2) -> bytes:
    return churn_payloads(1, rows_per_request=rows)[0]


def start_deployment(ws: LocalWorkspace, spec: str, extra: dict | None = None):
    # Two instances of 4 concurrent requests each, so the load test measures traffic changes,
    # not capacity: on two shared cores a burst past Azure's in-flight limit is an honest 429.
    overrides = {**PROBES, "instance_count": 2, "request_settings.max_concurrent_requests_per_instance": 4,
                 **(extra or {})}
    return ws.endpoints.create_deployment(str(ROOT / "specs" / "endpoints" / spec), overrides)


def create_deployment(ws: LocalWorkspace, spec: str, extra: dict | None = None) -> None:
    done = ws.operations.wait(start_deployment(ws, spec, extra).id, timeout_s=120)
    assert done.status == "Succeeded", done.error


@pytest.fixture(autouse=True)
def blue_at_100(ws):
    """Each test starts with churn-ep's split at blue 100 %, green 0 %, mirroring off."""
    ws.endpoints.set_mirror("churn-ep", {})
    ws.endpoints.set_traffic("churn-ep", {"blue": 100, "green": 0})


ROLLOUT = "rollout-ep"  # the end-to-end test's own endpoint: churn-ep's spec under another name
ONE = {"instance_count": 1, "endpoint_name": ROLLOUT}


def test_blue_green_rollout_end_to_end(ws):
    # 1. the registered model behind an endpoint, blue at 100
    ws.endpoints.create(str(ROOT / "specs" / "endpoints" / "churn-ep.yml"), {"name": ROLLOUT})
    create_deployment(ws, "blue-deployment.yml", ONE)
    blue = next(d for d in ws.endpoints.get(ROLLOUT).deployments if d.name == "blue")
    assert blue.model == "churn-classifier:1" and blue.ready_instances == blue.instance_count == 1
    assert ws.endpoints.get(ROLLOUT).traffic.live == {"blue": 0}  # a new deployment starts at 0
    ws.endpoints.set_traffic(ROLLOUT, {"blue": 100})

    # 2. scoring needs a key: either key works, none or a wrong one is 401
    endpoint = ws.endpoints.get(ROLLOUT)
    keys = ws.endpoints.keys(ROLLOUT)
    ok = score(endpoint.scoring_uri, keys.primary, body(3))
    assert ok.status_code == 200 and ok.deployment == "blue"
    assert len(json.loads(ok.body)) == 3
    assert score(endpoint.scoring_uri, keys.secondary, body()).status_code == 200
    assert score(endpoint.scoring_uri, None, body()).status_code == 401
    assert score(endpoint.scoring_uri, "not-the-key", body()).status_code == 401

    # 3. green at 0 %; the header pins a request to it
    create_deployment(ws, "green-deployment.yml", ONE)
    assert ws.endpoints.get(ROLLOUT).traffic.live == {"blue": 100, "green": 0}
    pinned = ws.endpoints.invoke(ROLLOUT, body(), deployment="green")
    assert pinned.status_code == 200 and pinned.deployment == "green"
    assert score(endpoint.scoring_uri, keys.primary, body()).deployment == "blue"

    # 4. mirror 10 % to green, then ramp 10, 50, 100 (mirroring off first: green takes live traffic)
    ws.endpoints.set_mirror(ROLLOUT, {"green": 10})
    assert ws.endpoints.get(ROLLOUT).traffic.mirror == {"green": 10}
    ws.endpoints.set_mirror(ROLLOUT, {})
    for share in (10, 50, 100):
        ws.endpoints.set_traffic(ROLLOUT, {"blue": 100 - share, "green": share})
        assert ws.endpoints.get(ROLLOUT).traffic.live == {"blue": 100 - share, "green": share}
    served = {score(endpoint.scoring_uri, keys.primary, body()).deployment for _ in range(5)}
    assert served == {"green"}

    # 5. roll back: blue, the deployment green replaced, takes everything again in one update
    ws.endpoints.rollback(ROLLOUT)
    assert ws.endpoints.get(ROLLOUT).traffic.live == {"blue": 100, "green": 0}
    assert ws.endpoints.get(ROLLOUT).traffic.mirror == {}
    assert {score(endpoint.scoring_uri, keys.primary, body()).deployment for _ in range(5)} == {"blue"}
    ws.endpoints.delete(ROLLOUT)


@pytest.mark.parametrize(("change", "message"), [
    (lambda ws: ws.endpoints.set_traffic("churn-ep", {"blue": 80, "green": 10}), "sum to 0 or 100"),
    (lambda ws: ws.endpoints.set_traffic("churn-ep", {"blue": 90, "red": 10}), "no deployment named red"),
    (lambda ws: ws.endpoints.set_traffic("churn-ep", {"blue": "ninety", "green": 10}), "integer"),
    (lambda ws: ws.endpoints.set_mirror("churn-ep", {"green": 60}), "at most 50"),
    (lambda ws: ws.endpoints.set_mirror("churn-ep", {"blue": 10}), "live traffic"),
    (lambda ws: ws.endpoints.set_mirror("churn-ep", {"blue": 10, "green": 10}), "one deployment"),
    (lambda ws: ws.endpoints.delete_deployment("churn-ep", "blue"), "live traffic"),
])
def test_every_rule_violation_is_rejected_and_changes_nothing(ws, change, message):
    before = state(ws)
    audit_before = len(ws.audit.list())
    with pytest.raises(TrafficRuleError, match=message):
        change(ws)
    assert state(ws) == before
    latest = ws.audit.list(limit=1)[0]
    assert len(ws.audit.list()) == audit_before + 1 and latest.result == "Rejected"


def test_traffic_changes_under_load_drop_no_request(ws):
    endpoint = ws.endpoints.get("churn-ep")
    key = ws.endpoints.keys("churn-ep").primary
    payloads = churn_payloads(200, seed=11)
    result = {}
    loader = threading.Thread(target=lambda: result.setdefault(
        "summary", run_load(endpoint.scoring_uri, key, payloads, rps=60, duration_s=8, concurrency=8)))
    loader.start()
    splits = [{"blue": 100, "green": 0}, {"blue": 50, "green": 50}, {"blue": 0, "green": 100},
              {"blue": 90, "green": 10}]
    before = sum(m.requests for m in ws.endpoints.metrics("churn-ep", window_s=60))
    wait_until(lambda: sum(m.requests for m in ws.endpoints.metrics("churn-ep", window_s=60)) > before, 10,
               "the load to reach the router before the first change")
    for i in range(20):
        ws.endpoints.set_traffic("churn-ep", splits[i % len(splits)])
        time.sleep(0.3)  # the changes are spread over the load's 8 s: pacing, not waiting for something
    loader.join(timeout=60)
    summary = result["summary"]
    assert summary.failures == 0, summary.to_dict()
    assert set(summary.by_deployment) == {"blue", "green"}
    ws.endpoints.set_traffic("churn-ep", {"blue": 100, "green": 0})


def test_metrics_and_collected_data(ws):
    endpoint, key = ws.endpoints.get("churn-ep"), ws.endpoints.keys("churn-ep").primary
    assert all(score(endpoint.scoring_uri, key, body()).status_code == 200 for _ in range(20))
    metrics = {m.deployment: m for m in ws.endpoints.metrics("churn-ep", window_s=300)}
    assert metrics["blue"].requests > 0 and metrics["blue"].success_rate == 1.0
    assert metrics["blue"].p50_ms is not None and metrics["blue"].p99_ms >= metrics["blue"].p50_ms
    collected = ws.folder.collected_dir / "churn-ep" / "blue"
    inputs = wait_until(lambda: sorted((collected / "model_inputs").rglob("*.jsonl")), timeout=10)
    outputs = wait_until(lambda: sorted((collected / "model_outputs").rglob("*.jsonl")), timeout=10)
    # yyyy/MM/dd/HH under the collection
    assert len(inputs[0].relative_to(collected / "model_inputs").parts) == 5
    first_in = [json.loads(line) for line in inputs[0].read_text().splitlines()]
    out_ids = {json.loads(line)["correlationid"] for f in outputs for line in f.read_text().splitlines()}
    assert "tenure_months" in first_in[0]["data"][0]
    assert {row["correlationid"] for row in first_in[:20]} <= out_ids


def test_the_demo_load_moves_the_endpoint_until_it_is_stopped(ws, tmp_path):
    from console import demo

    def collected_rows() -> int:
        files = (ws.folder.collected_dir / "churn-ep").rglob("model_inputs/**/*.jsonl")
        return sum(len(path.read_bytes().splitlines()) for path in files)

    before = collected_rows()
    pid = demo.start_load(ws.folder)
    try:
        assert demo.running_load(ws.folder) == pid
        wait_until(lambda: collected_rows() > before, timeout=30)  # nothing else sends requests now
    finally:
        assert demo.stop_load(ws.folder)
    assert demo.running_load(ws.folder) is None and not alive(pid, None)
    assert not demo.stop_load(ws.folder)
    # Without a daemon to ask for the endpoint, the load ends by itself instead of spinning.
    assert demo.run_load_forever(tmp_path / "no-workspace") == 0


def instances(ws: LocalWorkspace, deployment: str) -> list[dict]:
    with sqlite3.connect(f"file:{ws.folder.db}?mode=ro", uri=True) as db:
        db.row_factory = sqlite3.Row
        return [dict(r) for r in db.execute(
            "SELECT * FROM instances WHERE endpoint = 'churn-ep' AND deployment = ? ORDER BY idx", (deployment,))]


def ready(ws: LocalWorkspace, deployment: str) -> int:
    return next(d.ready_instances for d in ws.endpoints.get("churn-ep").deployments if d.name == deployment)


def test_an_instance_that_dies_is_restarted(ws):
    victim = instances(ws, "blue")[0]
    os.kill(victim["pid"], signal.SIGKILL)  # the mlflow parent only: its uvicorn child is orphaned
    wait_until(lambda: instances(ws, "blue")[0]["restarts"] == victim["restarts"] + 1, timeout=20)
    wait_until(lambda: ready(ws, "blue") == 2, timeout=60)
    assert instances(ws, "blue")[0]["pid"] != victim["pid"]
    # the orphan was ended with its group: nothing of the old instance is left running
    assert subprocess.run(["pgrep", "-g", str(victim["pid"])], capture_output=True).returncode == 1


def test_an_instance_failing_readiness_leaves_routing_until_it_passes(ws):
    endpoint = ws.endpoints.get("churn-ep")
    key = ws.endpoints.keys("churn-ep").primary
    frozen = instances(ws, "blue")[1]
    # The whole group (mlflow and its uvicorn): alive but unresponsive, only the probe can tell.
    os.killpg(frozen["pid"], signal.SIGSTOP)
    try:
        wait_until(lambda: ready(ws, "blue") == 1, timeout=20)
        # routed around: every request lands on the instance that still answers
        assert {score(endpoint.scoring_uri, key, body(), timeout_s=10).status_code for _ in range(10)} == {200}
    finally:
        os.killpg(frozen["pid"], signal.SIGCONT)
    wait_until(lambda: ready(ws, "blue") == 2, timeout=20)
    assert instances(ws, "blue")[1]["pid"] == frozen["pid"]  # readiness, not a restart


def test_the_data_plane_outlives_the_daemon(ws):
    endpoint = ws.endpoints.get("churn-ep")
    key = ws.endpoints.keys("churn-ep").primary
    before = state(ws)
    pid = ws.connection.call("daemon.status")["pid"]
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: not alive(pid, None), timeout=10)
    # no control plane: the router and its instances keep answering with the same split
    answers = [score(endpoint.scoring_uri, key, body()) for _ in range(10)]
    assert {a.status_code for a in answers} == {200} and {a.deployment for a in answers} == {"blue"}
    assert ws.connection.call("daemon.status")["pid"] != pid  # the next call starts a new daemon
    assert state(ws) == before
    assert score(endpoint.scoring_uri, key, body()).status_code == 200


def test_deleting_a_deployment_without_traffic(ws):
    create_deployment(ws, "green-deployment.yml", {"name": "spare", "instance_count": 1})
    ws.endpoints.delete_deployment("churn-ep", "spare")
    assert [d.name for d in ws.endpoints.get("churn-ep").deployments] == ["blue", "green"]
    with pytest.raises(BadInput):
        ws.endpoints.delete_deployment("churn-ep", "spare")
