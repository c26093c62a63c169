"""The rollout controller on an Azure workspace: the real azure-ai-ml over the fake ARM, whose
traffic updates apply only after a few reads (as Azure's do) and whose Azure Monitor figures come
from what it routed: each deployment's requests per minute are its share of the split the fake
reports, and a bad candidate's answers are half 500s. A good candidate promotes; a bad one is
rolled back, in the endpoint Azure reports, with the analyses' numbers in the audit file."""

from __future__ import annotations

import pytest

from console.rollout_controller import ROLLED_BACK, SUCCEEDED, Controller
from console.rollout_plan import Checks, Plan, Step

from fakes.arm import FakeArm
from fakes.azure import azure_workspace, offline  # noqa: F401 (fixtures)

EP = "churn-ep"
RPM = 600.0  # requests a minute to the endpoint, as the fake routes them


def route(fake: FakeArm, failing: str | None = None) -> None:
    """The fake's router: each deployment gets its live share (and its mirror copies) of RPM, as
    the split the fake reports now; the failing one answers half its requests with 500."""
    live, mirror = fake.traffic(EP), fake.mirror_traffic(EP)
    for name in ("blue", "green"):
        share = live.get(name, 0) + mirror.get(name, 0)
        codes = {"200": 0.5, "500": 0.5} if name == failing else {"200": 1.0}
        fake.set_serving(EP, name, requests_per_minute=RPM * share / 100, latency_ms=20.0, p50_ms=18.0,
                         p90_ms=30.0, p95_ms=35.0, p99_ms=40.0, status_codes=codes)


def plan() -> Plan:
    steps = tuple(Step(w, 20.0, "rollback") for w in (10, 50, 100))
    return Plan("ramp", EP, "blue", "green", steps, interval_s=10.0, failure_threshold=2,
                inconclusive_timeout_s=120.0, checks=Checks(min_requests=20))


@pytest.fixture()
def azure(offline, tmp_path, monkeypatch):  # noqa: F811
    fake = FakeArm()
    ws = azure_workspace(fake, tmp_path, monkeypatch)
    ws.operations.wait(ws.endpoints.set_traffic(EP, {"blue": 100, "green": 0}).id, timeout_s=30)
    while fake.traffic(EP).get("blue") != 100:  # Azure applies a traffic update after a few reads
        ws.endpoints.get(EP)
    return fake, ws


def drive(fake: FakeArm, ws, failing: str | None, until) -> object:
    clock = [1.0e9]
    controller = Controller(ws, ws.rollouts.folder, lambda: clock[0], audit=ws.rollouts.audit)
    ws.monitor_metrics.clock = lambda: clock[0]  # its 30 s between reads pass on the test's clock too
    controller.start(plan())
    for _ in range(400):
        route(fake, failing)
        state = controller.tick(EP)
        if until(state):
            return state
        clock[0] += 2.0
    raise AssertionError(f"{state.phase} {state.reason} at step {state.step}")


def test_a_good_candidate_promotes_on_azure(azure):
    fake, ws = azure
    state = drive(fake, ws, None, lambda s: s.ended)
    assert state.phase == SUCCEEDED, state.reason
    assert fake.traffic(EP) in ({"green": 100}, {"blue": 0, "green": 100})
    reported = [h for h in state.history if h["event"] == "reported"]
    assert len(reported) == 3  # each step counted only once Azure reported it
    # Azure Monitor's figures are read at most every 30 s: a read from before a step moved the
    # traffic holds no request of the candidate's yet, which is inconclusive, never a failure.
    verdicts = {h["analysis"]["verdict"] for h in state.history if h["event"] == "analysis"}
    assert "pass" in verdicts and verdicts <= {"pass", "inconclusive"}


def test_a_bad_candidate_is_rolled_back_on_azure_and_audited(azure):
    fake, ws = azure
    state = drive(fake, ws, "green", lambda s: s.ended)
    assert state.phase == ROLLED_BACK, state.reason
    assert "50.00% < 99.00%" in state.reason
    ws.endpoints.get(EP)  # what Azure reports once the update applied
    while fake.traffic(EP).get("blue") != 100:
        ws.endpoints.get(EP)
    audited = [e for e in ws.audit.list() if e.operation.startswith("rollouts.")]
    assert {"rollouts.analysis", "rollouts.rolled_back"} <= {e.operation for e in audited}
    failed = next(e for e in audited if e.operation == "rollouts.analysis")
    assert failed.after["analysis"]["verdict"] == "fail"
