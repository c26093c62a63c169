"""The drift engine against Azure's own monitor, and no silent wrong alert (issue 16).

Expected values are computed here from Azure's published formulas (Azure/azureml-assets,
assets/model_monitoring/components/src/: data_drift_compute_metrics/numerical_data_drift_metrics.py
and categorical_data_drift_metrics.py, shared_utilities/histogram_utils.py,
data_quality_compute_metrics/compute_data_quality_metrics.py, and
model_monitor_evaluate_metrics_threshold/evaluate_metrics_threshold.py for the direction of each
threshold) with numpy, pandas and scipy directly, never with the engine.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from rich.text import Text

from console import drift
from console.domain import Monitor
from console.drift import BaselineProfile, DriftAccumulator, compute_drift, profile_baseline
from console.errors import InvalidField
from console.lazy import lazy

# Imported on first use: every worker collects every file, and these take a second.
pd = lazy("pandas")
stats = lazy("scipy.stats")
distance = lazy("scipy.spatial.distance")

PSI_TOLERANCE = {"rel": 2e-3, "abs": 2e-4}  # a side summarised (see tests/unit/test_drift.py)


# --- Azure's formulas, written out ----------------------------------------------------------------


def azure_nwd(base: np.ndarray, prod: np.ndarray) -> float:
    """`_normalized_wasserstein`: scipy's W1 over Spark's `stddev` (the sample one), floored."""
    std = np.std(base, ddof=1) if len(base) > 1 else 0.0
    return stats.wasserstein_distance(base, prod) / max(std, 0.001)


def azure_bins(base: np.ndarray, prod: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`get_dual_histogram_bin_edges` + `get_histograms`: ceil(log2(smaller count) + 1)
    equal-width bins from the joint minimum to the joint maximum, [a, b) and the last closed."""
    bins = math.ceil(math.log2(min(len(base), len(prod))) + 1)
    low, high = min(base.min(), prod.min()), max(base.max(), prod.max())
    if low == high:
        return np.array([len(base)]), np.array([len(prod)])
    width = (high - low) / bins
    edges = [low]
    for i in range(bins):
        edges.append(low + (i + 1) * width)
    edges[-1] = high
    return np.histogram(base, edges)[0], np.histogram(prod, edges)[0]


def azure_psi(base_counts, prod_counts) -> float:
    """`_psi_numerical` / `_psi_categorical`: count + 1 per bin over total + number of bins."""
    b = [(c + 1) / (sum(base_counts) + len(base_counts)) for c in base_counts]
    q = [(c + 1) / (sum(prod_counts) + len(prod_counts)) for c in prod_counts]
    return float(sum((qi - bi) * np.log(qi / bi) for bi, qi in zip(b, q)))


def text_counts(values) -> pd.Series:
    """`groupBy(column).count()` keyed `str(row[column])`, nulls dropped."""
    return pd.Series([str(v) for v in values if v is not None]).value_counts()


def azure_frequencies(base, prod) -> tuple[list[float], list[float], list[int], list[int]]:
    """`get_column_value_frequency`: per category, keyed `str(value)`, over the union of both sides
    (`create_frequency_arrays_of_all_categories`); either side as values or as `text_counts`."""
    b = base if isinstance(base, pd.Series) else text_counts(base)
    q = prod if isinstance(prod, pd.Series) else text_counts(prod)
    keys = b.index.union(q.index)
    bc = b.reindex(keys, fill_value=0).to_numpy()
    qc = q.reindex(keys, fill_value=0).to_numpy()
    return list(bc / bc.sum()), list(qc / qc.sum()), list(bc), list(qc)


def azure_js_categorical(base, prod) -> float:
    p, q, _, _ = azure_frequencies(base, prod)
    return float(distance.jensenshannon(p, q, base=2))


def one(base, prod, kind=None, **report):
    types = {"x": kind} if kind else None
    return DriftAccumulator(profile_baseline({"x": base}, types)).update({"x": prod}).report(**report).features[0]


# --- 1. Azure's definitions ---------------------------------------------------------------------


