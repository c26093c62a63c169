"""The local monitor hands its schedule's signals to the drift engine: the metric a data drift
signal names, with its threshold and direction, and a data quality signal's rates; not the
normalized Wasserstein and Jensen-Shannon at 0.1 whatever the signal says."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import numpy as np

from console import drift
from console.lazy import lazy
from console.local.monitor import MonitorService

pd = lazy("pandas")  # imported on first use: every worker collects every file

NOW = datetime(2026, 3, 1, 12, tzinfo=timezone.utc)


def service(profile: drift.BaselineProfile, window: pd.DataFrame) -> MonitorService:
    monitor = object.__new__(MonitorService)  # no daemon: the baseline and the window are given
    monitor.ctx = SimpleNamespace(clock=SimpleNamespace(now=lambda: NOW))
    monitor._baseline = lambda row, signal: profile
    monitor._production = lambda row, start, end: iter([window])
    return monitor


def row(signals: dict) -> dict:
    return {"name": "m", "endpoint": "ep", "deployment": "blue",
            "spec": {"create_monitor": {"monitoring_signals": signals}}}


def test_the_monitor_judges_by_the_metric_its_signal_names():
    rng = np.random.default_rng(1)
    base = pd.DataFrame({"x": rng.normal(0, 1, 20_000), "c": rng.choice(["a", "b"], 20_000)})
    window = pd.DataFrame({"x": rng.normal(0.1, 1, 3_000), "c": rng.choice(["a", "b"], 3_000, p=[0.45, 0.55])})
    profile = drift.profile_baseline(base)
    signal = {"type": "data_drift", "metric_thresholds": {
        "numerical": {"two_sample_kolmogorov_smirnov_test": 0.01},
        "categorical": {"population_stability_index": 0.2}}}
    report = service(profile, window).compute(row({"drift": signal}), NOW - timedelta(hours=1), NOW)
    x, c = report.features
    assert (x.metric, x.threshold) == ("two_sample_kolmogorov_smirnov_test", 0.01)
    assert x.value < 0.01 and x.drifted  # a p-value breaches below its threshold
    assert (c.metric, c.threshold) == ("population_stability_index", 0.2)
    assert c.value == c.psi and not c.drifted
    assert report.alert
    default = service(profile, window).compute(row({"drift": {"type": "data_drift"}}), NOW - timedelta(hours=1), NOW)
    assert [(f.metric, f.threshold) for f in default.features] == [
        ("normalized_wasserstein_distance", 0.1), ("jensen_shannon_distance", 0.1)]
    assert not default.alert


def test_a_data_quality_signal_beside_it_is_judged_too():
    rng = np.random.default_rng(2)
    base = pd.DataFrame({"x": rng.normal(0, 1, 5_000)})
    x = rng.normal(0, 1, 2_000)
    x[:40] = np.nan
    profile = drift.profile_baseline(base)
    signals = {"drift": {"type": "data_drift"},
               "quality": {"type": "data_quality", "metric_thresholds": {"numerical": {"null_value_rate": 0.01}}}}
    report = service(profile, pd.DataFrame({"x": x})).compute(row(signals), NOW - timedelta(hours=1), NOW)
    (f,) = report.features
    assert not f.drifted and report.alert
    assert f.note == "null rate 2 % > 1 %"
