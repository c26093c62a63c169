"""The streaming reduction of a production window against a stored profile: `DriftAccumulator`
takes chunks in constant memory, then `report()` gives each feature's distance, PSI, p-value,
null rate, histogram and flag, and the verdict; `compute_drift` is the one-call convenience."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

import numpy as np

from console.domain import DriftReport, FeatureDrift
from console.drift.features import _as_float, _columns, _factorize, _key
from console.drift.profile import BaselineProfile, CategoricalBaseline, NumericBaseline, profile_baseline
from console.drift.rules import (
    CATEGORICAL,
    DEFAULT_THRESHOLD,
    HISTOGRAM_BINS,
    JENSEN_SHANNON,
    MIN_ROWS,
    NOT_ENOUGH_DATA,
    NUMERIC,
    OTHER,
    P_VALUE_THRESHOLD,
    SMALL_WINDOW,
    TOP_N,
    WASSERSTEIN,
)
from console.drift.stats import _psi, chi2_pvalue, jensen_shannon, ks_pvalue
from console.drift.verdict import verdict
from console.errors import BadInput, InvalidField


class _NumericState:
    __slots__ = ("base", "count", "nulls", "counts", "offsets", "psi_split", "raw")

    def __init__(self, base: NumericBaseline) -> None:
        self.base = base
        self.count = 0
        self.nulls = 0
        size = base.grid.size if base.grid is not None else 0
        self.counts = np.zeros(size, dtype=np.int64)
        self.offsets = np.zeros(size)
        self.psi_split = np.zeros(len(base.psi_edges) + 1, dtype=np.int64)
        self.raw: list[np.ndarray] | None = []

    def update(self, values: np.ndarray) -> None:
        finite = np.isfinite(values)
        if not finite.all():
            values = values[finite]
        self.nulls += len(finite) - len(values)
        self.count += len(values)
        if self.raw is not None:
            if self.count < SMALL_WINDOW:
                self.raw.append(values.copy())
            else:
                self.raw = None
        if self.base.grid is not None and len(values):
            self.base.grid.accumulate(values, self.counts, self.offsets, self.psi_split)

    def merge(self, other: _NumericState) -> None:
        self.count += other.count
        self.nulls += other.nulls
        self.counts += other.counts
        self.offsets += other.offsets
        self.psi_split += other.psi_split
        if self.raw is not None and other.raw is not None and self.count < SMALL_WINDOW:
            self.raw.extend(other.raw)
        else:
            self.raw = None


class _CategoricalState:
    __slots__ = ("base", "count", "nulls", "counts", "unseen", "index")

    def __init__(self, base: CategoricalBaseline) -> None:
        self.base = base
        self.count = 0
        self.nulls = 0
        self.counts = np.zeros(len(base.categories), dtype=np.int64)
        self.unseen: dict[Any, int] = {}
        self.index = {_key(c): i for i, c in enumerate(base.categories)}

    def update(self, values: Any) -> None:
        codes, uniques = _factorize(values)
        tally = np.bincount(codes + 1, minlength=len(uniques) + 1)
        self.nulls += int(tally[0])
        self.count += int(tally[1:].sum())
        where = np.fromiter((self.index.get(_key(u), -1) for u in uniques), dtype=np.intp,
                            count=len(uniques))
        seen = where >= 0
        if seen.any():
            np.add.at(self.counts, where[seen], tally[1:][seen])
        for position in np.flatnonzero(~seen):
            key = _key(uniques[position])
            self.unseen[key] = self.unseen.get(key, 0) + int(tally[1 + position])

    def merge(self, other: _CategoricalState) -> None:
        self.count += other.count
        self.nulls += other.nulls
        self.counts += other.counts
        for key, value in other.unseen.items():
            self.unseen[key] = self.unseen.get(key, 0) + value


class DriftAccumulator:
    """One production window reduced against a `BaselineProfile`, chunk by chunk.

    `update(chunk)` takes a pandas DataFrame or a mapping of column arrays; columns the profile
    does not know are ignored, and a profiled feature missing from a chunk counts as null there.
    Memory is the profile's cell counts plus one chunk's temporaries (and under 1,000 rows the raw
    values for the KS test), whatever the number of rows.
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
                state.update(_as_float(values))
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

    def features(self, threshold: float | Mapping[str, float] = DEFAULT_THRESHOLD,
                 p_value_threshold: float = P_VALUE_THRESHOLD) -> tuple[FeatureDrift, ...]:
        """Each profiled feature's drift for the window so far, in the profile's order."""
        _check_probability("p_value_threshold", p_value_threshold)
        results = []
        for name, state in self._states.items():
            limit = _threshold(threshold, name)
            null_rate = state.nulls / self.rows if self.rows else 0.0
            base_rows = self.profile.rows
            base_null_rate = state.base.nulls / base_rows if base_rows else 0.0
            if isinstance(state, _NumericState):
                result = _numeric_drift(state, limit, p_value_threshold)
            else:
                result = _categorical_drift(state, limit, p_value_threshold)
            results.append(FeatureDrift(feature=name, null_rate=null_rate,
                                        baseline_null_rate=base_null_rate, threshold=limit, **result))
        return tuple(results)

    def report(self, *, monitor: str = "drift", endpoint_name: str | None = None,
               deployment: str | None = None, window_start: datetime | None = None,
               window_end: datetime | None = None,
               threshold: float | Mapping[str, float] = DEFAULT_THRESHOLD,
               p_value_threshold: float = P_VALUE_THRESHOLD, top_n: int = TOP_N,
               importance: Sequence[str] | Mapping[str, float] | None = None,
               created_at: datetime | None = None) -> DriftReport:
        """The `DriftReport` of the window: per-feature results and the verdict."""
        features = self.features(threshold, p_value_threshold)
        share, alert, dataset_drift = verdict(features, top_n=top_n, importance=importance)
        now = created_at or datetime.now(timezone.utc)
        return DriftReport(monitor=monitor, endpoint_name=endpoint_name, deployment=deployment,
                           window_start=window_start or window_end or now,
                           window_end=window_end or now, baseline_rows=self.profile.rows,
                           production_rows=self.rows, features=features, drifted_share=share,
                           alert=alert, dataset_drift=dataset_drift, created_at=now)


