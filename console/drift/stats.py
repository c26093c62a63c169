"""Statistics on frequencies and their distributions: Jensen-Shannon distance, PSI as Azure
computes it (Sturges' equal-width bins, +1 per bin) and its level, what a window drawn from the
baseline itself would measure (the no-drift distance of a categorical), Pearson's chi-squared
with Cochran's pooling, and the chi-squared and Kolmogorov-Smirnov survival functions after
scipy's algorithms (scipy is never imported at run time)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from console.drift.rules import CHI2_MIN_EXPECTED, NULL_QUANTILE_Z, PSI_ALERT, PSI_FLOOR, PSI_WARN
from console.drift.rules import POPULATION_STABILITY as POPULATION_STABILITY_METRIC


def jensen_shannon(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon distance in base 2 between two frequency vectors (normalised here)."""
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    p = p / p.sum()
    q = q / q.sum()
    m = (p + q) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        left = np.where(p > 0, p * np.log(p / m), 0.0).sum()
        right = np.where(q > 0, q * np.log(q / m), 0.0).sum()
    return float(math.sqrt(max((left + right) / 2 / math.log(2), 0.0)))


def _psi(p: np.ndarray, q: np.ndarray) -> float:
    p = np.maximum(np.asarray(p, dtype=np.float64), PSI_FLOOR)
    q = np.maximum(np.asarray(q, dtype=np.float64), PSI_FLOOR)
    return float(((q - p) * np.log(q / p)).sum())


def psi(baseline_counts: Sequence[float], production_counts: Sequence[float]) -> float:
    """Population stability index between two count vectors over the same bins, as Azure's
    monitor computes it: every bin's count + 1, over the side's total + the number of bins
    (Azure/azureml-assets, data_drift_compute_metrics/numerical_data_drift_metrics.py
    `_psi_numerical` and categorical_data_drift_metrics.py `_psi_categorical`)."""
    b = np.asarray(baseline_counts, dtype=np.float64) + 1.0
    c = np.asarray(production_counts, dtype=np.float64) + 1.0
    p, q = b / b.sum(), c / c.sum()
    return float(((q - p) * np.log(q / p)).sum())


def sturges_bins(baseline_count: int, production_count: int) -> int:
    """How many equal-width bins Azure's numeric PSI and JS use: Sturges' rule on the smaller
    side, ceil(log2(n) + 1) (shared_utilities/histogram_utils.py `_get_optimal_number_of_bins`)."""
    return math.ceil(math.log2(max(min(baseline_count, production_count), 1)) + 1)


def equal_width_edges(low: float, high: float, bins: int) -> np.ndarray:
    """Azure's bin edges over the joint range [low, high]: low + i * (high - low) / bins, the last
    bin closed; a single value gets one bin of +-0.5 % around it (histogram_utils.py
    `get_dual_histogram_bin_edges`). The last edge is `high` itself, so that no rounding drops
    the maximum (Spark's histogram leaves out values above its last edge)."""
    if low == high:
        delta = 0.005 if low == 0 else abs(low * 0.005)
        return np.array([low - delta, low + delta])
    width = (high - low) / bins
    edges = low + np.arange(bins + 1, dtype=np.float64) * width
    edges[-1] = high
    return edges


def psi_level(value: float | None) -> str | None:
    """"ok", "warn" (PSI >= 0.1) or "alert" (PSI >= 0.25); None without a value."""
    if value is None:
        return None
    return "alert" if value >= PSI_ALERT else "warn" if value >= PSI_WARN else "ok"


