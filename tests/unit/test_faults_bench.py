"""benchmarks/faults.py's arithmetic, on made-up request records: the capacity ramp, when a
step passes, when an endpoint counts as back after a fault, and the per-flip figures."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "faults.py"
spec = importlib.util.spec_from_file_location("faults_bench", PATH)
faults = importlib.util.module_from_spec(spec)
spec.loader.exec_module(faults)
Rec = faults.Rec


def steady(start: float, seconds: int, rate: int, status=200, deployment="blue", latency=0.01) -> list:
    return [Rec(start + i / rate, start + i / rate + latency, status, deployment) for i in range(seconds * rate)]


def test_ramp_doubles_then_bisects_three_times():
    assert faults.next_rate([]) == faults.START_RPS
    steps = [(25.0, True), (50.0, True), (100.0, True)]
    assert faults.next_rate(steps) == 200.0
    steps.append((200.0, False))
    assert faults.next_rate(steps) == pytest.approx((100 * 200) ** 0.5)
    steps += [(141.4, True), (168.2, False)]
    assert faults.next_rate(steps) == pytest.approx((141.4 * 168.2) ** 0.5)
    steps.append((154.2, True))
    assert faults.next_rate(steps) is None


def test_ramp_halves_when_the_first_step_fails():
    assert faults.next_rate([(25.0, False)]) == 12.5


def test_a_step_fails_on_errors_latency_or_a_late_client():
    good = steady(0, 4, 50)
    assert faults.step_passes(good, 50, 4)[0]
    with_429 = good[:190] + [r._replace(status=429) for r in good[190:]]  # 5 % refused
    assert not faults.step_passes(with_429, 50, 4)[0]
    slow = [r._replace(done=r.sent + 0.8) for r in good]
    assert not faults.step_passes(slow, 50, 4)[0]
    assert not faults.step_passes(good[:150], 50, 4)[0]  # a quarter never sent


def test_failures_are_non_2xx_and_exceptions():
    assert Rec(0, 1, 201).ok and not Rec(0, 1, 503).ok and not Rec(0, 1, "ClientConnectorError").ok
    records = [Rec(0, 1, 200), Rec(0, 1, 502), Rec(0, 1, "ClientConnectorError"), Rec(0, 1, "ClientConnectorError")]
    assert faults.failure_kinds(records) == "ClientConnectorError x2, 502 x1"


def test_back_is_the_start_of_the_good_run_that_lasts():
    # 10/s; down in seconds 0-1, good in 2-3, bad again in 4 (the queue overflowed), good from 5.
    records = []
    for second in range(10):
        status = 502 if second in (0, 1, 4) else 200
        records += steady(second, 1, 10, status=status)
    bins = faults.success_bins(records, 0, 10)
    assert bins[0] == (10, 0) and bins[2] == (10, 10)
    assert faults.back_after(bins, baseline_ok=10) == 5.0
    assert faults.back_after(bins[:7], baseline_ok=10) is None  # 5 and 6 only: not 3 in a row yet
    assert faults.back_after(faults.success_bins(records, 5, 10), baseline_ok=10) == 0.0
    # Every request answered but at half the rate is not back.
    assert faults.back_after(faults.success_bins(steady(0, 5, 5), 0, 5), baseline_ok=10) is None


def test_a_router_that_never_returns_is_never_back():
    dead = steady(0, 60, 10, status="ClientConnectorError", deployment=None)
    assert faults.back_after(faults.success_bins(dead, 0, 60), baseline_ok=10) is None
    assert not faults.recovered(steady(-5, 5, 10) + dead, 0, 60)


def test_flip_figures_count_per_flip_and_time_the_first_answer_from_the_new_deployment():
    records = steady(0, 1, 10, deployment="blue")[:3]
    records += [r._replace(deployment="green") for r in steady(0, 1, 10)[3:]]
    records[5] = records[5]._replace(status=502)
    records += steady(1, 1, 10, deployment="blue")
    flips = [(0.25, 0.27, "green"), (1.0, 1.02, "blue")]
    first, second = faults.flip_figures(records, flips, end=2.0)
    assert first["sent"] == 7 and first["failed"] == 1 and first["call_s"] == pytest.approx(0.02)
    assert first["back_s"] == pytest.approx(0.3 + 0.01 - 0.25)
    assert second["sent"] == 10 and second["failed"] == 0 and second["back_s"] == pytest.approx(0.01)