def test_normalized_wasserstein_divides_by_the_sample_standard_deviation():
    rng = np.random.default_rng(1)
    base = rng.normal(0, 1, 30)  # a small baseline, where the two deviations differ by 1.7 %
    prod = rng.normal(0.5, 1, 2_000)
    f = one(base, prod)
    assert f.value == pytest.approx(azure_nwd(base, prod), abs=2e-4)
    population = stats.wasserstein_distance(base, prod) / np.std(base)
    assert abs(f.value - population) > 5e-3
    # one baseline row: Spark's stddev is null, Azure divides by 0.001
    assert one(np.array([2.0]), np.full(20, 2.5)).value == pytest.approx(0.5 / 0.001)


def test_categories_compare_as_text_as_azure_keys_them():
    rng = np.random.default_rng(2)
    flags = rng.random(5_000) < 0.3
    as_text = np.where(rng.random(2_000) < 0.3, "True", "False").astype(object)
    f = one(flags, as_text)
    assert f.value == pytest.approx(azure_js_categorical(flags.tolist(), as_text.tolist()), abs=1e-12)
    assert f.value < 0.05 and not f.drifted
    stars = rng.integers(1, 6, 5_000)  # integers 1..5, categorical by Azure's 5 % rule
    text = rng.integers(1, 6, 2_000).astype(str).astype(object)  # "1".."5" in production
    f = one(stars, text)
    assert f.type == "categorical"
    assert f.value == pytest.approx(azure_js_categorical(stars.tolist(), text.tolist()), abs=1e-12)
    assert f.value < 0.05 and not f.drifted
    # a float production column (pandas' way with an integer column holding a null) still matches
    floats = np.append(rng.integers(1, 6, 1_999).astype(float), np.nan)
    assert one(stars, floats).value < 0.05


def test_numeric_psi_is_azures_sturges_bins_over_the_joint_range():
    rng = np.random.default_rng(3)
    base = np.round(rng.normal(50, 10, 20_000), 1)  # under 8,193 distinct values: exact
    prod = np.round(rng.normal(53, 12, 3_000), 1)
    f = one(base, prod)
    b, q = azure_bins(base, prod)
    assert len(b) == math.ceil(math.log2(3_000) + 1) == 13
    assert f.psi == pytest.approx(azure_psi(b, q), rel=1e-12)
    # not the ten baseline deciles with empty bins at 1e-4 it was
    edges = np.unique(np.quantile(base, np.linspace(0, 1, 11)[1:-1]))
    p10 = np.maximum(np.bincount(np.searchsorted(edges, base, side="right"), minlength=10) / len(base), 1e-4)
    q10 = np.maximum(np.bincount(np.searchsorted(edges, prod, side="right"), minlength=10) / len(prod), 1e-4)
    assert abs(f.psi - float(((q10 - p10) * np.log(q10 / p10)).sum())) > 0.01


@pytest.mark.parametrize("case", ["continuous", "large window", "beyond the range", "integers", "outlier"])
def test_numeric_psi_matches_azure_however_the_window_is_summarised(case):
    rng = np.random.default_rng(len(case))
    base = rng.normal(0, 1, 30_000)  # more than 8,193 distinct values: the baseline is summarised
    if case == "continuous":
        prod = rng.normal(0.2, 1.1, 5_000)
    elif case == "large window":  # past 10,000 rows the window is summarised too
        prod = rng.normal(0.2, 1.1, 60_000)
    elif case == "beyond the range":  # most of the window above the baseline's maximum
        prod = rng.normal(4.0, 1.0, 60_000)
    elif case == "integers":
        base = rng.poisson(6, 30_000).astype(float)
        prod = rng.poisson(7, 60_000).astype(float)
    else:
        prod = rng.normal(0, 1, 60_000)
        prod[7] = 1e6  # the joint range is the outlier's: nearly everything in the first bin
    f = one(base, prod, "numeric")
    b, q = azure_bins(base, prod)
    assert f.psi == pytest.approx(azure_psi(b, q), **PSI_TOLERANCE)


