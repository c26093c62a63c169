"""The streaming reduction of a production window against a stored profile: `DriftAccumulator`
takes chunks in constant memory, then `report()` gives each feature's measure by the metric its
monitor names (normalized Wasserstein, Jensen-Shannon, PSI, or a KS or chi-squared p-value),
Azure's PSI beside it, the small-window p-value, null rate, data quality rates, histogram and
flag, and the verdict; `compute_drift` is the one-call convenience."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

import numpy as np

from console.domain import DriftReport, FeatureDrift
from console.drift.features import _as_float_counted, _columns, _factorize, _key, type_error
from console.drift.profile import (
    BaselineProfile,
    CategoricalBaseline,
    NumericBaseline,
    Tails,
    count_below,
    profile_baseline,
)
from console.drift.rules import (
    CATEGORICAL,
    CHI_SQUARED,
    DATA_TYPE_ERROR_RATE,
    DEFAULT_METRIC,
    DEFAULT_THRESHOLD,
    DRIFT_METRICS,
    HISTOGRAM_BINS,
    JENSEN_SHANNON,
    KOLMOGOROV_SMIRNOV,
    MIN_ROWS,
    NOT_ENOUGH_DATA,
    NOT_IN_WINDOW,
    NULL_VALUE_RATE,
    NUMERIC,
    OTHER,
    OUT_OF_BOUNDS_RATE,
    P_VALUE_METRICS,
    P_VALUE_THRESHOLD,
    POPULATION_STABILITY,
    PSI_ALERT,
    QUALITY_DECIMALS,
    QUALITY_METRICS,
    RAW_ROWS,
    SMALL_WINDOW,
    TOP_N,
    WASSERSTEIN,
)
from console.drift.stats import (
    chi2_pvalue,
    equal_width_edges,
    jensen_shannon,
    ks_pvalue,
    null_distance,
    psi,
    sturges_bins,
)
from console.drift.verdict import verdict
from console.errors import BadInput, InvalidField

# A metric's threshold when the caller gives none: Azure's 0.1 for the distances, the alert
# level for PSI, 0.05 for the p-values.
METRIC_DEFAULTS = {WASSERSTEIN: DEFAULT_THRESHOLD, JENSEN_SHANNON: DEFAULT_THRESHOLD,
                   POPULATION_STABILITY: PSI_ALERT, KOLMOGOROV_SMIRNOV: P_VALUE_THRESHOLD,
                   CHI_SQUARED: P_VALUE_THRESHOLD}
_SHORT = {WASSERSTEIN: "W1", JENSEN_SHANNON: "JS", POPULATION_STABILITY: "PSI"}
_RATE_NAMES = {NULL_VALUE_RATE: "null rate", DATA_TYPE_ERROR_RATE: "type error rate",
               OUT_OF_BOUNDS_RATE: "out-of-bounds rate"}


class _NumericState:
    __slots__ = ("base", "count", "nulls", "errors", "infs", "seen", "counts", "offsets", "hist_split",
                 "raw", "tails")

    def __init__(self, base: NumericBaseline) -> None:
        self.base = base
        self.count = 0
        self.nulls = 0  # every row left out: nulls, infinities, type errors, a missing column
        self.errors = 0  # present values that are no number
        self.infs = 0
        self.seen = False
        size = base.grid.size if base.grid is not None else 0
        self.counts = np.zeros(size, dtype=np.int64)
        self.offsets = np.zeros(size)
        self.hist_split = np.zeros(len(base.hist_edges) + 1, dtype=np.int64)
        self.raw: list[np.ndarray] | None = []
        self.tails = Tails()

    def update(self, values: np.ndarray, errors: int = 0) -> None:
        self.seen = True
        self.errors += errors
        finite = np.isfinite(values)
        if not finite.all():
            self.infs += int(np.count_nonzero(np.isinf(values)))
            values = values[finite]
        self.nulls += len(finite) - len(values)
        self.count += len(values)
        if self.raw is not None:
            if self.count < RAW_ROWS:
                self.raw.append(values.copy())
            else:
                self.raw = None
        if self.base.grid is not None and len(values):
            self.base.grid.accumulate(values, self.counts, self.offsets, self.hist_split, self.tails)

    def settled(self) -> Tails:
        """The tails with every set-aside value sorted in."""
        if self.base.grid is not None:
            self.base.grid.settle(self.tails)
        return self.tails

    def merge(self, other: _NumericState) -> None:
        self.settled()
        other.settled()
        self.count += other.count
        self.nulls += other.nulls
        self.errors += other.errors
        self.infs += other.infs
        self.seen = self.seen or other.seen
        self.counts += other.counts
        self.offsets += other.offsets
        self.hist_split += other.hist_split
        self.tails.merge(other.tails)
        if self.raw is not None and other.raw is not None and self.count < RAW_ROWS:
            self.raw.extend(other.raw)
        else:
            self.raw = None

    def values(self) -> np.ndarray | None:
        """The window's values while it is under RAW_ROWS rows, else None."""
        if self.raw is None:
            return None
        return np.concatenate(self.raw) if self.raw else np.empty(0)