def _threshold(threshold: float | Mapping[str, float], name: str) -> float:
    value = threshold.get(name, DEFAULT_THRESHOLD) if isinstance(threshold, Mapping) else threshold
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise InvalidField("threshold", f"{name}: expected a finite number >= 0, got {value!r}")
    return float(value)


def _check_probability(name: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
        raise InvalidField(name, f"expected a probability between 0 and 1, got {value!r}")


def _not_enough(metric: str, kind: str, note: str = NOT_ENOUGH_DATA) -> dict[str, Any]:
    return {"type": kind, "metric": metric, "value": None, "drifted": False, "note": note}


def _small_note(n: int, p_threshold: float) -> str:
    return f"small window ({n} rows): drifted needs p < {p_threshold:g} too"


def _numeric_drift(state: _NumericState, threshold: float, p_threshold: float) -> dict[str, Any]:
    base, n = state.base, state.count
    if not base.count:
        return _not_enough(WASSERSTEIN, NUMERIC, "no baseline data")
    if not n:
        return _not_enough(WASSERSTEIN, NUMERIC)
    p = base.psi_counts / base.count
    q = base.grid.psi_counts(state.counts, state.psi_split) / n
    histogram = _histogram(base.psi_labels, p, q)
    if n < MIN_ROWS:
        return {**_not_enough(WASSERSTEIN, NUMERIC), **histogram}
    w1, _ = base.grid.w1(base.cell_counts, base.cell_offsets, base.count, state.counts,
                         state.offsets, n)
    value = w1 / base.scale
    psi = _psi(p, q)
    drifted = value > threshold
    p_value = note = None
    if n < SMALL_WINDOW and state.raw is not None:
        d = _ks_statistic(base, np.concatenate(state.raw) if state.raw else np.empty(0))
        p_value = ks_pvalue(d, base.count, n)
        drifted = drifted and p_value < p_threshold
        note = _small_note(n, p_threshold)
    return {"type": NUMERIC, "metric": WASSERSTEIN, "value": value, "drifted": bool(drifted),
            "psi": psi, "p_value": p_value, "note": note, **histogram}


def _categorical_drift(state: _CategoricalState, threshold: float, p_threshold: float) -> dict[str, Any]:
    base, n = state.base, state.count
    if not base.count:
        return _not_enough(JENSEN_SHANNON, CATEGORICAL, "no baseline data")
    if not n:
        return _not_enough(JENSEN_SHANNON, CATEGORICAL)
    unseen = np.fromiter(state.unseen.values(), dtype=np.int64, count=len(state.unseen))
    p = np.concatenate([base.counts, np.zeros(len(unseen), dtype=np.int64)]) / base.count
    q = np.concatenate([state.counts, unseen]) / n
    histogram = _category_histogram([*base.categories, *state.unseen], p, q)
    if n < MIN_ROWS:
        return {**_not_enough(JENSEN_SHANNON, CATEGORICAL), **histogram}
    value = jensen_shannon(p, q)
    psi = _psi(p, q)
    drifted = value > threshold
    p_value = note = None
    if n < SMALL_WINDOW:
        p_value = chi2_pvalue(np.concatenate([state.counts, unseen]), p)
        drifted = drifted and p_value < p_threshold
        note = _small_note(n, p_threshold)
    return {"type": CATEGORICAL, "metric": JENSEN_SHANNON, "value": value, "drifted": bool(drifted),
            "psi": psi, "p_value": p_value, "note": note, **histogram}


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


def _ks_statistic(base: NumericBaseline, raw: np.ndarray) -> float:
    values, counts = np.unique(raw, return_counts=True)
    n = counts.sum()
    fp = np.cumsum(counts) / n
    fp_left = fp - counts / n
    fb, fb_left = base.cdf(values)
    return float(max(np.abs(fb - fp).max(), np.abs(fb_left - fp_left).max()))


def compute_drift(baseline: Any, production: Any, *, feature_types: Mapping[str, str] | None = None,
                  features: Sequence[str] | None = None, **report: Any) -> DriftReport:
    """Profile `baseline`, reduce `production` against it and report, in one call (small data).
    `report` takes `DriftAccumulator.report`'s keywords (threshold, top_n, importance, ...)."""
    profile = profile_baseline(baseline, feature_types, features)
    return DriftAccumulator(profile).update(production).report(**report)