def null_distance(baseline_counts: np.ndarray, rows: int, metric: str,
                  z: float = NULL_QUANTILE_Z) -> tuple[float, float]:
    """What a window of `rows` rows drawn from the baseline itself would measure against it, for
    a categorical feature: `(mean, quantile)` of its Jensen-Shannon distance (metric
    "jensen_shannon_distance") or Azure's PSI ("population_stability_index"), the quantile at
    `z` standard scores (99 % by default).

    Small windows over many categories are far from their baseline by chance alone: 1,000 rows
    over 100 equally likely categories are 0.13 away in JS, over 10,000 categories 0.88. Both
    measures are sums over categories of a term in each category's count, which is binomial
    (rows, share) in such a window, so their mean is exact by linearity: per distinct baseline
    count, the term's expectation over the binomial (summed over its support up to a mean of
    200, by Gauss-Hermite quadrature on its normal limit beyond). The spread adds the terms'
    variances (their negative covariance left out: a little wider than the truth), and the
    quantile is Wilson-Hilferty's on a scaled chi-squared with those two moments (exact in the
    many-rows limit, where the sum is one)."""
    counts = np.asarray(baseline_counts, dtype=np.int64)
    counts = counts[counts > 0]
    total, k, n = int(counts.sum()), len(counts), int(rows)
    if k < 2 or n < 1:
        return 0.0, 0.0
    values, groups = np.unique(counts, return_counts=True)
    mean = var = 0.0
    for value, size in zip(values.tolist(), groups.tolist()):
        share = value / total
        c, weight = _binomial_support(n, share)
        if metric == POPULATION_STABILITY_METRIC:
            term = _psi_term(c, n, value, total, k)
        else:
            term = _js_term(c / n, share)
        m1 = float((weight * term).sum())
        m2 = float((weight * term * term).sum())
        mean += size * m1
        var += size * max(m2 - m1 * m1, 0.0)
    quantile = _wilson_hilferty(mean, var, z)
    if metric == POPULATION_STABILITY_METRIC:
        return mean, quantile
    return math.sqrt(mean / math.log(2)), math.sqrt(quantile / math.log(2))


_HERMITE = np.polynomial.hermite_e.hermegauss(40)


def _binomial_support(n: int, p: float) -> tuple[np.ndarray, np.ndarray]:
    """Points and weights of Binomial(n, p): its whole support near the mean when the mean is at
    most 200 (pmf by its recurrence, in logs), Gauss-Hermite nodes of its normal limit beyond."""
    mean = n * p
    sd = math.sqrt(n * p * (1 - p))
    if mean <= 200 or sd == 0:
        top = min(n, int(mean + 12 * sd + 12))
        c = np.arange(top + 1, dtype=np.float64)
        steps = np.log(n - c[:-1]) - np.log(c[:-1] + 1) + math.log(p) - math.log1p(-p)
        log_pmf = n * math.log1p(-p) + np.concatenate([[0.0], np.cumsum(steps)])
        return c, np.exp(log_pmf)
    nodes, weights = _HERMITE
    return np.clip(mean + sd * nodes, 0, n), weights / weights.sum()


def _js_term(x: np.ndarray, p: float) -> np.ndarray:
    """One category's share of the Jensen-Shannon divergence (nats) between x and p."""
    m = (x + p) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        left = np.where(x > 0, x * np.log(x / m), 0.0)
    return (left + p * np.log(p / m)) / 2


def _psi_term(c: np.ndarray, n: int, b: int, total: int, k: int) -> np.ndarray:
    """One category's share of Azure's PSI, counts + 1 over the totals + the categories."""
    q = (c + 1) / (n + k)
    p = (b + 1) / (total + k)
    return (q - p) * np.log(q / p)


def _wilson_hilferty(mean: float, var: float, z: float) -> float:
    """The z-quantile of a scaled chi-squared with this mean and variance."""
    if mean <= 0 or var <= 0:
        return max(mean, 0.0)
    dof = 2 * mean * mean / var
    a = 2 / (9 * dof)
    return mean * max(1 - a + z * math.sqrt(a), 0.0) ** 3