class _CategoricalState:
    __slots__ = ("base", "count", "nulls", "errors", "seen", "counts", "unseen", "index")

    def __init__(self, base: CategoricalBaseline) -> None:
        self.base = base
        self.count = 0
        self.nulls = 0
        self.errors = 0
        self.seen = False
        self.counts = np.zeros(len(base.categories), dtype=np.int64)
        self.unseen: dict[str, int] = {}
        self.index = {c: i for i, c in enumerate(base.categories)}

    def update(self, values: Any) -> None:
        self.seen = True
        codes, uniques = _factorize(values)
        tally = np.bincount(codes + 1, minlength=len(uniques) + 1)
        self.nulls += int(tally[0])
        self.count += int(tally[1:].sum())
        keys = [_key(u) for u in uniques]
        where = np.fromiter((self.index.get(k, -1) for k in keys), dtype=np.intp, count=len(keys))
        seen = where >= 0
        if seen.any():
            np.add.at(self.counts, where[seen], tally[1:][seen])
        for position in np.flatnonzero(~seen):
            key = keys[position]
            self.unseen[key] = self.unseen.get(key, 0) + int(tally[1 + position])
        if self.base.kind != "string":
            self.errors += sum(int(tally[1 + i]) for i, u in enumerate(uniques) if type_error(u, self.base.kind))

    def merge(self, other: _CategoricalState) -> None:
        self.count += other.count
        self.nulls += other.nulls
        self.errors += other.errors
        self.seen = self.seen or other.seen
        self.counts += other.counts
        for key, value in other.unseen.items():
            self.unseen[key] = self.unseen.get(key, 0) + value