def test_categorical_psi_adds_one_per_category_over_the_union():
    rng = np.random.default_rng(4)
    base = rng.choice(["a", "b", "c", "d"], 8_000, p=[0.4, 0.3, 0.2, 0.1]).astype(object)
    prod = np.concatenate([rng.choice(["a", "b", "c"], 1_500, p=[0.2, 0.3, 0.5]), ["new"] * 30]).astype(object)
    f = one(base, prod)
    _, _, bc, qc = azure_frequencies(base.tolist(), prod.tolist())
    assert f.psi == pytest.approx(azure_psi(bc, qc), rel=1e-12)
    constant = one(np.full(500, 3.0), np.full(200, 3.0))
    assert constant.psi == pytest.approx(0.0, abs=1e-15)  # one value: one bin, as Azure does


def test_a_stored_profile_of_the_first_format_is_upgraded_on_load():
    rng = np.random.default_rng(5)
    table = pd.DataFrame({"x": rng.normal(3, 2, 40), "flag": rng.random(40) < 0.5})
    profile = profile_baseline(table)
    old = profile.to_dict()
    old["version"] = 1
    x, flag = old["features"]
    n = x["count"]
    x["std"] = x["std"] * math.sqrt((n - 1) / n)  # format 1 kept the population std
    x["psi_edges"], x["psi_counts"] = x.pop("hist_edges"), x.pop("hist_counts")
    flag["categories"] = [c == "True" for c in flag["categories"]]  # and JSON values
    del flag["kind"]
    loaded = BaselineProfile.from_dict(old)
    assert loaded.features["x"].std == pytest.approx(np.std(table["x"], ddof=1), rel=1e-12)
    assert loaded.features["flag"].categories == profile.features["flag"].categories
    assert loaded.features["flag"].kind == "bool"
    prod = pd.DataFrame({"x": rng.normal(3, 2, 500), "flag": np.where(rng.random(500) < 0.5, "True", "False")})
    again = DriftAccumulator(loaded).update(prod).report().features
    fresh = DriftAccumulator(profile).update(prod).report().features
    assert [f.value for f in again] == pytest.approx([f.value for f in fresh])


# --- every metric a signal may name, with its threshold and direction ----------------------------


def frame(rng: np.random.Generator, n: int, shift: float = 0.0) -> pd.DataFrame:
    return pd.DataFrame({"x": rng.normal(shift, 1, n),
                         "c": rng.choice(["a", "b", "c"], n, p=[0.5 - shift / 4, 0.3, 0.2 + shift / 4])})


@pytest.mark.parametrize("numerical, categorical", [
    ("jensen_shannon_distance", "population_stability_index"),
    ("population_stability_index", "pearsons_chi_squared_test"),
    ("two_sample_kolmogorov_smirnov_test", "jensen_shannon_distance"),
    ("normalized_wasserstein_distance", "pearsons_chi_squared_test"),
])
def test_the_metric_a_signal_names_is_judged_with_its_threshold_and_direction(numerical, categorical):
    rng = np.random.default_rng(6)
    base, prod = frame(rng, 20_000), frame(rng, 3_000, shift=0.15)
    thresholds = {"numerical": {numerical: 0.07}, "categorical": {categorical: 0.03}}
    profile = profile_baseline(base)
    metric, threshold = drift.drift_rules(thresholds, profile.feature_types)
    report = DriftAccumulator(profile).update(prod).report(metric=metric, threshold=threshold)
    x, c = report.features
    assert (x.metric, x.threshold, c.metric, c.threshold) == (numerical, 0.07, categorical, 0.03)
    bx, px = base["x"].to_numpy(), prod["x"].to_numpy()
    b, q = azure_bins(bx, px)
    expected_x = {
        "jensen_shannon_distance": distance.jensenshannon(b / len(bx), q / len(px), base=2),
        "population_stability_index": azure_psi(b, q),
        # baselines over 10,000 rows: ks_2samp's own default is its asymptotic method
        "two_sample_kolmogorov_smirnov_test": stats.ks_2samp(bx, px).pvalue,
        "normalized_wasserstein_distance": azure_nwd(bx, px),
    }[numerical]
    assert x.value == pytest.approx(expected_x, **PSI_TOLERANCE)
    p, qs, bc, qc = azure_frequencies(base["c"].tolist(), prod["c"].tolist())
    if categorical == "pearsons_chi_squared_test":  # the engine's pooled test (no category expects < 5 here)
        expected_c = stats.chisquare(qc, np.array(p) * sum(qc)).pvalue
    else:
        expected_c = {"jensen_shannon_distance": distance.jensenshannon(p, qs, base=2),
                      "population_stability_index": azure_psi(bc, qc)}[categorical]
    assert c.value == pytest.approx(expected_c, rel=1e-9, abs=1e-12)
    for f in (x, c):
        if f.metric in drift.P_VALUE_METRICS:
            assert f.drifted == (f.value < f.threshold)  # a p-value breaches below
        else:
            assert f.drifted == (f.value > f.threshold)
        assert f.psi is not None


