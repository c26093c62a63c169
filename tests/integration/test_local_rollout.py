"""Rollouts on the local workspace, against a real daemon (the controller's host), router and
`mlflow models serve` instances, under real load: a good candidate promotes through every step
and a `kill -9` of the daemon mid-rollout leaves traffic where it was and resumes at the same
step; a candidate that really fails half its requests (a model that raises, so the router
answers 424) is rolled back within interval x threshold of its first step. Holds and intervals
are seconds, so the suite stays inside its budget."""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from console.errors import OperationFailed
from console.loadgen import churn_payloads
from console.local.client import LocalWorkspace, daemon_pid, score, stop_daemon

from helpers import FAST_PROBES, wait_until, workspace_processes

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SPECS = ROOT / "specs" / "endpoints"
EP = "churn-ep"


@functools.cache
def body() -> bytes:
    return churn_payloads(1, rows_per_request=2)[0]


def save_flaky_model(target: Path, share: float) -> None:
    """training/flaky.py's candidate that fails `share` of its requests (the router answers 424)."""
    subprocess.run([sys.executable, str(ROOT / "training" / "flaky.py"), "--out", str(target), "--share", str(share)],
                   check=True, timeout=180, capture_output=True)


@pytest.fixture(scope="module")
def ws(tmp_path_factory, churn_model):
    root = tmp_path_factory.mktemp("rollout") / "ws"
    workspace = LocalWorkspace(root)
    flaky = tmp_path_factory.mktemp("flaky") / "model"
    save_flaky_model(flaky, 0.5)
    try:
        workspace.models.register("churn-classifier", path=str(churn_model))
        workspace.models.register("churn-flaky", path=str(flaky))
        workspace.endpoints.create(str(SPECS / "churn-ep.yml"))
        done = workspace.operations.wait(workspace.endpoints.create_deployment(
            str(SPECS / "blue-deployment.yml"), {**FAST_PROBES, "instance_count": 1}).id, timeout_s=120)
        assert done.status == "Succeeded", done.error
        workspace.endpoints.set_traffic(EP, {"blue": 100})
        yield workspace
    finally:
        try:
            for endpoint in workspace.endpoints.list():
                workspace.endpoints.delete(endpoint.name)
        finally:
            stop_daemon(workspace.folder)
            wait_until(lambda: not workspace_processes(root), 20, "every process of the workspace stopped")


def green(ws: LocalWorkspace, model: str) -> None:
    """green from the shipped spec with `model`, one instance, fast probes, at 0 %."""
    if any(d.name == "green" for d in ws.endpoints.get(EP).deployments):
        ws.operations.wait(ws.endpoints.set_traffic(EP, {"blue": 100}).id, timeout_s=30)
        ws.operations.wait(ws.endpoints.delete_deployment(EP, "green").id, timeout_s=60)
    done = ws.operations.wait(ws.endpoints.create_deployment(
        str(SPECS / "green-deployment.yml"), {**FAST_PROBES, "instance_count": 1, "model": model}).id, timeout_s=120)
    assert done.status == "Succeeded", done.error


def plan(tmp_path: Path, steps: list[int], **analysis) -> Path:
    path = tmp_path / "plan.yml"
    path.write_text(yaml.safe_dump({
        "type": "rollout", "endpoint": EP, "stable": "blue", "candidate": "green", "steps": steps, "hold": "3s",
        "analysis": {"interval": "1s", "failure_threshold": 2, "min_requests": 5, "inconclusive_timeout": "30s",
                     "success_rate": "95%", "p99": "2000ms", **analysis}}))
    return path


class Load:
    """About 20 requests/s on two threads: what makes the analysis conclusive, and what one
    instance of green carries (the capacity check refuses a step that would not fit)."""

    def __init__(self, ws: LocalWorkspace) -> None:
        endpoint = ws.endpoints.get(EP)
        self.uri, self.key = endpoint.scoring_uri, ws.endpoints.keys(EP).primary
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self.run, daemon=True) for _ in range(2)]

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                score(self.uri, self.key, body(), timeout_s=5)
            except OperationFailed:
                pass  # the router restarting: try again shortly
            self.stop.wait(0.1)

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=10)


def live(ws: LocalWorkspace) -> dict[str, int]:
    return {k: v for k, v in ws.endpoints.get(EP).traffic.live.items() if v}


def test_a_good_candidate_promotes_and_a_killed_daemon_resumes_at_the_same_step(ws, tmp_path):
    green(ws, "azureml:churn-classifier:1")
    with Load(ws):
        started = ws.rollouts.start(str(plan(tmp_path, [20, 50, 100])))
        assert started.phase == "Progressing" and started.weights == (20, 50, 100)
        at_50 = wait_until(lambda: (r := ws.rollouts.get(EP)).step == 1 and r.next_at is not None and r, 60,
                           "the rollout at its second step")
        assert live(ws) == {"blue": 50, "green": 50}
        os.kill(daemon_pid(ws.folder), signal.SIGKILL)
        after = ws.rollouts.get(EP)  # the client starts a new daemon, which resumes from the file
        assert after.step >= at_50.step and live(ws) in ({"blue": 50, "green": 50}, {"green": 100})
        done = wait_until(lambda: (r := ws.rollouts.get(EP)).ended and r, 60, "the rollout to end")
    assert done.phase == "Succeeded", done.reason
    assert live(ws) == {"green": 100}
    steps = [h["step"] for h in done.history if h["event"] == "step applied"]
    assert steps == sorted(steps) and steps[-1] == 2  # never went back a step
    analyses = [h["analysis"] for h in done.history if h["event"] == "analysis"]
    # A window right after the restart may hold too few requests: inconclusive, never a failure.
    assert analyses and {a["verdict"] for a in analyses} <= {"pass", "inconclusive"}
    audit = ws.audit.list(limit=500)
    operations = {e.operation for e in audit}
    assert {"rollouts.start", "endpoints.set_traffic", "rollouts.analysis", "rollouts.succeeded"} <= operations
    analysis = next(e for e in audit if e.operation == "rollouts.analysis")
    assert analysis.actor == "amlops-rollout" and analysis.after["analysis"]["checks"][0]["name"] == "success_rate"


def test_a_failing_candidate_is_rolled_back_within_interval_times_threshold(ws, tmp_path):
    green(ws, "azureml:churn-flaky:1")
    with Load(ws):
        ws.rollouts.start(str(plan(tmp_path, [20, 100])))
        first = wait_until(lambda: (r := ws.rollouts.get(EP)).next_at is not None and r, 60, "the first step applied")
        applied = next(h["at"] for h in first.history if h["event"] == "step applied")
        done = wait_until(lambda: (r := ws.rollouts.get(EP)).ended and r, 60, "the rollout to end")
    assert done.phase == "RolledBack", done.reason
    assert live(ws) == {"blue": 100} and not ws.endpoints.get(EP).traffic.mirror
    rolled = next(h["at"] for h in done.history if h["event"] == "rolled back")
    # The first analysis waits one interval; then threshold x interval; a tick of the host on top.
    assert rolled - applied <= 1.0 + 2 * 1.0 + 2.0, done.history
    assert "failed analyses in a row" in done.reason and "<" in done.reason
