"""The rollout controller (console/rollout_controller.py) over the canned workspace, on a clock
the test moves: it promotes a good candidate step by step, rolls back a failing one within
interval x threshold, pauses where the plan says, waits on too few requests and pauses at the
timeout, refuses a step the candidate cannot carry, holds at a manual gate, never fights a
person, resumes from its file in a new process, and never calls a split it did not see Succeeded."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from console import canary
from console.domain import DeploymentMetrics
from console.errors import BadInput
from console.rollout_controller import (
    ABORTED, AWAITING, PAUSED, PROGRESSING, ROLLED_BACK, SUCCEEDED, WRITE_WAIT_S, Controller, RolloutFile,
)
from console.rollout_plan import Checks, Mirror, Plan, Step

from fakes.canned import CannedWorkspace

EP = "churn-ep"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def plan(weights=(10, 50, 100), hold=20.0, on_failure="rollback", approve=(), **kw) -> Plan:
    steps = tuple(Step(w, hold, on_failure, i in approve) for i, w in enumerate(weights))
    return Plan("ramp", EP, "blue", "green", steps, interval_s=5.0, failure_threshold=2,
                inconclusive_timeout_s=30.0, checks=Checks(min_requests=20), **kw)


def metrics(green: Callable[[dict], tuple[int, float, float]] = lambda live: (200, 1.0, 40.0), rps=10.0):
    """Figures as the endpoint's split would make them: `green(live)` gives (requests, success, p99)."""

    def read(ws):
        def get(name, *, window_s=None):
            window_s = window_s or 10  # None: the live window, which a backend states (the local router's)
            live = dict(ws.endpoints.get(name).traffic.live)
            requests, success, p99 = green(live)
            return [DeploymentMetrics(EP, "blue", window_s, 200, rps, 1.0, 10.0, 20.0, 40.0),
                    DeploymentMetrics(EP, "green", window_s, requests, rps * live.get("green", 0) / 100, success,
                                      10.0, 20.0, p99)]
        return get
    return read


@pytest.fixture
def setup(tmp_path):
    ws = CannedWorkspace()
    ws.endpoints.set_traffic(EP, {"blue": 100, "green": 0})
    clock = Clock()
    return ws, Controller(ws, tmp_path, clock), clock


def run(controller, clock, until: Callable[[], bool], step_s=1.0, limit_s=600.0):
    end = clock.now + limit_s
    while clock.now < end:
        state = controller.tick(EP)
        if until(state):
            return state
        clock.now += step_s
    raise AssertionError(f"not reached in {limit_s}s: {state.phase} {state.reason} at step {state.step}")


def live(ws) -> dict[str, int]:
    return {k: v for k, v in ws.endpoints.get(EP).traffic.live.items() if v}


def test_a_good_candidate_promotes_through_every_step_one_update_at_a_time(setup):
    ws, controller, clock = setup
    ws.endpoints.metrics = metrics()(ws)
    writes = []
    set_traffic = ws.endpoints.set_traffic
    ws.endpoints.set_traffic = lambda *a, **kw: writes.append(dict(a[1])) or set_traffic(*a, **kw)
    controller.start(plan())
    state = run(controller, clock, lambda s: s.phase == SUCCEEDED)
    assert writes == [{"blue": 90, "green": 10}, {"blue": 50, "green": 50}, {"blue": 0, "green": 100}]
    assert live(ws) == {"green": 100}
    analyses = [h for h in state.history if h["event"] == "analysis"]
    assert analyses and all(h["analysis"]["verdict"] == canary.PASS for h in analyses)
    first = analyses[0]["analysis"]["checks"][0]
    assert (first["name"], first["value"], first["threshold"]) == ("success_rate", 1.0, 0.99)
    assert [h["event"] for h in state.history].count("step applied") == 3


def test_a_failing_candidate_is_rolled_back_within_interval_times_threshold(setup):
    ws, controller, clock = setup
    ws.endpoints.metrics = metrics(lambda live: (200, 0.9 if live.get("green") == 50 else 1.0, 40.0))(ws)
    controller.start(plan())
    run(controller, clock, lambda s: s.step == 1 and s.step_started_at is not None)
    onset = clock.now
    state = run(controller, clock, lambda s: s.phase == ROLLED_BACK)
    assert clock.now - onset <= 5.0 * 2 + 5.0  # interval x threshold, plus the first interval's wait
    assert live(ws) == {"blue": 100} and not ws.endpoints.get(EP).traffic.mirror
    assert "2 failed analyses in a row" in state.reason and "90.00% < 99.00%" in state.reason