class DriftAccumulator:
    """One production window reduced against a `BaselineProfile`, chunk by chunk.

    `update(chunk)` takes a pandas DataFrame or a mapping of column arrays; columns the profile
    does not know are ignored, and a profiled feature missing from a chunk counts as null there.
    Memory is the profile's cell counts plus one chunk's temporaries (and under 10,000 rows the
    raw values, for the KS test and the exact PSI bins), whatever the number of rows.
    """

    def __init__(self, profile: BaselineProfile) -> None:
        self.profile = profile
        self.rows = 0
        self._states: dict[str, _NumericState | _CategoricalState] = {
            name: (_NumericState(item) if isinstance(item, NumericBaseline) else _CategoricalState(item))
            for name, item in profile.features.items()
        }

    def update(self, chunk: Any) -> DriftAccumulator:
        columns, rows = _columns(chunk)
        for name, state in self._states.items():
            values = columns.get(name)
            if values is None:
                state.nulls += rows
                continue
            if isinstance(state, _NumericState):
                state.update(*_as_float_counted(values))
            else:
                state.update(values)
        self.rows += rows
        return self

    def merge(self, other: DriftAccumulator) -> DriftAccumulator:
        """Add another window's reduction against the same profile (e.g. one per worker)."""
        if other.profile is not self.profile:
            raise BadInput("cannot merge windows reduced against different baseline profiles")
        for name, state in self._states.items():
            state.merge(other._states[name])  # type: ignore[arg-type]
        self.rows += other.rows
        return self

    def w1_error_bound(self, feature: str) -> float | None:
        """The certified bound on this window's normalized-Wasserstein error for `feature`."""
        state = self._states[feature]
        if not isinstance(state, _NumericState) or not state.count or not state.base.count:
            return None
        base = state.base
        _, bound = base.grid.w1(base.cell_counts, base.cell_offsets, base.count,
                                state.counts, state.offsets, state.count)
        return bound / base.scale

    def quality(self, feature: str) -> dict[str, float]:
        """The feature's data quality rates over the window's rows, as Azure's data quality signal
        computes them (Azure/azureml-assets, data_quality_compute_metrics/
        compute_data_quality_metrics.py): nulls, values that do not read as the baseline's type,
        and values outside the baseline (numeric: below its minimum or above its maximum, an
        infinity included; categorical: a category the baseline never had), each over every
        row of the window, rounded to 5 decimals."""
        state = self._states[feature]
        rows = self.rows
        if not rows:
            return {rate: 0.0 for rate in QUALITY_METRICS}
        if isinstance(state, _NumericState):
            tails = state.settled()
            nulls = state.nulls - state.errors - state.infs
            out = tails.below + tails.above + state.infs
        else:
            nulls = state.nulls
            out = sum(state.unseen.values())
        return {NULL_VALUE_RATE: round(nulls / rows, QUALITY_DECIMALS),
                DATA_TYPE_ERROR_RATE: round(state.errors / rows, QUALITY_DECIMALS),
                OUT_OF_BOUNDS_RATE: round(out / rows, QUALITY_DECIMALS)}

    def features(self, threshold: float | Mapping[str, float] | None = None,
                 p_value_threshold: float = P_VALUE_THRESHOLD,
                 metric: str | Mapping[str, str] | None = None,
                 quality: Mapping[str, Mapping[str, float]] | None = None) -> tuple[FeatureDrift, ...]:
        """Each profiled feature's drift for the window so far, in the profile's order."""
        return self._judge(threshold, p_value_threshold, metric, quality)[0]

    def _judge(self, threshold: float | Mapping[str, float] | None, p_value_threshold: float,
               metric: str | Mapping[str, str] | None,
               quality: Mapping[str, Mapping[str, float]] | None) -> tuple[tuple[FeatureDrift, ...], bool]:
        _check_probability("p_value_threshold", p_value_threshold)
        results, breached = [], False
        for name, state in self._states.items():
            kind = state.base.type
            chosen = _metric(metric, name, kind)
            limit = _threshold(threshold, name, chosen)
            null_rate = state.nulls / self.rows if self.rows else 0.0
            base_rows = self.profile.rows
            base_null_rate = state.base.nulls / base_rows if base_rows else 0.0
            if isinstance(state, _NumericState):
                result = _numeric_drift(state, chosen, limit, p_value_threshold)
            else:
                result = _categorical_drift(state, chosen, limit, p_value_threshold)
            if self.rows and not state.seen:
                result = {**result, "note": NOT_IN_WINDOW}
            rules = (quality or {}).get(name)
            if rules and self.rows:
                notes = _quality_notes(self.quality(name), rules)
                if notes:
                    breached = True
                    result = {**result, "note": "; ".join(n for n in [*notes, result.get("note")] if n)}
            results.append(FeatureDrift(feature=name, null_rate=null_rate,
                                        baseline_null_rate=base_null_rate, threshold=limit, **result))
        return tuple(results), breached

    def report(self, *, monitor: str = "drift", endpoint_name: str | None = None,
               deployment: str | None = None, window_start: datetime | None = None,
               window_end: datetime | None = None,
               threshold: float | Mapping[str, float] | None = None,
               p_value_threshold: float = P_VALUE_THRESHOLD, top_n: int = TOP_N,
               importance: Sequence[str] | Mapping[str, float] | None = None,
               metric: str | Mapping[str, str] | None = None,
               quality: Mapping[str, Mapping[str, float]] | None = None,
               created_at: datetime | None = None) -> DriftReport:
        """The `DriftReport` of the window: per-feature results and the verdict.

        `metric` names the metric each feature is judged by (one name, or feature -> name; by
        default normalized Wasserstein for numeric features, Jensen-Shannon for categorical
        ones), `threshold` its threshold (one, or feature -> threshold; by default the metric's:
        0.1 for the distances, 0.25 for PSI, 0.05 for the p-values, which breach below it).
        `quality` (feature -> {rate: threshold}) judges a data quality signal's rates too: a
        rate above its threshold is named in the feature's note and makes the report an alert.
        `drift.drift_rules` and `drift.quality_rules` read them from a monitor signal."""
        features, breached = self._judge(threshold, p_value_threshold, metric, quality)
        share, alert, dataset_drift = verdict(features, top_n=top_n, importance=importance)
        now = created_at or datetime.now(timezone.utc)
        return DriftReport(monitor=monitor, endpoint_name=endpoint_name, deployment=deployment,
                           window_start=window_start or window_end or now,
                           window_end=window_end or now, baseline_rows=self.profile.rows,
                           production_rows=self.rows, features=features, drifted_share=share,
                           alert=alert or breached, dataset_drift=dataset_drift, created_at=now)


