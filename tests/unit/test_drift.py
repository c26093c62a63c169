"""The drift engine (console/drift/) against direct scipy and numpy computations.

Every metric is compared with scipy on many seeded random cases (`wasserstein_distance` over the
sample std, `distance.jensenshannon(base=2)`, `ks_2samp`, `chisquare`), PSI with a direct numpy
computation of Azure's (tests/unit/test_drift_azure.py has the rest of Azure's definitions), plus the
edge cases (ties, constant columns, all-null columns, unseen categories, one production row,
1e12 outliers, integer typing), the streaming reduction, the profile file and the verdict rules.
Baselines exceed 10,000 rows so that `ks_2samp`'s default is its asymptotic method, which is the
p-value the engine reimplements.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest

from console import drift
from console.domain import FeatureDrift
from console.drift import (
    BaselineProfile,
    DriftAccumulator,
    chi2_sf,
    compute_drift,
    infer_feature_type,
    kolmogorov_sf,
    profile_baseline,
    psi_level,
    verdict,
)
from console.errors import BadInput, InvalidField
from console.lazy import lazy

# Imported on first use: every worker collects every file, and these take a second.
pd = lazy("pandas")
stats = lazy("scipy.stats")
distance = lazy("scipy.spatial.distance")

W1_TOLERANCE = 0.005  # the requirement on the normalized Wasserstein
P_TOLERANCE = 0.005  # KS p-values when the baseline is summarised (more than 8,193 distinct values)
# Azure's PSI when a side is summarised: the baseline beyond 8,193 distinct values (its counts
# at the bin edges interpolated in the CDF table, within 1/8192 of the rows), production past
# 10,000 rows (its cut cells split in proportion). The largest error over the random cases is
# 1.2e-4 at PSI 0.10 and 0.3 % of smaller values.
PSI_TOLERANCE = {"rel": 2e-3, "abs": 2e-4}


# --- direct computations ---------------------------------------------------------------------


def exact_nw(base: np.ndarray, prod: np.ndarray) -> float:
    """Azure's normalized Wasserstein: scipy's W1 over the baseline's sample standard deviation
    (Spark's `stddev`), floored at 0.001 (numerical_data_drift_metrics.py `_normalized_wasserstein`)."""
    base, prod = base[np.isfinite(base)], prod[np.isfinite(prod)]
    std = np.std(base, ddof=1) if len(base) > 1 else 0.0
    return stats.wasserstein_distance(base, prod) / max(std, 0.001)


def azure_psi(base_counts, prod_counts) -> float:
    """Azure's PSI over the same bins: every count + 1, over the total + the number of bins
    (numerical_data_drift_metrics.py `_psi_numerical`, categorical_data_drift_metrics.py
    `_psi_categorical`)."""
    b = np.asarray(base_counts, float) + 1
    q = np.asarray(prod_counts, float) + 1
    b, q = b / b.sum(), q / q.sum()
    return float(np.sum((q - b) * np.log(q / b)))


def azure_bins(base: np.ndarray, prod: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both sides' counts in Azure's numeric bins: ceil(log2(smaller count) + 1) equal-width bins
    over the joint range, [a, b) and the last closed (shared_utilities/histogram_utils.py)."""
    base, prod = base[np.isfinite(base)], prod[np.isfinite(prod)]
    bins = math.ceil(math.log2(min(len(base), len(prod))) + 1)
    low, high = min(base.min(), prod.min()), max(base.max(), prod.max())
    if low == high:
        return np.array([len(base)]), np.array([len(prod)])
    width = (high - low) / bins
    edges = [low + i * width for i in range(bins + 1)]
    edges[-1] = high
    return np.histogram(base, edges)[0], np.histogram(prod, edges)[0]


def direct_numeric_psi(base: np.ndarray, prod: np.ndarray) -> float:
    return azure_psi(*azure_bins(base, prod))


def union_shares(base: list, prod: list) -> tuple[list, np.ndarray, np.ndarray, np.ndarray]:
    """Categories (baseline's first), baseline shares, production shares and counts over the union."""
    b = pd.Series(base).dropna().value_counts()
    q = pd.Series(prod).dropna().value_counts()
    cats = list(b.index) + [c for c in q.index if c not in b.index]
    bc = np.array([b.get(c, 0) for c in cats], float)
    qc = np.array([q.get(c, 0) for c in cats], float)
    return cats, bc / bc.sum(), qc / qc.sum(), qc


def union_counts(base: list, prod: list) -> tuple[np.ndarray, np.ndarray]:
    """Both sides' counts over the union of categories, keyed by their text as Azure keys them."""
    b = pd.Series([str(v) for v in base if v is not None]).value_counts()
    q = pd.Series([str(v) for v in prod if v is not None]).value_counts()
    cats = list(b.index) + [c for c in q.index if c not in b.index]
    return np.array([b.get(c, 0) for c in cats], float), np.array([q.get(c, 0) for c in cats], float)


def direct_chi2_p(p_base: np.ndarray, q_counts: np.ndarray) -> float:
    """scipy's chisquare on the engine's cells: shares floored at 1e-4, categories expecting
    fewer than 5 rows pooled (with the smallest other one if the pool still expects < 5)."""
    share = np.maximum(p_base, 1e-4)
    expected = share / share.sum() * q_counts.sum()
    observed = q_counts.astype(float)
    small = expected < 5
    if small.any():
        pool = [observed[small].sum(), expected[small].sum()]
        observed, expected = list(observed[~small]), list(expected[~small])
        if pool[1] < 5 and expected:
            j = int(np.argmin(expected))
            pool = [pool[0] + observed.pop(j), pool[1] + expected.pop(j)]
        observed, expected = np.array(observed + [pool[0]]), np.array(expected + [pool[1]])
    if len(observed) < 2:
        return 1.0
    return float(stats.chisquare(observed, expected).pvalue)


def one(base, prod, kind=None, **report) -> FeatureDrift:
    types = {"x": kind} if kind else None
    acc = DriftAccumulator(profile_baseline({"x": base}, types)).update({"x": prod})
    return acc.report(**report).features[0]


# --- random numeric cases ---------------------------------------------------------------------

DISTRIBUTIONS = ["normal", "lognormal", "heavy", "exponential", "uniform", "bimodal", "poisson",
                 "rounded", "spike", "integers"]


def draw(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    if kind == "normal":
        return rng.normal(0, 1, n)
    if kind == "lognormal":
        return rng.lognormal(0, 1.5, n)
    if kind == "heavy":
        return rng.standard_t(2, n) * 10
    if kind == "exponential":
        return rng.exponential(3, n)
    if kind == "uniform":
        return rng.uniform(-5, 5, n)
    if kind == "bimodal":
        return np.where(rng.random(n) < 0.5, rng.normal(0, 1, n), rng.normal(10, 1, n))
    if kind == "poisson":  # heavy ties
        return rng.poisson(4, n).astype(float)
    if kind == "rounded":  # ties, fewer than 8,193 distinct values
        return np.round(rng.normal(100, 15, n), 1)
    if kind == "spike":  # 30 % of the mass on one value
        return np.where(rng.random(n) < 0.3, 0.0, rng.normal(0, 1, n))
    return rng.integers(0, 50_000, n).astype(float)


PRODUCTION_SIZES = [10, 57, 300, 999, 1000, 5000, 30000]


def numeric_case(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    kind = DISTRIBUTIONS[seed % len(DISTRIBUTIONS)]
    base = draw(kind, int(rng.choice([12_000, 25_000])), rng)
    n = PRODUCTION_SIZES[seed % len(PRODUCTION_SIZES)]
    other = kind if rng.random() < 0.7 else DISTRIBUTIONS[int(rng.integers(len(DISTRIBUTIONS)))]
    prod = draw(other, n, rng) * rng.choice([1.0, 1.0, 0.5, 2.0])
    prod += rng.choice([0.0, 0.0, 0.05, 0.3, 3.0]) * np.std(base)
    if seed % 9 == 4:
        prod[rng.integers(n)] = 1e12  # a huge outlier in production
    if seed % 11 == 6:
        base[rng.integers(len(base))] = -1e12  # and in the baseline
    if seed % 13 == 2:
        prod = np.full(n, rng.choice(base))  # every production row tied on a baseline value
    if seed % 10 == 3:
        base[rng.random(len(base)) < 0.05] = np.nan
        prod[rng.random(n) < 0.1] = np.nan
    return base, prod


@pytest.mark.parametrize("seed", range(70))
def test_numeric_metrics_match_scipy(seed):
    base, prod = numeric_case(seed)
    acc = DriftAccumulator(profile_baseline({"x": base})).update({"x": prod})
    f = acc.report().features[0]
    n = int(np.isfinite(prod).sum())
    assert f.type == "numeric" and f.metric == "normalized_wasserstein_distance"
    if n < 10:
        assert f.value is None and f.note == "not enough data"
        return
    exact = exact_nw(base, prod)
    error = abs(f.value - exact)
    assert error <= W1_TOLERANCE * max(1.0, abs(exact) * 1e-9)  # relative once 1e12 outliers dominate
    assert error <= acc.w1_error_bound("x") + 1e-9 * max(1.0, exact)  # the certified bound holds
    assert f.psi == pytest.approx(direct_numeric_psi(base, prod), **PSI_TOLERANCE)
    assert f.null_rate == pytest.approx(1 - n / len(prod))
    assert f.baseline_null_rate == pytest.approx(1 - np.isfinite(base).sum() / len(base))
    if n < 1000:
        b, p = base[np.isfinite(base)], prod[np.isfinite(prod)]
        expected = stats.ks_2samp(b, p).pvalue
        exact_table = len(np.unique(b)) <= drift.CDF_POINTS + 1
        assert f.p_value == pytest.approx(expected, abs=1e-9 if exact_table else P_TOLERANCE)
        assert f.drifted == (f.value > 0.1 and f.p_value < 0.05)
    else:
        assert f.p_value is None
        assert f.drifted == (f.value > 0.1)


def test_ks_statistic_is_exact_when_the_table_holds_every_baseline_value():
    rng = np.random.default_rng(3)
    base = rng.integers(0, 3000, 20_000).astype(float)  # ties, 3,000 distinct values
    for shift in (0, 20, 100):
        prod = rng.integers(0, 3000, 400).astype(float) + shift
        f = one(base, prod)
        assert f.p_value == pytest.approx(stats.ks_2samp(base, prod, method="asymp").pvalue, rel=1e-9, abs=1e-15)


# --- random categorical cases -----------------------------------------------------------------


def categorical_case(seed: int) -> tuple[list, list]:
    rng = np.random.default_rng(1000 + seed)
    k = int(rng.integers(2, 30))
    cats = [f"c{i}" for i in range(k)]
    share = rng.dirichlet(np.ones(k) * rng.choice([0.3, 1.0, 5.0]))
    base = list(rng.choice(cats, size=int(rng.choice([2_000, 20_000])), p=share))
    n = [10, 40, 300, 999, 1000, 20_000][seed % 6]
    prod_cats = cats + [f"new{i}" for i in range(int(rng.integers(0, 3)))] if seed % 3 == 0 else cats
    prod_share = rng.dirichlet(np.ones(len(prod_cats)) * 2) if seed % 2 else None
    if prod_share is None:
        prod_share = np.concatenate([share, np.full(len(prod_cats) - k, 0.02)])
        prod_share /= prod_share.sum()
    prod = list(rng.choice(prod_cats, size=n, p=prod_share))
    if seed % 5 == 1:
        base[: len(base) // 20] = [None] * (len(base) // 20)
        prod[: n // 10] = [None] * (n // 10)
    return base, prod


@pytest.mark.parametrize("seed", range(60))
def test_categorical_metrics_match_scipy(seed):
    base, prod = categorical_case(seed)
    f = one(np.array(base, dtype=object), np.array(prod, dtype=object))
    assert f.type == "categorical" and f.metric == "jensen_shannon_distance"
    _, p, q, q_counts = union_shares(base, prod)
    n = int(q_counts.sum())
    if n < 10:
        assert f.value is None
        return
    assert f.value == pytest.approx(distance.jensenshannon(p, q, base=2), rel=1e-9, abs=1e-12)
    assert f.psi == pytest.approx(azure_psi(*union_counts(base, prod)), rel=1e-9, abs=1e-12)
    assert f.null_rate == pytest.approx(sum(v is None for v in prod) / len(prod))
    if n < 1000:
        assert f.p_value == pytest.approx(direct_chi2_p(p, q_counts), rel=1e-7, abs=1e-12)
        assert f.drifted == (f.value > 0.1 and f.p_value < 0.05)
    else:
        assert f.p_value is None and f.drifted == (f.value > 0.1)


def test_many_rare_categories_do_not_fake_a_drift():
    # 72 integer categories (typed categorical by the 0.05 rule), 300 production rows drawn from
    # the baseline's own distribution: JS is biased up by the small sample and, unpooled, the
    # chi-squared p-value would be near 0; pooled, it is not, so the feature has not drifted.
    rng = np.random.default_rng(16)
    share = rng.dirichlet(np.ones(72))
    base = rng.choice(72, 4000, p=share)
    prod = rng.choice(72, 300, p=share)
    f = one(base, prod)
    assert f.type == "categorical" and f.value > 0.1
    _, p, _, counts = union_shares(list(base), list(prod))
    unpooled = stats.chisquare(counts, np.maximum(p, 1e-4) / np.maximum(p, 1e-4).sum() * counts.sum()).pvalue
    assert f.p_value == pytest.approx(direct_chi2_p(p, counts))
    assert f.p_value > 0.05 and not f.drifted and unpooled < f.p_value


def test_unseen_categories_count_in_the_union():
    base = ["a"] * 500 + ["b"] * 500
    prod = ["a"] * 100 + ["b"] * 50 + ["z"] * 50  # z never seen in the baseline
    f = one(np.array(base, dtype=object), np.array(prod, dtype=object))
    _, p, q, counts = union_shares(base, prod)
    assert len(p) == 3
    assert f.value == pytest.approx(distance.jensenshannon(p, q, base=2))
    assert f.psi == pytest.approx(azure_psi(*union_counts(base, prod)))
    # chi-squared: z expects 1e-4 of the rows (floored, renormalised, pooled), and has 50
    assert f.p_value == pytest.approx(direct_chi2_p(p, counts))
    assert f.p_value < 1e-10 and f.drifted


# --- the p-value functions themselves ------------------------------------------------------------


def test_kolmogorov_sf_matches_scipy_kstwo():
    for n in (1, 2, 5, 20, 100, 140, 141, 300, 999, 2000):
        for d in np.concatenate([np.linspace(0.002, 0.998, 60), [0.5 / n, 1 / n]]):
            assert kolmogorov_sf(n, d) == pytest.approx(stats.kstwo.sf(d, n), rel=1e-8, abs=1e-12)


def test_chi2_sf_matches_scipy():
    for dof in (1, 2, 7, 40, 500, 5000):
        for x in np.linspace(0.01, 3 * dof + 40, 40):
            assert chi2_sf(x, dof) == pytest.approx(stats.chi2.sf(x, dof), rel=1e-8, abs=1e-14)


# --- edge cases -------------------------------------------------------------------------------


def test_constant_baseline_uses_the_std_floor():
    rng = np.random.default_rng(5)
    base = np.full(20_000, 3.0)
    same = one(base, np.full(2_000, 3.0))
    assert same.value == 0 and not same.drifted
    nudged = 3.0 + rng.normal(0, 0.0005, 2_000)
    f = one(base, nudged)
    assert f.value == pytest.approx(stats.wasserstein_distance(base, nudged) / 0.001, abs=1e-9)
    assert f.value > 0.1 and f.drifted
    far = one(base, np.full(50, 7.0))
    assert far.value == pytest.approx(4.0 / 0.001)


def test_ties_on_both_sides():
    rng = np.random.default_rng(6)
    base = rng.choice([1.0, 2.0, 5.0, 9.0], 30_000, p=[0.4, 0.3, 0.2, 0.1])
    prod = rng.choice([1.0, 2.0, 5.0, 9.0], 40_000, p=[0.1, 0.2, 0.3, 0.4])
    f = one(base, prod, "numeric")
    assert f.value == pytest.approx(exact_nw(base, prod), abs=1e-6)
    assert f.psi == pytest.approx(direct_numeric_psi(base, prod), **PSI_TOLERANCE)


def test_all_null_production_column_is_not_enough_data():
    base = pd.DataFrame({"x": np.random.default_rng(0).normal(size=1000), "c": ["a", "b"] * 500})
    prod = pd.DataFrame({"x": [np.nan] * 200, "c": [None] * 200})
    report = compute_drift(base, prod)
    for f in report.features:
        assert f.value is None and not f.drifted and f.note == "not enough data"
        assert f.null_rate == 1.0 and f.baseline_null_rate == 0.0
    assert report.drifted_share == 0.0 and not report.alert and not report.dataset_drift


def test_all_null_baseline_column():
    base = {"x": np.full(1000, np.nan), "c": np.array([None] * 1000, dtype=object)}
    prod = {"x": np.ones(100), "c": np.array(["a"] * 100, dtype=object)}
    report = compute_drift(base, prod)
    for f in report.features:
        assert f.value is None and f.note == "no baseline data" and f.baseline_null_rate == 1.0


def test_single_production_row_is_not_enough_data():
    base = np.random.default_rng(1).normal(size=5000)
    f = one(base, np.array([100.0]))
    assert (f.value, f.drifted, f.note, f.psi, f.p_value) == (None, False, "not enough data", None, None)
    assert one(base, base[:9]).value is None
    assert one(base, base[:10]).value is not None


def test_huge_outliers_do_not_break_w1():
    rng = np.random.default_rng(2)
    base = rng.normal(size=20_000)
    prod = rng.normal(size=5_000)
    prod[[3, 77]] = [1e12, -1e12]
    f = one(base, prod)
    exact = exact_nw(base, prod)
    assert f.value == pytest.approx(exact, rel=1e-9)
    base[10] = 1e12  # an outlier in the baseline: std explodes, the grid follows
    prod = rng.normal(size=5_000)
    f = one(base, prod)
    assert abs(f.value - exact_nw(base, prod)) < W1_TOLERANCE
    prod[0] = 5e12
    f = one(base, prod)
    assert f.value == pytest.approx(exact_nw(base, prod), rel=1e-6)


def test_heavy_tails_beyond_the_uniform_window():
    # Cauchy: the range spans far more than 65,536 cells of 0.002 std, so the uniform cells cover
    # a window and the tails fall on order-statistic cells, with a certified bound.
    rng = np.random.default_rng(9)
    base = rng.standard_cauchy(30_000)
    profile = profile_baseline({"x": base})
    item = profile.features["x"]
    assert len(item.lower) >= 1 and len(item.upper) > 1 and item.cells == drift.MAX_UNIFORM_CELLS
    assert item.w1_error_bound < W1_TOLERANCE
    for prod in (rng.standard_cauchy(20_000), rng.standard_cauchy(500) * 3 + 5, np.full(100, base.max() * 0.9)):
        acc = DriftAccumulator(profile).update({"x": prod})
        f = acc.report().features[0]
        assert abs(f.value - exact_nw(base, prod)) <= min(W1_TOLERANCE, acc.w1_error_bound("x") + 1e-9)
        assert f.psi == pytest.approx(direct_numeric_psi(base, prod), **PSI_TOLERANCE)


def test_empty_chunks_change_nothing():
    rng = np.random.default_rng(10)
    profile = profile_baseline(mixed_frame(2_000, rng))
    prod = mixed_frame(300, rng)
    acc = DriftAccumulator(profile).update(prod.iloc[:0]).update(prod).update(prod.iloc[:0])
    same_features(acc.report().features, DriftAccumulator(profile).update(prod).report().features, rel=0)


def test_nulls_and_infinities_are_left_out_and_reported():
    rng = np.random.default_rng(4)
    base = rng.normal(size=10_000)
    base[:1000] = np.nan
    prod = rng.normal(0.5, 1, 2000)
    prod[:300] = np.nan
    prod[300:400] = np.inf
    f = one(base, prod)
    assert f.baseline_null_rate == pytest.approx(0.1)
    assert f.null_rate == pytest.approx(0.2)
    assert f.value == pytest.approx(exact_nw(base, prod[400:]), abs=1e-3)


# --- feature typing ----------------------------------------------------------------------------


def test_types_as_azure_infers_them():
    rng = np.random.default_rng(0)
    n = 20_000
    df = pd.DataFrame({
        "f": rng.normal(size=n),
        "s": rng.choice(["a", "b"], n),
        "b": rng.random(n) < 0.5,
        "few_ints": rng.integers(0, 20, n),  # 20 / 20,000 distinct: categorical
        "many_ints": rng.integers(0, 10**9, n),  # ~all distinct: numeric
        "at_share": np.arange(n) % 1000,  # 1,000 / 20,000 = 0.05 exactly: not below, numeric
        "under_share": np.arange(n) % 999,  # 0.04995: categorical
        "nullable": pd.array(list(rng.integers(0, 5, n - 1)) + [None], dtype="Int64"),
        "cat": pd.Categorical(rng.choice(["x", "y"], n)),
    })
    profile = profile_baseline(df)
    assert profile.feature_types == {
        "f": "numeric", "s": "categorical", "b": "categorical", "few_ints": "categorical",
        "many_ints": "numeric", "at_share": "numeric", "under_share": "categorical",
        "nullable": "categorical", "cat": "categorical",
    }
    assert infer_feature_type(np.array([1.5, 2.5])) == "numeric"
    overridden = profile_baseline(df, {"few_ints": "numeric", "f": "categorical"})
    assert overridden.feature_types["few_ints"] == "numeric"
    assert overridden.feature_types["f"] == "categorical"


def test_integer_typed_categorical_and_numeric_give_their_metrics():
    rng = np.random.default_rng(8)
    base = rng.integers(0, 6, 20_000)
    prod = rng.integers(0, 8, 3_000)  # 6 and 7 unseen
    cat = one(base, prod)
    assert cat.type == "categorical"
    _, p, q, _ = union_shares(list(base), list(prod))
    assert cat.value == pytest.approx(distance.jensenshannon(p, q, base=2))
    num = one(base, prod, "numeric")
    assert num.type == "numeric"
    assert num.value == pytest.approx(exact_nw(base.astype(float), prod.astype(float)), abs=1e-4)
    # production floats (NaN made the column float) still match integer categories
    as_float = prod.astype(float)
    as_float[:10] = np.nan
    f = one(base, as_float)
    _, p, q, _ = union_shares(list(base), [v for v in prod[10:]])
    assert f.value == pytest.approx(distance.jensenshannon(p, q, base=2))


def test_bad_overrides_are_rejected():
    df = {"x": np.ones(10)}
    with pytest.raises(InvalidField, match="expected numeric or categorical"):
        profile_baseline(df, {"x": "ordinal"})
    with pytest.raises(InvalidField, match="no feature named"):
        profile_baseline(df, {"y": "numeric"})
    with pytest.raises(InvalidField, match="cannot monitor"):
        profile_baseline({"t": np.array(["2024-01-01"], dtype="datetime64[ns]")})


# --- streaming, merging, storage ---------------------------------------------------------------


def mixed_frame(n: int, rng: np.random.Generator, shift: float = 0.0) -> pd.DataFrame:
    return pd.DataFrame({
        "a": rng.normal(shift, 1, n),
        "b": rng.lognormal(0, 1, n),
        "c": rng.choice(["x", "y", "z", "w"], n, p=[0.4, 0.3, 0.2, 0.1]),
        "d": rng.integers(0, 4, n),
        "e": np.where(rng.random(n) < 0.1, np.nan, rng.exponential(2, n)),
    })


def same_features(left, right, rel=1e-9):
    for x, y in zip(left, right):
        assert (x.feature, x.type, x.drifted, x.note, x.null_rate) == (y.feature, y.type, y.drifted, y.note, y.null_rate)
        for field in ("value", "psi", "p_value"):
            a, b = getattr(x, field), getattr(y, field)
            assert (a is None) == (b is None)
            if a is not None:
                assert a == pytest.approx(b, rel=rel, abs=1e-12)
        assert x.bins == y.bins
        assert x.baseline_share == pytest.approx(y.baseline_share, rel=rel, abs=1e-12)
        assert x.production_share == pytest.approx(y.production_share, rel=rel, abs=1e-12)


@pytest.mark.parametrize("rows", [700, 30_000])
def test_many_small_chunks_equal_one_big_chunk(rows):
    rng = np.random.default_rng(rows)
    profile = profile_baseline(mixed_frame(20_000, rng))
    prod = mixed_frame(rows, rng, shift=0.2)
    whole = DriftAccumulator(profile).update(prod).report()
    acc = DriftAccumulator(profile)
    cuts = np.sort(rng.choice(np.arange(1, rows), size=60, replace=False))
    for part in np.split(np.arange(rows), cuts):
        acc.update(prod.iloc[part])
    same_features(acc.report().features, whole.features)
    assert acc.rows == rows
    # a dict of numpy arrays gives the same as the DataFrame
    arrays = {name: prod[name].to_numpy() for name in prod.columns}
    same_features(DriftAccumulator(profile).update(arrays).report().features, whole.features)
    # two half windows merged give the same as one
    half = rows // 2
    merged = DriftAccumulator(profile).update(prod.iloc[:half]).merge(
        DriftAccumulator(profile).update(prod.iloc[half:]))
    same_features(merged.report().features, whole.features)


def test_profile_saves_to_json_and_loads_back(tmp_path):
    rng = np.random.default_rng(11)
    base = mixed_frame(30_000, rng)
    base.loc[5, "b"] = 1e12
    profile = profile_baseline(base)
    json.dumps(profile.to_dict())  # JSON-serialisable as it stands
    path = profile.save(tmp_path / "baseline.json")
    loaded = BaselineProfile.load(path)
    assert loaded.feature_types == profile.feature_types == {
        "a": "numeric", "b": "numeric", "c": "categorical", "d": "categorical", "e": "numeric"}
    assert loaded.rows == 30_000
    prod = mixed_frame(5_000, rng, shift=0.3)
    same_features(DriftAccumulator(loaded).update(prod).report().features,
                  DriftAccumulator(profile).update(prod).report().features, rel=0)
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(BadInput, match="not a drift baseline profile"):
        BaselineProfile.load(tmp_path / "bad.json")


def test_missing_production_column_counts_as_null():
    rng = np.random.default_rng(12)
    profile = profile_baseline(mixed_frame(2_000, rng))
    report = DriftAccumulator(profile).update(mixed_frame(500, rng).drop(columns=["a"])).report()
    a = report.features[0]
    assert a.feature == "a" and a.null_rate == 1.0 and a.value is None


# --- histograms --------------------------------------------------------------------------------


def test_histogram_shares_sum_to_one_on_both_sides_nulls_left_out():
    rng = np.random.default_rng(21)
    base, prod = mixed_frame(20_000, rng), mixed_frame(3_000, rng, shift=0.5)
    prod.loc[prod.index[:300], ["a", "c"]] = None
    for f in compute_drift(base, prod).features:
        assert len(f.bins) == len(f.baseline_share) == len(f.production_share) >= 2, f.feature
        assert sum(f.baseline_share) == pytest.approx(1.0) and sum(f.production_share) == pytest.approx(1.0)
        assert min(f.baseline_share) >= 0 and min(f.production_share) >= 0
    a = compute_drift(base, prod).features[0]
    assert a.null_rate == pytest.approx(0.1)  # the nulls are a rate, not a bin


def test_numeric_bins_are_the_psi_bins_labelled_by_their_edges():
    rng = np.random.default_rng(22)
    base = rng.normal(36, 12, 20_000)
    prod = np.append(rng.normal(36, 12, 4_000), [np.nan, np.inf])
    profile = profile_baseline({"x": base})
    f = DriftAccumulator(profile).update({"x": prod}).report().features[0]
    edges = np.unique(np.quantile(base, np.linspace(0, 1, 11)[1:-1]))
    text = [drift.compact_number(e) for e in edges]
    assert f.bins == tuple([f"<{text[0]}"] + [f"{a}–{b}" for a, b in zip(text, text[1:])] + [f"≥{text[-1]}"])
    assert all(len(label) <= 8 for label in f.bins)
    # baseline shares are the stored profile's, production shares the window's own counts
    stored = profile.features["x"]
    assert f.baseline_share == pytest.approx(tuple(stored.hist_counts / stored.count), abs=0)
    finite = prod[np.isfinite(prod)]
    direct = np.bincount(np.searchsorted(edges, finite, side="right"), minlength=len(edges) + 1) / len(finite)
    assert f.production_share == pytest.approx(tuple(direct), abs=1e-15)
    assert f.psi == pytest.approx(direct_numeric_psi(base, prod), **PSI_TOLERANCE)


def test_bin_labels_are_short_and_keep_neighbouring_edges_apart():
    assert drift.bin_labels([12, 24, 36, 48, 60]) == ["<12", "12–24", "24–36", "36–48", "48–60", "≥60"]
    assert drift.bin_labels([12.31, 12.34, 12.4]) == ["<12.31", "12.31–12.34", "12.34–12.4", "≥12.4"]
    assert drift.bin_labels([1500, 2.4e6]) == ["<1.5k", "1.5k–2.4M", "≥2.4M"]
    assert drift.bin_labels([7.0]) == ["<7", "≥7"]
    assert [drift.compact_number(v) for v in (0.0, -0.0, 0.25, 123.4, 999.7, -1500, 3e9, 1.2e-5, 4e16)] == [
        "0", "0", "0.25", "123", "1k", "-1.5k", "3G", "1.2e-5", "4e16"]


def test_drifted_production_shifts_its_shares():
    rng = np.random.default_rng(23)
    base = rng.normal(0, 1, 20_000)
    same = one(base, rng.normal(0, 1, 5_000))
    shifted = one(base, rng.normal(1, 1, 5_000))
    assert max(abs(b - p) for b, p in zip(same.baseline_share, same.production_share)) < 0.03
    assert shifted.bins == same.bins and shifted.baseline_share == same.baseline_share
    assert shifted.production_share[-1] > 0.3 and shifted.production_share[0] < 0.02  # top decile of the baseline
    cats = ["month", "year", "two-year"]
    moved = one(rng.choice(cats, 20_000, p=[0.6, 0.3, 0.1]), rng.choice(cats, 2_000, p=[0.2, 0.3, 0.5]))
    assert moved.bins == ("month", "year", "two-year")  # most frequent in the baseline first
    assert moved.baseline_share == pytest.approx((0.6, 0.3, 0.1), abs=0.02)
    assert moved.production_share == pytest.approx((0.2, 0.3, 0.5), abs=0.04)


def test_categorical_bins_pool_the_rest_as_other():
    rng = np.random.default_rng(24)
    cats = [f"c{i:02d}" for i in range(20)]
    weights = np.arange(20, 0, -1) / np.arange(20, 0, -1).sum()
    base = rng.choice(cats, 40_000, p=weights)
    prod = np.concatenate([rng.choice(cats, 1_500, p=weights), np.full(500, "brand-new")])
    f = one(base, prod)
    assert len(f.bins) == drift.HISTOGRAM_BINS and f.bins[-1] == "other"
    # the ten most frequent baseline categories in the engine's order, then the new one
    assert f.bins[:-1] == (*cats[:10], "brand-new")
    base_counts = pd.Series(base).value_counts()
    assert f.baseline_share[-1] == pytest.approx(base_counts[cats[10:]].sum() / len(base))
    assert f.production_share[-2] == pytest.approx(0.25)  # brand-new: 500 of 2,000
    assert f.production_share[-1] == pytest.approx(np.isin(prod, cats[10:]).sum() / len(prod))
    assert f.baseline_share[-2] == 0.0
    small = one(rng.choice(["a", "b"], 1_000, p=[0.3, 0.7]), np.array(["a", "z", "b"] * 20))
    assert small.bins == ("b", "a", "z")  # no pooling under 12 categories; unseen ones last
    assert small.production_share[-1] == pytest.approx(1 / 3)


def test_histograms_of_tiny_and_empty_windows():
    rng = np.random.default_rng(25)
    tiny = one(rng.normal(size=5_000), np.array([0.0, 0.1, 5.0]))
    assert tiny.value is None and tiny.note == drift.NOT_ENOUGH_DATA
    assert sum(tiny.production_share) == pytest.approx(1.0) and tiny.production_share[-1] == pytest.approx(1 / 3)
    empty = one(rng.normal(size=5_000), np.array([np.nan, np.nan]))
    assert empty.bins == empty.baseline_share == empty.production_share == ()


def test_report_with_histograms_round_trips_and_old_reports_still_load():
    rng = np.random.default_rng(26)
    report = compute_drift(mixed_frame(5_000, rng), mixed_frame(1_000, rng, shift=0.4))
    wire = json.loads(json.dumps(report.to_dict()))
    assert wire["features"][0]["bins"] == list(report.features[0].bins)
    again = type(report).from_dict(wire)
    assert again == report and isinstance(again.features[0].bins, tuple)
    assert all(isinstance(v, float) for f in again.features for v in f.production_share)
    for item in wire["features"]:  # a report stored before histograms existed
        for key in ("bins", "baseline_share", "production_share"):
            del item[key]
    old = type(report).from_dict(wire)
    assert old.features[0].bins == () and old.features[0].value == report.features[0].value


# --- the flag and the verdict ------------------------------------------------------------------


def test_small_window_needs_the_p_value_too():
    rng = np.random.default_rng(13)
    base = rng.normal(size=20_000)
    # 12 rows from the baseline's own distribution: the distance breaches 0.1 by chance, p does not
    for seed in range(50):
        prod = np.random.default_rng(seed).normal(size=12)
        f = one(base, prod)
        if f.value > 0.1 and f.p_value >= 0.05:
            assert not f.drifted and "small window" in f.note
            break
    else:
        pytest.fail("no noisy small window found")
    shifted = one(base, rng.normal(1.0, 1, 500))
    assert shifted.value > 0.1 and shifted.p_value < 0.05 and shifted.drifted
    big = one(base, rng.normal(0.15, 1, 1000))  # 1,000 rows: the distance alone
    assert big.p_value is None and big.drifted == (big.value > 0.1)


def test_thresholds_are_overridable():
    rng = np.random.default_rng(14)
    base, prod = rng.normal(size=20_000), rng.normal(0.3, 1, 5_000)
    assert one(base, prod).drifted
    f = one(base, prod, threshold={"x": 0.5})
    assert f.threshold == 0.5 and not f.drifted
    assert not one(base, prod, threshold=0.9).drifted
    with pytest.raises(InvalidField):
        one(base, prod, threshold=-1)


def fd(name: str, drifted: bool, value: float | None = 0.2) -> FeatureDrift:
    return FeatureDrift(feature=name, type="numeric", metric="normalized_wasserstein_distance",
                        value=value, threshold=0.1, drifted=drifted)


def test_alert_when_any_top_n_feature_breaches():
    features = [fd(f"f{i}", i == 11) for i in range(12)]  # only the 12th drifted
    share, alert, dataset = verdict(features)
    assert share == pytest.approx(1 / 12) and not alert and not dataset
    assert verdict(features, top_n=12)[1]
    assert verdict(features, importance=["f11"])[1]  # by importance it is in the top 10
    assert verdict(features, importance={"f11": 0.9, "f0": 0.5})[1]
    assert not verdict(features, importance={"f11": -1.0, **{f"f{i}": 1.0 for i in range(10)}})[1]


def test_dataset_drift_at_half_of_the_features_with_enough_data():
    features = [fd("a", True), fd("b", True), fd("c", False), fd("d", False), fd("e", False, None)]
    share, alert, dataset = verdict(features)
    assert share == 0.5 and alert and dataset  # e has not enough data: 2 of 4
    share, _, dataset = verdict(features[1:])
    assert share == pytest.approx(1 / 3) and not dataset
    assert verdict([fd("x", False, None)]) == (0.0, False, False)


def test_report_carries_the_verdict_and_the_window():
    rng = np.random.default_rng(15)
    base = mixed_frame(20_000, rng)
    prod = mixed_frame(5_000, rng, shift=1.0)
    prod["b"] = prod["b"] * 3
    report = compute_drift(base, prod, monitor="churn-drift", endpoint_name="churn",
                           deployment="green", top_n=10)
    drifted = {f.feature for f in report.features if f.drifted}
    assert drifted == {"a", "b"}
    assert report.drifted_share == pytest.approx(2 / 5) and report.alert and not report.dataset_drift
    assert (report.monitor, report.endpoint_name, report.deployment) == ("churn-drift", "churn", "green")
    assert report.baseline_rows == 20_000 and report.production_rows == 5_000
    assert report.window_start <= report.window_end
    again = type(report).from_dict(json.loads(json.dumps(report.to_dict())))
    assert again == report


def test_psi_levels():
    assert [psi_level(v) for v in (None, 0.05, 0.1, 0.2, 0.25, 3)] == [None, "ok", "warn", "warn", "alert", "alert"]


def test_the_engine_imports_neither_pandas_nor_scipy():
    probe = "import console.drift, sys, json; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    modules = json.loads(out.stdout.splitlines()[-1])
    assert not [m for m in modules if m.split(".")[0] in ("pandas", "scipy", "sklearn")]
