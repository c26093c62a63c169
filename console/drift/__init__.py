"""The drift engine: data drift between a stored baseline profile and a production window, on numpy.

What the drift pane and the monitors compute (DESIGN.md, "Drift"), as Azure ML's model monitor
defines it (its Spark components in Azure/azureml-assets, assets/model_monitoring/components/src/:
data_drift_compute_metrics/ and shared_utilities/histogram_utils.py):

- Feature types as Azure infers them: float columns are numeric; string, bool and category
  columns are categorical; an integer column is categorical when its distinct share in the
  baseline (distinct values / non-null rows) is below 0.05. `feature_types` overrides any of them.
- Categories are keyed as Azure keys them, by their text: a bool baseline meets "True"/"False",
  integers meet "1".."5" (a whole float is written as its integer: pandas makes an integer column
  with a null float, Spark does not).
- Numeric: normalized Wasserstein, W1 / max(std of the baseline, 0.001) with the sample standard
  deviation (Spark's `stddev`, which Azure's monitor divides by), drifted above 0.1. Categorical:
  Jensen-Shannon distance in base 2 over the union of categories (categories unseen in the
  baseline count), drifted above 0.1.
- The metric each feature is judged by is the one its monitor's signal names, with its threshold
  and direction (`drift_rules` reads a signal's metric_thresholds as Azure does): numeric
  features by normalized Wasserstein, Jensen-Shannon over Azure's bins, PSI, or the two-sample
  KS p-value; categorical ones by Jensen-Shannon, PSI or the chi-squared p-value. Distances and
  PSI breach above their threshold, p-values below it.
- PSI beside every metric, as Azure computes it: numeric values in equal-width bins over the
  joint range of both sides, as many as Sturges' rule gives for the smaller side
  (ceil(log2 n + 1)); categories over their union; every bin's count + 1 over the side's total +
  the number of bins. `psi_level` reads it: 0.1 warn, 0.25 alert.
- A categorical feature with too many categories for the window is not judged: at 1,000 rows and
  more, when a window of this many rows drawn from the baseline itself would breach the
  threshold in more than 1 % of draws (`null_distance`: 1,000 rows over 100 equally likely
  categories are 0.13 away in JS, over 10,000 categories 0.88), its value is left out, its note
  says so, and it never alerts. Under 1,000 rows the p-value rule below guards it.
- Nulls (None, NaN, and for numeric features +-inf) are left out per feature and reported as the
  feature's null rate, in production and in the baseline. Every count below is non-null rows. A
  data quality signal's rates (`quality_rules`) are judged too: the null, data type error and
  out-of-bounds rates over every row of the window, as Azure's data quality component computes
  them; a rate above its threshold is named in the feature's note and makes the report an alert.
- Histograms, for the drift pane: each side's share per bin. Numeric features on the baseline's
  deciles (numpy's linear deciles, duplicates dropped; a value on an edge goes to the bin above
  it), labelled by their edges ("<12", "12–24", "≥60");
  categorical ones per category in the engine's order, at most 12 bins: when there are more, the
  11 with the largest share on either side stay and the rest are pooled as "other".
- Under 10 rows: "not enough data" (value None, drifted False).
- Under 1,000 rows also a p-value: numeric, the two-sample Kolmogorov-Smirnov p-value as
  `scipy.stats.ks_2samp` gives it with its asymptotic method (what its default uses once the
  baseline exceeds 10,000 rows): `kstwo.sf(D, round(n*m/(n+m)))`, reimplemented here after
  Simard and L'Ecuyer (scipy's algorithm). Categorical, Pearson's chi-squared against the
  baseline frequencies (each floored at 1e-4, so a category unseen in the baseline has an
  expectation, then renormalised) scaled to the production count, with the categories expecting
  fewer than 5 rows pooled into one cell (Cochran's rule; see `chi2_cells`), dof = cells - 1.
- When the signal names a p-value as its metric: numeric, the KS p-value above at any window size
  (Azure computes it only when both sides are under 10,000 rows, with scipy's exact method; the
  asymptotic one here differs slightly on small samples); categorical, the pooled chi-squared
  p-value above (Azure's own leaves out the floor and the pooling, so a single unseen category
  gives it p = 0 and sparse categories are meaningless to it).
- The flag: under 1,000 rows a feature has drifted only when the distance breaches its threshold
  AND p < 0.05 (small windows are noisy: a sample of 50 from the baseline itself is often 0.1
  away from it, and the p-value says whether the gap is more than that noise); at 1,000 rows or
  more the distance alone decides, as in Azure.
- Verdict: `alert` when any of the top N monitored features (N=10; the profile's feature order,
  or the caller's importance order) drifted; `dataset_drift` when the drifted share (drifted
  features / features with enough data) is 0.5 or more. The share is always reported. A window
  that measured nothing (no rows, no column shared with the baseline, every value null) has no
  value anywhere, and each feature says why ("not enough data", "not in the production data"):
  never read as a clean window (the drift pane shows "no data").

How it stays fast: `profile_baseline` reads the training data once into a `BaselineProfile`
(JSON, saved beside the monitor); `DriftAccumulator` reduces a production window against it in one
streaming pass of `update(chunk)` calls with constant memory, then `report()` gives the
`DriftReport`. Per numeric feature the profile holds a cell grid:

    (-inf, a0) | outer cells on baseline order statistics | uniform cells of width
    h = 0.002 * max(std, 0.001) | outer cells on order statistics | [max or end, +inf)

The uniform cells cover the whole baseline range when it spans fewer than 65,536 cells (always,
for anything but very heavy tails), else the window that leaves the least tail mass outside it.
A value is placed in a uniform cell by arithmetic (no search), so a chunk costs a few vectorised
passes and two `np.bincount` calls; only values outside the uniform window are searched. Per cell
both sides keep a count and the sum of offsets from the cell's left edge, so the integral of each
empirical CDF over every cell is exact, and beyond the baseline's ends (where its CDF is 0 or 1)
W1's contribution is exact whatever the outliers (1e12 included). W1 = integral |F_b - F_p| is
then exact on every cell where F_b - F_p keeps its sign; on a cell where it may change sign the
true value lies between |integral (F_b - F_p)| and a bound from the cell's CDF ranges, and the
estimate (both sides as point masses at their in-cell means, clamped to those bounds) is off by at
most w * min(F_b(b) - F_p(a), F_p(b) - F_b(a)) there, which sums to at most h over the uniform
cells (and beyond the window, per outer cell, w times the baseline mass on its far side).

Tolerance met: the normalized Wasserstein is within the profile's `w1_error_bound` of the exact
value (scipy's `wasserstein_distance` on the raw data / max(std, 0.001)) for any window: 0.002
when the uniform cells cover the baseline (the usual case), 0.002 plus the outer cells' share
otherwise (0.004 for a 30,000-row Cauchy sample); `DriftAccumulator.w1_error_bound(feature)` is
the certified bound of the actual window, usually far smaller. Measured: the largest error over
the tests' 70 random cases and edge cases (ties, constant and spiked columns, 1e12 outliers,
Cauchy tails) is 5e-5, and 2.1e-4 over 800 further random cases.

Histogram edges (the baseline's deciles) fall on cell boundaries outside the uniform window and
inside it split at most nine cells, whose values are binned exactly. For the KS p-value the
profile keeps a CDF table of the baseline (all distinct values when there are at most 8,193, else
8,193 order statistics, with the exact CDF and left limit at each), and the accumulator keeps the
raw values of a window until it reaches 10,000 rows. The KS statistic is exact where the table
holds every baseline value, and otherwise off by at most 1/8192 (linear interpolation between
table points; in practice about 1/sqrt(8192 n) for an n-row baseline), so the p-value agrees with
`ks_2samp` within 0.005 (0.003 the worst seen, with 12,000-row baselines; less as the baseline
grows). Past 10,000 rows it is the largest gap at the cells' edges, where both sides are exact: a
lower bound, so its p-value errs towards no drift.

Azure's PSI bins are only known at the end (the joint range needs the window's extremes, kept
exactly). The baseline's count below each edge comes from the CDF table, kept within the cell's
exact counts (exact with few distinct values, and in sparse tails where a cell holds at most one
value); the window's from its raw values under 10,000 rows (exact), else from its cells: the
uniform ones, and beyond the baseline's range log-spaced cells (32 per doubling of the distance),
a cut cell split in proportion to the cut (continuous baselines) or whole by its values' mean
(few distinct values: one value a cell). Measured against Azure's formula on the raw data: within
2e-4 + 0.2 % (the worst of the random cases 1.2e-4 at PSI 0.10).

Pure: numpy only; pandas is imported inside the functions that read DataFrames or strings, and
scipy never (the tests and the benchmark compare against it).
"""