def test_a_p_value_breaches_below_its_threshold_a_distance_above():
    rng = np.random.default_rng(7)
    base, prod = rng.normal(0, 1, 20_000), rng.normal(0.08, 1, 2_000)
    ks = one(base, prod, metric="two_sample_kolmogorov_smirnov_test", threshold=0.05)
    assert ks.value < 0.05 and ks.drifted
    assert not one(base, prod, metric="two_sample_kolmogorov_smirnov_test", threshold=ks.value / 2).drifted
    nwd = one(base, prod)  # Azure's default: normalized Wasserstein above 0.1
    assert nwd.metric == "normalized_wasserstein_distance" and nwd.threshold == 0.1 and not nwd.drifted
    with pytest.raises(InvalidField, match="not a metric of numeric"):
        one(base, prod, metric="pearsons_chi_squared_test")
    with pytest.raises(InvalidField, match="at most 1"):
        one(base, prod, metric="two_sample_kolmogorov_smirnov_test", threshold=2)


def test_ks_past_ten_thousand_rows_errs_towards_no_drift():
    rng = np.random.default_rng(8)
    base, prod = rng.normal(0, 1, 20_000), rng.normal(0.03, 1, 40_000)
    f = one(base, prod, metric="two_sample_kolmogorov_smirnov_test")
    d = stats.ks_2samp(base, prod).statistic
    assert f.value >= stats.ks_2samp(base, prod).pvalue - 1e-12
    assert f.value == pytest.approx(drift.ks_pvalue(d, 20_000, 40_000), abs=0.02)
    assert "binned" in f.note


def test_signal_metric_chosen_as_azure_ml_chooses_it():
    from azure.ai.ml.entities import CategoricalDriftMetrics, DataDriftMetricThreshold, NumericalDriftMetrics

    names = ["jensen_shannon_distance", "normalized_wasserstein_distance", "population_stability_index",
             "two_sample_kolmogorov_smirnov_test"]
    for mask in range(16):
        given = {name: 0.2 + i / 100 for i, name in enumerate(names) if mask & (1 << i)}
        entity = DataDriftMetricThreshold(numerical=NumericalDriftMetrics(**given),
                                          categorical=CategoricalDriftMetrics(pearsons_chi_squared_test=0.01))
        name, threshold = entity.numerical._find_name_and_threshold()
        if name is None:  # nothing given: Azure's default
            name, threshold = "normalized_wasserstein_distance", {"value": 0.1}
        assert drift.drift_metric(entity, "numeric") == (str(name.value if hasattr(name, "value") else name),
                                                         pytest.approx(threshold["value"]))
        from_yaml = drift.drift_metric(given and {"numerical": given}, "numeric")
        assert from_yaml[0] == drift.drift_metric(entity, "numeric")[0]
    assert drift.drift_metric(entity, "categorical") == ("pearsons_chi_squared_test", 0.01)
    assert drift.drift_metric(None, "categorical") == ("jensen_shannon_distance", 0.1)