def test_on_failure_pause_pauses_instead(setup):
    ws, controller, clock = setup
    ws.endpoints.metrics = metrics(lambda live: (200, 0.5, 40.0))(ws)
    controller.start(plan(on_failure="pause"))
    state = run(controller, clock, lambda s: s.phase != PROGRESSING)
    assert state.phase == PAUSED and "failed analyses" in state.reason
    assert live(ws) == {"blue": 90, "green": 10}  # left where it was, for a person


def test_too_few_requests_waits_then_pauses_at_the_timeout(setup):
    ws, controller, clock = setup
    ws.endpoints.metrics = metrics(lambda live: (3, 1.0, 40.0))(ws)
    controller.start(plan())
    state = run(controller, clock, lambda s: s.phase != PROGRESSING)
    assert state.phase == PAUSED and "inconclusive for" in state.reason and "3 requests" in state.reason
    assert state.step == 0 and live(ws) == {"blue": 90, "green": 10}


def test_an_undersized_candidate_is_refused_a_step_with_the_numbers(setup):
    ws, controller, clock = setup
    # 400 req/s at 50 % with a p99 of 100 ms is 20 in flight; green admits 2 x 2 x 2 = 8.
    ws.endpoints.metrics = metrics(lambda live: (200, 1.0, 100.0), rps=200.0)(ws)
    controller.start(plan())
    state = run(controller, clock, lambda s: s.phase != PROGRESSING)
    assert state.phase == PAUSED and state.step == 1
    assert "refused" in state.reason and "in flight" in state.reason and "add instances to green" in state.reason
    assert live(ws) == {"blue": 90, "green": 10}


def test_a_manual_gate_holds_until_approved(setup):
    ws, controller, clock = setup
    ws.endpoints.metrics = metrics()(ws)
    controller.start(plan(approve=(1,)))
    state = run(controller, clock, lambda s: s.phase == AWAITING)
    clock.now += 300
    assert controller.tick(EP).phase == AWAITING and live(ws) == {"blue": 90, "green": 10}
    assert "rollout approve" in state.reason
    controller.command(EP, "approve")
    run(controller, clock, lambda s: s.phase == SUCCEEDED)


def test_a_persons_traffic_change_pauses_the_rollout_and_resume_applies_the_step_again(setup):
    ws, controller, clock = setup
    ws.endpoints.metrics = metrics()(ws)
    controller.start(plan())
    run(controller, clock, lambda s: s.step_started_at is not None)
    ws.endpoints.rollback(EP)  # a person, from the console
    state = controller.tick(EP)
    assert state.phase == PAUSED and "traffic changed outside the rollout" in state.reason
    clock.now += 60
    assert controller.tick(EP).phase == PAUSED and live(ws) == {"blue": 100}  # it never fights a person
    controller.command(EP, "resume")
    run(controller, clock, lambda s: s.phase == SUCCEEDED)


def test_a_new_controller_resumes_from_the_file_at_the_same_step(setup, tmp_path):
    ws, controller, clock = setup
    ws.endpoints.metrics = metrics()(ws)
    controller.start(plan())
    run(controller, clock, lambda s: s.step == 1 and s.step_started_at is not None)
    again = Controller(ws, tmp_path, clock)  # what a restarted host builds
    state = again.tick(EP)
    assert state.step == 1 and state.phase == PROGRESSING and live(ws) == {"blue": 50, "green": 50}
    run(again, clock, lambda s: s.phase == SUCCEEDED)


def test_a_split_the_endpoint_never_reports_is_not_success(setup):
    ws, controller, clock = setup
    ws.endpoints.metrics = metrics()(ws)
    real = ws.endpoints.set_traffic

    def ignored_at_full(name, traffic, **kw):  # the operation succeeds; the split does not change
        if traffic.get("green") == 100:
            return ws.record("endpoints.set_traffic", name, None, None)
        return real(name, traffic, **kw)

    ws.endpoints.set_traffic = ignored_at_full
    controller.start(plan())
    state = run(controller, clock, lambda s: s.phase != PROGRESSING, limit_s=WRITE_WAIT_S + 200)
    assert state.phase == PAUSED and "still reports" in state.reason and state.phase != SUCCEEDED


def test_mirror_first_then_live_with_mirroring_off_on_its_own(setup):
    ws, controller, clock = setup
    ws.endpoints.metrics = metrics()(ws)
    controller.start(plan(mirror=Mirror(20, 10.0)))
    run(controller, clock, lambda s: s.step == -1 and s.step_started_at is not None)
    assert dict(ws.endpoints.get(EP).traffic.mirror) == {"green": 20} and live(ws) == {"blue": 100}
    state = run(controller, clock, lambda s: s.step == 0 and s.step_started_at is not None)
    assert not ws.endpoints.get(EP).traffic.mirror and live(ws) == {"blue": 90, "green": 10}
    assert [h["detail"].rsplit(" for ", 1)[0] for h in state.history if h["event"] == "traffic"] == [
        "asked for blue=100, mirror green=20", "asked for blue=100", "asked for blue=90 green=10"]