def chi2_cells(observed: np.ndarray, baseline_share: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Observed and expected counts of the chi-squared test: expected from the baseline shares
    (floored at 1e-4, so a category unseen in the baseline has an expectation; renormalised)
    scaled to the production count; then, as Cochran's rule asks, every category expecting
    fewer than 5 rows pooled into one cell (with the smallest other category if the pool still
    expects fewer than 5). Without the pooling a few rare categories of a sample drawn from the
    baseline itself give p-values near 0 (the chi-squared approximation fails on tiny
    expectations); a new category that takes many rows still stands out through its pool."""
    observed = np.asarray(observed, dtype=np.float64)
    share = np.maximum(np.asarray(baseline_share, dtype=np.float64), PSI_FLOOR)
    expected = share / share.sum() * observed.sum()
    small = expected < CHI2_MIN_EXPECTED
    if small.any():
        pool_o, pool_e = observed[small].sum(), expected[small].sum()
        observed, expected = observed[~small], expected[~small]
        if pool_e < CHI2_MIN_EXPECTED and len(expected):
            j = int(np.argmin(expected))
            pool_o, pool_e = pool_o + observed[j], pool_e + expected[j]
            observed, expected = np.delete(observed, j), np.delete(expected, j)
        observed, expected = np.append(observed, pool_o), np.append(expected, pool_e)
    return observed, expected


def chi2_pvalue(observed: np.ndarray, baseline_share: np.ndarray) -> float:
    """Pearson's chi-squared p-value of production counts against the baseline shares, over the
    cells of `chi2_cells`; 1.0 when fewer than two cells remain (no test is possible)."""
    observed, expected = chi2_cells(observed, baseline_share)
    if len(observed) < 2:
        return 1.0
    stat = float(((observed - expected) ** 2 / expected).sum())
    return chi2_sf(stat, len(observed) - 1)


def ks_pvalue(d: float, n1: int, n2: int) -> float:
    """Two-sided two-sample KS p-value, scipy's asymptotic method: kstwo.sf(d, round(n1 n2/(n1+n2)))."""
    m, n = sorted([float(n1), float(n2)], reverse=True)
    return kolmogorov_sf(round(m * n / (m + n)), d)


def chi2_sf(x: float, dof: int) -> float:
    """The chi-squared survival function: the regularised upper incomplete gamma Q(dof/2, x/2)."""
    if x <= 0:
        return 1.0
    a, x = dof / 2.0, x / 2.0
    log_front = -x + a * math.log(x) - math.lgamma(a)
    if x < a + 1:  # series for P(a, x)
        term = total = 1.0 / a
        ap = a
        for _ in range(100_000):
            ap += 1
            term *= x / ap
            total += term
            if abs(term) < abs(total) * 1e-17:
                break
        return float(min(max(1.0 - total * math.exp(log_front), 0.0), 1.0))
    tiny = 1e-300  # Lentz's continued fraction for Q(a, x)
    b = x + 1 - a
    c = 1 / tiny
    d = 1 / b
    h = d
    for i in range(1, 100_000):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1 / d
        delta = d * c
        h *= delta
        if abs(delta - 1) < 1e-16:
            break
    return float(min(max(math.exp(log_front) * h, 0.0), 1.0))


def smirnov_sf(n: int, d: float) -> float:
    """P(D+_n >= d), the one-sided one-sample KS survival function (Birnbaum-Tingey, exact)."""
    if d <= 0:
        return 1.0
    if d >= 1:
        return 0.0
    jmax = int(math.floor(n * (1 - d)))
    j = np.arange(jmax + 1, dtype=np.float64)
    a = 1 - d - j / n
    b = d + j / n
    keep = a > 0
    j, a, b = j[keep], a[keep], b[keep]
    log_fact = np.array([math.lgamma(k + 1.0) for k in range(n + 1)])
    ji = j.astype(np.intp)
    terms = log_fact[n] - log_fact[ji] - log_fact[n - ji] + (n - j) * np.log(a) + (j - 1) * np.log(b)
    return float(min(max(d * np.exp(terms).sum(), 0.0), 1.0))


_E128 = 2.0 ** 128


_EM128 = 2.0 ** -128


def _kolmogorov_dmtw(n: int, d: float) -> float:
    """P(D_n <= d) by Durbin's matrix with Marsaglia-Tsang-Wang scaling (exact)."""
    if d >= 1.0:
        return 1.0
    nd = n * d
    if nd <= 0.5:
        return 0.0
    k = int(math.ceil(nd))
    h = k - nd
    m = 2 * k - 1
    H = np.zeros((m, m))
    intm = np.arange(1, m + 1)
    v = 1.0 - h ** intm
    w = np.empty(m)
    fac = 1.0
    for j in intm:
        w[j - 1] = fac
        fac /= j
        v[j - 1] *= fac
    tt = max(2 * h - 1.0, 0) ** m - 2 * h ** m
    v[-1] = (1.0 + tt) * fac
    for i in range(1, m):
        H[i - 1:, i] = w[:m - i + 1]
    H[:, 0] = v
    H[-1, :] = v[::-1]
    power = np.eye(m)
    nn, expnt, h_expnt = n, 0, 0
    while nn > 0:
        if nn % 2:
            power = power @ H
            expnt += h_expnt
        H = H @ H
        h_expnt *= 2
        if abs(H[k - 1, k - 1]) > _E128:
            H /= _E128
            h_expnt += 128
        nn //= 2
    p = power[k - 1, k - 1]
    for i in range(1, n + 1):
        p = i * p / n
        if abs(p) < _EM128:
            p *= _E128
            expnt -= 128
    if expnt:
        p = math.ldexp(p, expnt)
    return min(max(p, 0.0), 1.0)


def _kolmogorov_pelz_good(n: int, x: float) -> float:
    """P(D_n <= x) by the Pelz-Good asymptotic series (for large n)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    pi2 = math.pi ** 2
    pi4, pi6 = pi2 ** 2, pi2 ** 3
    z = math.sqrt(n) * x
    z2, z3, z4, z6 = z ** 2, z ** 3, z ** 4, z ** 6
    qlog = -pi2 / 8 / z2
    if qlog < -708:
        return 0.0
    q = math.exp(qlog)
    k1a, k1b = -z2, pi2 / 4
    k2a = 6 * z6 + 2 * z4
    k2b = (2 * z4 - 5 * z2) * pi2 / 4
    k2c = pi4 * (1 - 2 * z2) / 16
    k3d = pi6 * (5 - 30 * z2) / 64
    k3c = pi4 * (-60 * z2 + 212 * z4) / 16
    k3b = pi2 * (135 * z4 - 96 * z6) / 4
    k3a = -30 * z6 - 90 * z ** 8
    K = np.zeros(4)
    maxk = int(math.ceil(16 * z / math.pi))
    for k in range(maxk, 0, -1):
        m = 2 * k - 1
        m2, m4, m6 = m ** 2, m ** 4, m ** 6
        K *= q ** (8 * k)
        K += np.array([1.0, k1a + k1b * m2, k2a + k2b * m2 + k2c * m4,
                       k3a + k3b * m2 + k3c * m4 + k3d * m6])
    K *= q
    K *= math.sqrt(2 * math.pi)
    K /= np.array([z, 6 * z4, 72 * z ** 7, 6480 * z ** 10])
    q = math.exp(-pi2 / 2 / z2)
    ks = np.arange(maxk, 0, -1, dtype=np.float64)
    ks2 = ks ** 2
    sqrt3z = math.sqrt(3) * z
    kspi = math.pi * ks
    qp = q ** ks2
    K[2] += np.sum(ks2 * qp) * pi2 * math.sqrt(2 * math.pi) / (-36 * z3)
    K[3] += np.sum((sqrt3z + kspi) * (sqrt3z - kspi) * ks2 * qp) * pi2 * math.sqrt(2 * math.pi) / (216 * z6)
    K /= np.power(float(n), np.arange(4) / 2.0)
    return float(K.sum())


def _log_nfactorial_div_n_pow_n(n: int) -> float:
    coeffs = [-2.955065359477124183e-2, 6.4102564102564102564e-3, -1.9175269175269175269e-3,
              8.4175084175084175084e-4, -5.952380952380952381e-4, 7.9365079365079365079e-4,
              -2.7777777777777777778e-3, 8.3333333333333333333e-2]
    rn = 1.0 / n
    return math.log(n) / 2 - n + math.log(2 * math.pi) / 2 + rn * float(np.polyval(coeffs, rn / n))


def kolmogorov_sf(n: int, x: float) -> float:
    """P(D_n >= x) for the two-sided one-sample KS statistic, as scipy's `kstwo.sf(x, n)`
    (Simard and L'Ecuyer's choice of exact and asymptotic methods)."""
    def clip(p: float) -> float:
        return float(min(max(p, 0.0), 1.0))

    if n <= 0:
        return math.nan
    if x >= 1.0:
        return 0.0
    if x <= 0.0:
        return 1.0
    t = n * x
    if t <= 1.0:
        if t <= 0.5:
            return 1.0
        if n <= 140:
            prob = float(np.prod(np.arange(1, n + 1) * (1.0 / n) * (2 * t - 1)))
        else:
            prob = math.exp(_log_nfactorial_div_n_pow_n(n) + n * math.log(2 * t - 1))
        return clip(1.0 - prob)
    if t >= n - 1:
        return clip(2 * (1.0 - x) ** n)
    if x >= 0.5:
        return clip(2 * smirnov_sf(n, x))
    nx2 = t * x
    if n <= 140:
        if nx2 <= 4:  # scipy uses Pomeranz's recursion above 0.754693; both are exact
            return clip(1.0 - _kolmogorov_dmtw(n, x))
        return clip(2 * smirnov_sf(n, x))
    if nx2 >= 370.0:
        return 0.0
    if nx2 >= 2.2:
        return clip(2 * smirnov_sf(n, x))
    if n <= 100_000 and n * x ** 1.5 <= 1.4:
        return clip(1.0 - _kolmogorov_dmtw(n, x))
    return clip(1.0 - _kolmogorov_pelz_good(n, x))