def test_data_quality_rates_as_azure_computes_them():
    rng = np.random.default_rng(9)
    base = pd.DataFrame({"x": rng.normal(10, 2, 5_000), "k": rng.integers(0, 4, 5_000)})
    x = rng.normal(10, 2, 1_000).astype(object)
    x[:30] = None  # nulls
    x[30:42] = "n/a"  # not numbers
    x[42:47] = 1e6  # above the baseline's maximum
    k = rng.integers(0, 4, 1_000).astype(object)
    k[:8] = 7  # a category the baseline never had
    k[8:11] = "seven"  # and one that is no integer
    prod = pd.DataFrame({"x": x, "k": k})
    acc = DriftAccumulator(profile_baseline(base)).update(prod)
    bx = base["x"]
    # compute_data_quality_metrics: each count over the window's rows, rounded to 5 decimals
    numeric = pd.to_numeric(prod["x"], errors="coerce")
    assert acc.quality("x") == {
        "null_value_rate": round(prod["x"].isna().sum() / 1_000, 5),
        "data_type_error_rate": round((numeric.isna() & prod["x"].notna()).sum() / 1_000, 5),
        "out_of_bounds_rate": round(((numeric > bx.max()) | (numeric < bx.min())).sum() / 1_000, 5)}
    assert acc.quality("x") == {"null_value_rate": 0.03, "data_type_error_rate": 0.012, "out_of_bounds_rate": 0.005}
    seen = {str(v) for v in base["k"].unique()}
    assert acc.quality("k") == {"null_value_rate": 0.0, "data_type_error_rate": 0.003,
                                "out_of_bounds_rate": round(sum(str(v) not in seen for v in k) / 1_000, 5)}
    # a data quality signal's thresholds (Azure's default 0.0) alert, and the note says which rate
    rules = drift.quality_rules({"numerical": {"null_value_rate": 0.05, "out_of_bounds_rate": 0.0}},
                                acc.profile.feature_types)
    assert rules == {"x": {"null_value_rate": 0.05, "out_of_bounds_rate": 0.0}}
    report = acc.report(quality=rules)
    assert report.alert and not any(f.drifted for f in report.features)
    assert report.features[0].note.startswith("out-of-bounds rate 0.5 % > 0 %")
    assert drift.quality_rules(None, acc.profile.feature_types) == {
        name: {"null_value_rate": 0.0, "data_type_error_rate": 0.0, "out_of_bounds_rate": 0.0} for name in ("x", "k")}
    assert not acc.report().alert  # no quality signal: only drift decides


# --- 2. categorical features with too many categories for the window ------------------------------


def cardinal_baseline(rng: np.random.Generator) -> pd.DataFrame:
    n = 200_000
    return pd.DataFrame({
        "wide": np.char.add("w", rng.integers(0, 10_000, n).astype(str)).astype(object),  # 10,000 categories
        "uniform": np.char.add("u", rng.integers(0, 100, n).astype(str)).astype(object),  # 100, equally likely
        "ids": np.char.add("id", (np.arange(n) % 2_000).astype(str)).astype(object),  # ID-like: 2,000 values
    })


def draw(baseline: pd.DataFrame, rows: int, rng: np.random.Generator) -> pd.DataFrame:
    return baseline.iloc[rng.integers(0, len(baseline), rows)].reset_index(drop=True)


def azure_js_alerts(baseline: dict[str, pd.Series], window: pd.DataFrame) -> list[str]:
    return [c for c in window.columns if azure_js_categorical(baseline[c], window[c].tolist()) > 0.1]


def test_windows_drawn_from_the_baseline_never_alert_on_their_number_of_categories():
    rng = np.random.default_rng(10)
    baseline = cardinal_baseline(rng)
    profile = profile_baseline(baseline)
    counted = {c: text_counts(baseline[c]) for c in baseline.columns}
    assert set(profile.feature_types.values()) == {"categorical"}
    alerts = {999: 0, 1_000: 0}
    for rows in alerts:
        for _ in range(20):
            window = draw(baseline, rows, rng)
            report = DriftAccumulator(profile).update(window).report(p_value_threshold=0.05 / 3)
            alerts[rows] += report.alert
            if rows == 1_000:
                # Azure's metric breaches on every one of them...
                assert azure_js_alerts(counted, window) == ["wide", "uniform", "ids"]
                # ...the console says why it does not judge them instead
                for f in report.features:
                    assert f.value is None and not f.drifted
                    assert f.note.startswith(f"too many categories ({profile.features[f.feature].counts.size:,}) "
                                             "for 1,000 rows")
    assert alerts == {999: 0, 1_000: 0}


