"""Rollout plans (console/rollout_plan.py): the shipped plan reads whole, every bad field is named
with its line by `amlops lint`, and the canary analysis and capacity check (console/canary.py)
decide from the numbers with their reasons."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from console import canary, rollout_plan, specs
from console.errors import SpecError
from console.lint import lint
from console.rollout_plan import Checks, parse_duration

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "specs" / "rollouts" / "churn-green.yml"
MINIMAL = {"type": "rollout", "endpoint": "churn-ep", "stable": "blue", "candidate": "green"}


def write(tmp_path: Path, data: dict, name: str = "plan.yml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_the_shipped_plan_reads_whole_and_lints_clean():
    plan = rollout_plan.load(specs.read(SHIPPED))
    assert (plan.endpoint, plan.stable, plan.candidate) == ("churn-ep", "blue", "green")
    assert [s.weight for s in plan.steps] == [10, 25, 50, 100]
    assert [s.approve for s in plan.steps] == [False, False, False, True]
    assert {s.hold_s for s in plan.steps} == {120.0} and {s.on_failure for s in plan.steps} == {"rollback"}
    assert plan.mirror == rollout_plan.Mirror(20, 60.0)
    assert (plan.interval_s, plan.failure_threshold, plan.inconclusive_timeout_s) == (30.0, 3, 600.0)
    assert plan.checks == Checks(success_rate=0.99, p99_ms=500.0, p99_vs_stable=None, min_requests=10)
    result = lint([REPO / "specs"])
    assert [f for f in result.findings if "rollouts" in f.file] == []


def test_a_minimal_plan_takes_the_defaults():
    plan, problems = rollout_plan.problems(MINIMAL, "ramp")
    assert problems == [] and plan is not None
    assert plan.name == "ramp" and [s.weight for s in plan.steps] == list(rollout_plan.DEFAULT_STEPS)
    assert plan.checks == Checks() and plan.mirror is None and not plan.approve_promotion


@pytest.mark.parametrize("value, seconds", [(30, 30.0), ("90s", 90.0), ("2m", 120.0), ("1h", 3600.0),
                                            ("250ms", 0.25), ("1.5m", 90.0)])
def test_durations(value, seconds):
    assert parse_duration(value) == seconds


@pytest.mark.parametrize("value", ["soon", "-1s", 0, True, "5 minutes"])
def test_bad_durations(value):
    with pytest.raises(ValueError, match="duration"):
        parse_duration(value)


@pytest.mark.parametrize("change, field, words", [
    ({"endpoint": "9bad"}, "endpoint", "Azure's rule"),
    ({"candidate": "blue"}, "candidate", "differ from the stable"),
    ({"steps": [10, 50, 25, 100]}, "steps.2", "must increase"),
    ({"steps": [10, 50]}, "steps.1", "to 100 %"),
    ({"steps": [10, 150]}, "steps.1", "1 to 100"),
    ({"steps": [{"weight": 50, "on_failure": "retry"}, 100]}, "steps.0.on_failure", "rollback or pause"),
    ({"steps": [{"weight": 50, "hold": "5s"}, 100]}, "steps.0.hold", "never be analysed"),
    ({"mirror": {"percent": 60, "duration": "1m"}}, "mirror.percent", "1 to 50"),
    ({"mirror": {"percent": 10}}, "mirror.duration", "required"),
    ({"analysis": {"success_rate": "101%"}}, "analysis.success_rate", "0.99 or 99%"),
    ({"analysis": {"p99": "0.5x"}}, "analysis.p99", "at least 1x"),
    ({"analysis": {"p99": "fast"}}, "analysis.p99", "milliseconds"),
    ({"analysis": {"failure_threshold": 0}}, "analysis.failure_threshold", "at least 1"),
    ({"analysis": {"interval": "1m", "inconclusive_timeout": "30s"}}, "analysis.inconclusive_timeout",
     "shorter than the analysis interval"),
    ({"hold": "1s"}, "hold", "never be analysed"),
    ({"wieght": 3}, "wieght", "unknown field"),
])
def test_each_bad_field_is_named_with_its_line(tmp_path, change, field, words):
    path = write(tmp_path, {**MINIMAL, **change})
    findings = [f for f in lint([path]).findings if f.rule == "invalid-rollout"]
    assert findings, change
    first = findings[0]
    assert first.field == field and words in first.message, first.format()
    assert first.line == specs.read(path).line_of(field)
    with pytest.raises(SpecError) as raised:
        rollout_plan.load(specs.read(path))
    assert raised.value.field == field and f"{path}:{first.line}" in str(raised.value)


def test_every_problem_is_said_in_one_pass(tmp_path):
    path = write(tmp_path, {"type": "rollout", "stable": "blue", "steps": [10, 5],
                            "analysis": {"min_requests": -1}})
    fields = {f.field for f in lint([path]).findings}
    assert {"endpoint", "candidate", "steps.1", "analysis.min_requests"} <= fields


def test_a_plan_naming_a_deployment_no_spec_beside_it_creates_is_warned(tmp_path):
    for name in ("churn-ep.yml", "blue-deployment.yml", "green-deployment.yml"):
        (tmp_path / name).write_text((REPO / "specs" / "endpoints" / name).read_text())
    write(tmp_path, {**MINIMAL, "candidate": "gren"})
    warned = [f for f in lint([tmp_path]).findings if f.rule == "rollout-unknown-deployment"]
    assert len(warned) == 1 and "gren" in warned[0].message and warned[0].field == "candidate"


def test_create_refuses_a_plan_with_a_clear_message(tmp_path):
    with pytest.raises(SpecError, match="rollout plan"):
        specs.load(write(tmp_path, MINIMAL))


# --- the analysis ------------------------------------------------------------------------------


@pytest.mark.parametrize("status, counts", [(200, False), (400, False), (401, False), (404, False), (413, False),
                                            (408, True), (424, True), (429, True), (500, True), (503, True)])
def test_which_answers_count_as_failures(status, counts):
    assert canary.failed(status) is counts


def window(requests=200, failed=0, p99=120.0, seconds=30.0):
    return canary.Window(requests, failed, p99, seconds)


def test_few_requests_is_inconclusive_never_pass_or_fail():
    result = canary.analyse(Checks(min_requests=50), window(requests=12, failed=12, p99=9000))
    assert result.verdict == canary.INCONCLUSIVE
    assert "12 requests" in result.reason and "50" in result.reason
    assert {c.verdict for c in result.checks} == {canary.INCONCLUSIVE}


def test_success_rate_and_p99_decide_with_their_numbers():
    checks = Checks(success_rate=0.99, p99_ms=500.0)
    good = canary.analyse(checks, window(requests=1000, failed=10, p99=480))
    assert good.verdict == canary.PASS
    assert [(c.name, c.value, c.threshold) for c in good.checks] == [("success_rate", 0.99, 0.99),
                                                                     ("p99_ms", 480, 500.0)]
    failing = canary.analyse(checks, window(requests=1000, failed=11, p99=480))
    assert failing.verdict == canary.FAIL and "98.90% < 99.00%" in failing.reason and "11 of 1000" in failing.reason
    slow = canary.analyse(checks, window(p99=501))
    assert slow.verdict == canary.FAIL and "p99 501 ms > 500 ms" in slow.reason


def test_p99_relative_to_the_stable():
    checks = Checks(p99_ms=None, p99_vs_stable=1.5)
    assert canary.analyse(checks, window(p99=140), window(p99=100)).verdict == canary.PASS
    slow = canary.analyse(checks, window(p99=160), window(p99=100))
    assert slow.verdict == canary.FAIL and "1.5x the stable's 100 ms = 150 ms" in slow.reason
    unmeasured = canary.analyse(checks, window(p99=160), window(requests=3))
    assert unmeasured.verdict == canary.INCONCLUSIVE and "stable's p99 is not measured" in unmeasured.reason


def test_a_failure_outweighs_an_undecided_check():
    result = canary.analyse(Checks(p99_ms=None, p99_vs_stable=2.0), window(failed=100), None)
    assert result.verdict == canary.FAIL and result.to_dict()["checks"][1]["verdict"] == canary.INCONCLUSIVE


# --- capacity before weight ------------------------------------------------------------------


def test_capacity_by_littles_law_against_azures_429_rule():
    # 1 instance x 2 concurrent x 2 = 4 in flight; 100 req/s x 50 % x 100 ms = 5: does not fit.
    small = canary.capacity("green", 50, instances=1, max_concurrent=2, rps=100.0, p99_ms=100.0)
    assert (small.fits, small.admitted, small.in_flight) == (False, 4, 5.0)
    assert "add instances to green" in small.reason and "5.0 in flight" in small.reason
    fits = canary.capacity("green", 25, instances=1, max_concurrent=2, rps=100.0, p99_ms=100.0)
    assert fits.fits and fits.in_flight == 2.5
    idle = canary.capacity("green", 25, instances=2, max_concurrent=1, rps=0.0, p99_ms=None)
    assert idle.fits is None and idle.admitted == 4 and "no traffic measured" in idle.reason