def _metric(metric: str | Mapping[str, str] | None, name: str, kind: str) -> str:
    chosen = metric.get(name) if isinstance(metric, Mapping) else metric
    chosen = chosen or DEFAULT_METRIC[kind]
    if chosen not in DRIFT_METRICS[kind]:
        raise InvalidField("metric", f"{name}: {chosen!r} is not a metric of {kind} features "
                                     f"({', '.join(DRIFT_METRICS[kind])})")
    return chosen


def _threshold(threshold: float | Mapping[str, float] | None, name: str, metric: str) -> float:
    value = threshold.get(name) if isinstance(threshold, Mapping) else threshold
    if value is None:
        value = METRIC_DEFAULTS[metric]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise InvalidField("threshold", f"{name}: expected a finite number >= 0, got {value!r}")
    if metric in P_VALUE_METRICS and value > 1:
        raise InvalidField("threshold", f"{name}: {metric} is a p-value, its threshold at most 1, got {value!r}")
    return float(value)


def _check_probability(name: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
        raise InvalidField(name, f"expected a probability between 0 and 1, got {value!r}")


def _quality_notes(rates: Mapping[str, float], rules: Mapping[str, float]) -> list[str]:
    """A note per rate above its threshold, e.g. "null rate 12.5 % > 0 %"."""
    return [f"{_RATE_NAMES[rate]} {rates[rate] * 100:.3g} % > {limit * 100:g} %"
            for rate, limit in rules.items() if rates.get(rate, 0.0) > limit]


def _not_enough(metric: str, kind: str, note: str = NOT_ENOUGH_DATA) -> dict[str, Any]:
    return {"type": kind, "metric": metric, "value": None, "drifted": False, "note": note}


def _small_note(n: int, p_threshold: float) -> str:
    return f"small window ({n} rows): drifted needs p < {p_threshold:g} too"


def _breached(metric: str, value: float, threshold: float) -> bool:
    return value < threshold if metric in P_VALUE_METRICS else value > threshold


def _numeric_drift(state: _NumericState, metric: str, threshold: float, p_threshold: float) -> dict[str, Any]:
    base, n = state.base, state.count
    if not base.count:
        return _not_enough(metric, NUMERIC, "no baseline data")
    if not n:
        return _not_enough(metric, NUMERIC)
    p = base.hist_counts / base.count
    q = base.grid.hist_counts(state.counts, state.hist_split) / n
    histogram = _histogram(base.hist_labels, p, q)
    if n < MIN_ROWS:
        return {**_not_enough(metric, NUMERIC), **histogram}
    raw = state.values()
    base_counts, prod_counts = _azure_bins(state, raw)
    psi_value = psi(base_counts, prod_counts)
    p_value = note = None
    if metric == WASSERSTEIN:
        w1, _ = base.grid.w1(base.cell_counts, base.cell_offsets, base.count, state.counts,
                             state.offsets, n)
        value = w1 / base.scale
    elif metric == JENSEN_SHANNON:
        value = jensen_shannon(base_counts, prod_counts)
    elif metric == POPULATION_STABILITY:
        value = psi_value
    else:
        value = p_value = ks_pvalue(_ks_statistic(state, raw), base.count, n)
        if raw is None:
            note = f"KS over the binned window ({n:,} rows)"
    drifted = _breached(metric, value, threshold)
    if n < SMALL_WINDOW and metric not in P_VALUE_METRICS:
        p_value = ks_pvalue(_ks_statistic(state, raw), base.count, n)
        drifted = drifted and p_value < p_threshold
        note = _small_note(n, p_threshold)
    return {"type": NUMERIC, "metric": metric, "value": value, "drifted": bool(drifted),
            "psi": psi_value, "p_value": p_value, "note": note, **histogram}


def _categorical_drift(state: _CategoricalState, metric: str, threshold: float,
                       p_threshold: float) -> dict[str, Any]:
    base, n = state.base, state.count
    if not base.count:
        return _not_enough(metric, CATEGORICAL, "no baseline data")
    if not n:
        return _not_enough(metric, CATEGORICAL)
    unseen = np.fromiter(state.unseen.values(), dtype=np.int64, count=len(state.unseen))
    base_counts = np.concatenate([base.counts, np.zeros(len(unseen), dtype=np.int64)])
    prod_counts = np.concatenate([state.counts, unseen])
    p, q = base_counts / base.count, prod_counts / n
    histogram = _category_histogram([*base.categories, *state.unseen], p, q)
    if n < MIN_ROWS:
        return {**_not_enough(metric, CATEGORICAL), **histogram}
    if n >= SMALL_WINDOW and metric in (JENSEN_SHANNON, POPULATION_STABILITY):
        expected, quantile = null_distance(base.counts, n, metric)
        if quantile >= threshold:
            # A window this size drawn from the baseline itself would breach: the measure says
            # more about the number of categories than about drift, so it is not judged.
            note = (f"too many categories ({len(base.counts):,}) for {n:,} rows: "
                    f"{_SHORT[metric]} {expected:.2f} from the baseline itself")
            return {**_not_enough(metric, CATEGORICAL, note), **histogram}
    psi_value = psi(base_counts, prod_counts)
    p_value = note = None
    if metric == JENSEN_SHANNON:
        value = jensen_shannon(p, q)
    elif metric == POPULATION_STABILITY:
        value = psi_value
    else:
        value = p_value = chi2_pvalue(prod_counts, p)
    drifted = _breached(metric, value, threshold)
    if n < SMALL_WINDOW and metric not in P_VALUE_METRICS:
        p_value = chi2_pvalue(prod_counts, p)
        drifted = drifted and p_value < p_threshold
        note = _small_note(n, p_threshold)
    return {"type": CATEGORICAL, "metric": metric, "value": value, "drifted": bool(drifted),
            "psi": psi_value, "p_value": p_value, "note": note, **histogram}


def _azure_bins(state: _NumericState, raw: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Baseline and production counts in Azure's bins: Sturges' number on the smaller side,
    equal widths over the joint range. The production side is exact while the window's values
    are kept (under 10,000 rows); beyond, it comes from the cells: exact for every cell an edge
    does not cut, and a cut cell is split in proportion to its width (continuous baselines) or
    given whole to the side of its values' mean (baselines of few distinct values, where a cell
    holds one value)."""
    base, n = state.base, state.count
    bins = sturges_bins(base.count, n)
    if raw is not None:
        low, high = min(base.min, float(raw.min())), max(base.max, float(raw.max()))
    else:
        tails = state.settled()
        low, high = min(base.min, tails.min), max(base.max, tails.max)
    edges = equal_width_edges(low, high, bins)
    inner = edges[1:-1]
    below_b = base.count_below(inner)
    base_counts = np.diff(np.concatenate([[0.0], below_b, [float(base.count)]]))
    if raw is not None:
        prod_counts = np.bincount(np.searchsorted(inner, raw, side="right"), minlength=len(edges) - 1)
        return base_counts, prod_counts.astype(np.float64)
    left, right, count, mean = base.grid.fine(state.counts, state.offsets, state.tails)
    below_p = count_below(inner, left, right, count, mean, discrete=base.discrete)
    prod_counts = np.diff(np.concatenate([[0.0], below_p, [float(n)]]))
    return base_counts, np.maximum(prod_counts, 0.0)


def _ks_statistic(state: _NumericState, raw: np.ndarray | None) -> float:
    """The two-sample KS statistic: exact from the window's values (the baseline side from its
    CDF table), or, past RAW_ROWS rows, the largest gap between both sides' counts at the
    cells' edges, where both are exact: a lower bound of the statistic, off by at most one
    cell's share (and so a p-value that errs towards no drift)."""
    base = state.base
    if raw is not None:
        values, counts = np.unique(raw, return_counts=True)
        n = counts.sum()
        fp = np.cumsum(counts) / n
        fp_left = fp - counts / n
        fb, fb_left = base.cdf(values)
        return float(max(np.abs(fb - fp).max(), np.abs(fb_left - fp_left).max()))
    fb = np.cumsum(base.cell_counts)[:-1] / base.count
    fp = np.cumsum(state.counts)[:-1] / state.count
    gap = float(np.abs(fb - fp).max()) if len(fb) else 0.0
    tails = state.settled()
    if tails.below:  # below the baseline's minimum F_b is 0
        gap = max(gap, tails.below / state.count)
    if tails.above:  # above its maximum, 1
        gap = max(gap, tails.above / state.count)
    return gap