def test_a_real_shift_on_the_same_features_still_alerts():
    rng = np.random.default_rng(11)
    baseline = cardinal_baseline(rng)
    profile = profile_baseline(baseline)
    rows = 400_000  # enough rows for every one of them to be measured
    same = DriftAccumulator(profile).update(draw(baseline, rows, rng)).report()
    assert all(f.value is not None for f in same.features) and not same.alert
    shifted = draw(baseline, rows, rng)
    wide = shifted["wide"].str.slice(1).astype(int)
    shifted.loc[wide < 5_000, "wide"] = "w" + (wide[wide < 5_000] % 2_500).astype(str)  # half the categories gone
    uniform = shifted["uniform"].str.slice(1).astype(int)
    shifted.loc[uniform >= 70, "uniform"] = "u0"  # a third of the rows move to one category
    shifted.loc[: rows // 4, "ids"] = "id-new"  # a quarter of the rows a value never seen
    report = DriftAccumulator(profile).update(shifted).report()
    for f in report.features:
        assert f.value == pytest.approx(azure_js_categorical(baseline[f.feature].tolist(), shifted[f.feature].tolist()),
                                        abs=1e-9)
        assert f.drifted, f.feature
    assert report.alert


def test_the_no_drift_distance_matches_windows_drawn_from_the_baseline():
    rng = np.random.default_rng(12)
    for counts, rows in [(np.full(10_000, 20), 1_000), (np.full(100, 500), 1_000), (np.ones(2_000, int), 1_000),
                         (np.full(100, 500), 20_000), ((50_000 / np.arange(1, 301)).astype(int), 5_000)]:
        share = counts / counts.sum()
        js = [distance.jensenshannon(share, rng.multinomial(rows, share) / rows, base=2) for _ in range(400)]
        mean, quantile = drift.null_distance(counts, rows, "jensen_shannon_distance")
        assert mean == pytest.approx(np.mean(js), rel=0.02)
        assert np.quantile(js, 0.95) <= quantile <= np.quantile(js, 0.999) * 1.05
    mean, _ = drift.null_distance(np.full(100, 500), 1_000, "jensen_shannon_distance")
    assert mean == pytest.approx(0.13, abs=0.01)  # the figure
    mean, _ = drift.null_distance(np.full(10_000, 20), 1_000, "jensen_shannon_distance")
    assert mean == pytest.approx(0.88, abs=0.01)


# --- 3. "ok" only when something was measured ----------------------------------------------------


def test_an_empty_window_no_shared_column_or_all_nulls_measure_nothing():
    rng = np.random.default_rng(13)
    base = pd.DataFrame({"x": rng.normal(size=2_000), "c": rng.choice(["a", "b"], 2_000)})
    profile = profile_baseline(base)
    empty = DriftAccumulator(profile).report()
    other = DriftAccumulator(profile).update(pd.DataFrame({"y": rng.normal(size=500)})).report()
    nulls = DriftAccumulator(profile).update(pd.DataFrame({"x": [np.nan] * 500, "c": [None] * 500})).report()
    for report in (empty, other, nulls):
        assert all(f.value is None and not f.drifted for f in report.features)
        assert not report.alert and report.drifted_share == 0.0
    assert [f.note for f in other.features] == ["not in the production data"] * 2
    assert [f.note for f in nulls.features] == ["not enough data"] * 2


def test_the_drift_pane_says_no_data_not_ok_when_nothing_was_measured():
    from console.ui.panes.drift import _monitor_row

    rng = np.random.default_rng(14)
    base = pd.DataFrame({"x": rng.normal(size=2_000), "c": rng.choice(["a", "b"], 2_000)})
    monitor = Monitor(name="m", endpoint_name="ep", deployment="blue")
    palette = ("red", "green")

    def verdict(production) -> Text:
        report = compute_drift(base, production) if production is not None else \
            DriftAccumulator(profile_baseline(base)).report()
        return _monitor_row(monitor, report, palette)[1]

    for production in (None, pd.DataFrame({"y": [1.0] * 50}), pd.DataFrame({"x": [np.nan] * 50, "c": [None] * 50})):
        cell = verdict(production)
        assert cell.plain == "no data"
        assert "green" not in str(cell.spans)
    measured = verdict(pd.DataFrame({"x": rng.normal(size=500), "c": rng.choice(["a", "b"], 500)}))
    assert measured.plain == "ok" and "green" in str(measured.spans)