def test_abort_and_fail_roll_back_at_once_and_the_commands_check_the_phase(setup):
    ws, controller, clock = setup
    ws.endpoints.metrics = metrics()(ws)
    controller.start(plan())
    run(controller, clock, lambda s: s.step_started_at is not None)
    with pytest.raises(BadInput, match="not paused"):
        controller.command(EP, "resume")
    with pytest.raises(BadInput, match="under way"):
        controller.start(plan())
    assert controller.command(EP, "abort", "wrong model").phase == ABORTED
    assert live(ws) == {"blue": 100}
    with pytest.raises(BadInput, match="already ended"):
        controller.command(EP, "pause")
    assert RolloutFile(controller.folder, EP).read().reason == "aborted by a person: wrong model"
    controller.start(plan())
    run(controller, clock, lambda s: s.step_started_at is not None)
    assert controller.command(EP, "fail").phase == ROLLED_BACK and live(ws) == {"blue": 100}


def test_a_rollout_starts_only_from_the_stable_at_full_traffic(setup):
    ws, controller, _ = setup
    ws.endpoints.set_traffic(EP, {"blue": 90, "green": 10})
    with pytest.raises(BadInput, match="blue must hold all live traffic"):
        controller.start(plan())
    with pytest.raises(BadInput, match="no deployment gren"):
        controller.start(Plan("x", EP, "blue", "gren", plan().steps))


def test_aborting_in_the_mirror_step_turns_mirroring_off(setup):
    ws, controller, clock = setup
    ws.endpoints.metrics = metrics()(ws)
    controller.start(plan(mirror=Mirror(20, 60.0)))
    run(controller, clock, lambda s: s.step == -1 and s.step_started_at is not None)
    assert controller.command(EP, "abort").phase == ABORTED
    assert live(ws) == {"blue": 100} and not ws.endpoints.get(EP).traffic.mirror


def test_every_step_and_analysis_goes_to_the_audit_log_with_its_numbers(setup, tmp_path):
    ws, _, clock = setup
    rows = []
    controller = Controller(ws, tmp_path, clock, audit=lambda op, target, **kw: rows.append((op, target, kw)))
    ws.endpoints.metrics = metrics(lambda live: (200, 0.5, 40.0))(ws)
    controller.start(plan())
    run(controller, clock, lambda s: s.phase == ROLLED_BACK)
    ops = [op for op, _, _ in rows]
    assert ops[:3] == ["rollouts.traffic", "rollouts.reported", "rollouts.step_applied"]
    assert ops.count("rollouts.analysis") == 2 and ops[-1] == "rollouts.rolled_back"
    analysis = next(kw for op, _, kw in rows if op == "rollouts.analysis")
    assert analysis["after"]["analysis"]["verdict"] == "fail" and "50.00% < 99.00%" in analysis["detail"]
    assert analysis["after"]["figures"]["candidate"]["success_rate"] == 0.5


def test_no_step_sends_traffic_to_a_candidate_whose_instances_are_not_ready(setup):
    import dataclasses

    ws, controller, clock = setup
    ws.endpoints.metrics = metrics()(ws)
    endpoint = ws.state.endpoints[0]
    starting = tuple(dataclasses.replace(d, ready_instances=0) if d.name == "green" else d for d in endpoint.deployments)
    ws.state.endpoints = [dataclasses.replace(endpoint, deployments=starting)]
    controller.start(plan())
    for _ in range(5):
        state = controller.tick(EP)
        clock.now += 1
    assert state.phase == PROGRESSING and state.reason == "waiting for green: 0 of 2 instances ready"
    assert live(ws) == {"blue": 100} and [h["event"] for h in state.history].count("waiting") == 1
    ws.state.endpoints = [dataclasses.replace(endpoint, deployments=endpoint.deployments)]
    run(controller, clock, lambda s: s.phase == SUCCEEDED)


def test_a_hosts_pass_reports_what_moved_and_what_failed_and_goes_on(setup):
    from console.errors import BackendUnavailable

    ws, controller, clock = setup
    ws.endpoints.metrics = metrics()(ws)
    controller.start(plan())
    moved, failed = [], []
    controller.tick_all(moved.append, lambda endpoint, err: failed.append((endpoint, err)))
    assert [s.plan.endpoint for s in moved] == [EP] and not failed

    def down(name, **kw):
        raise BackendUnavailable("the endpoint cannot be read")

    ws.endpoints.get = down
    controller.tick_all(moved.append, lambda endpoint, err: failed.append((endpoint, err)))
    assert len(moved) == 1 and [(e, type(err).__name__) for e, err in failed] == [(EP, "BackendUnavailable")]