def _histogram(labels: Sequence[str], p: np.ndarray, q: np.ndarray) -> dict[str, Any]:
    return {"bins": tuple(labels), "baseline_share": tuple(p.tolist()),
            "production_share": tuple(q.tolist())}


def _category_histogram(categories: Sequence[Any], p: np.ndarray, q: np.ndarray) -> dict[str, Any]:
    """One bin per category in the engine's order; past `HISTOGRAM_BINS` the categories with the
    largest share on either side keep their bin (a new category that takes over production is
    not hidden) and the rest are pooled, last, as "other"."""
    labels = [str(c) for c in categories]
    if len(labels) <= HISTOGRAM_BINS:
        return _histogram(labels, p, q)
    kept = np.sort(np.argsort(-np.maximum(p, q), kind="stable")[:HISTOGRAM_BINS - 1])
    pooled = np.ones(len(labels), dtype=bool)
    pooled[kept] = False
    other = OTHER if OTHER not in {labels[i] for i in kept} else f"({OTHER})"
    return _histogram([labels[i] for i in kept] + [other], np.append(p[kept], p[pooled].sum()),
                      np.append(q[kept], q[pooled].sum()))


def compute_drift(baseline: Any, production: Any, *, feature_types: Mapping[str, str] | None = None,
                  features: Sequence[str] | None = None, **report: Any) -> DriftReport:
    """Profile `baseline`, reduce `production` against it and report, in one call (small data).
    `report` takes `DriftAccumulator.report`'s keywords (metric, threshold, top_n, ...)."""
    profile = profile_baseline(baseline, feature_types, features)
    return DriftAccumulator(profile).update(production).report(**report)