from __future__ import annotations

from console.drift.accumulate import (  # noqa: F401
    METRIC_DEFAULTS,
    DriftAccumulator,
    compute_drift,
)
from console.drift.features import (  # noqa: F401
    infer_feature_type,
    infer_feature_types,
    type_overrides,
)
from console.drift.labels import (  # noqa: F401
    bin_labels,
    compact_number,
)
from console.drift.profile import (  # noqa: F401
    Baseline,
    BaselineProfile,
    CategoricalBaseline,
    NumericBaseline,
    profile_baseline,
)
from console.drift.rules import (  # noqa: F401
    CATEGORICAL,
    CDF_POINTS,
    CHI2_MIN_EXPECTED,
    CHI_SQUARED,
    DATA_TYPE_ERROR_RATE,
    DATASET_DRIFT_SHARE,
    DEFAULT_METRIC,
    DEFAULT_THRESHOLD,
    DRIFT_METRICS,
    FEATURE_TYPES,
    FORMAT,
    FORMAT_VERSION,
    GRID_STEP,
    HISTOGRAM_BINS,
    HISTOGRAM_EDGES,
    INTEGER_CATEGORICAL_SHARE,
    JENSEN_SHANNON,
    KOLMOGOROV_SMIRNOV,
    MAX_UNIFORM_CELLS,
    MIN_ROWS,
    NOT_ENOUGH_DATA,
    NOT_IN_WINDOW,
    NULL_QUANTILE_Z,
    NULL_VALUE_RATE,
    NUMERIC,
    OTHER,
    OUT_OF_BOUNDS_RATE,
    OUTER_POINTS,
    P_VALUE_METRICS,
    P_VALUE_THRESHOLD,
    POPULATION_STABILITY,
    PSI_ALERT,
    PSI_FLOOR,
    PSI_WARN,
    QUALITY_METRICS,
    RAW_ROWS,
    SMALL_WINDOW,
    STD_FLOOR,
    SUB_CHUNK,
    TOP_N,
    WASSERSTEIN,
)
from console.drift.signal import (  # noqa: F401
    drift_metric,
    drift_rules,
    quality_rules,
    signal_quality,
)
from console.drift.stats import (  # noqa: F401
    chi2_cells,
    chi2_pvalue,
    chi2_sf,
    equal_width_edges,
    jensen_shannon,
    kolmogorov_sf,
    ks_pvalue,
    null_distance,
    psi,
    psi_level,
    smirnov_sf,
    sturges_bins,
)
from console.drift.verdict import (  # noqa: F401
    ranked,
    verdict,
)
