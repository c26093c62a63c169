"""Data drift between a stored baseline profile and a production window, on numpy.

What the drift pane and the monitors compute (DESIGN.md, "Drift"), as Azure ML's model monitor
defines it:

- Feature types as Azure infers them: float columns are numeric; string, bool and category
  columns are categorical; an integer column is categorical when its distinct share in the
  baseline (distinct values / non-null rows) is below 0.05. `feature_types` overrides any of them.
- Numeric: normalized Wasserstein, W1 / max(std of the baseline, 0.001) (population std, ddof 0),
  drifted above 0.1. Categorical: Jensen-Shannon distance in base 2 over the union of categories
  (categories unseen in the baseline count), drifted above 0.1. Thresholds are overridable.
- PSI beside both: 10 baseline-quantile bins (numpy's linear deciles, duplicates dropped; a value
  on an edge goes to the bin above it), open outer bins, empty bins at 1e-4; for categoricals over
  the union of categories. `psi_level` reads it: 0.1 warn, 0.25 alert.
- Nulls (None, NaN, and for numeric features +-inf) are left out per feature and reported as the
  feature's null rate, in production and in the baseline. Every count below is non-null rows.
- Histograms, for the drift pane: each side's share per bin, from the counts the PSI already
  uses. Numeric features on the PSI bins, labelled by their edges ("<12", "12–24", "≥60");
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
- The flag: under 1,000 rows a feature has drifted only when the distance breaches its threshold
  AND p < 0.05 (small windows are noisy: a sample of 50 from the baseline itself is often 0.1
  away from it, and the p-value says whether the gap is more than that noise); at 1,000 rows or
  more the distance alone decides, as in Azure.
- Verdict: `alert` when any of the top N monitored features (N=10; the profile's feature order,
  or the caller's importance order) drifted; `dataset_drift` when the drifted share (drifted
  features / features with enough data) is 0.5 or more. The share is always reported.

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

PSI edges fall on cell boundaries outside the uniform window and inside it split at most nine
cells, whose values are binned exactly. For the KS p-value the profile keeps a CDF table of the
baseline (all distinct values when there are at most 8,193, else 8,193 order statistics, with
the exact CDF and left limit at each), and the accumulator keeps the raw values of a window until
it reaches 1,000 rows. The KS statistic is exact where the table holds every baseline value, and
otherwise off by at most 1/8192 (linear interpolation between table points; in practice about
1/sqrt(8192 n) for an n-row baseline), so the p-value agrees with `ks_2samp` within 0.005 (0.003
the worst seen, with 12,000-row baselines; less as the baseline grows).

Pure: numpy only; pandas is imported inside the functions that read DataFrames or strings, and
scipy never (the tests and the benchmark compare against it).
"""

from __future__ import annotations

import base64
import json
import math
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from console.domain import DriftReport, FeatureDrift
from console.errors import BadInput, InvalidField

NUMERIC = "numeric"
CATEGORICAL = "categorical"
FEATURE_TYPES = (NUMERIC, CATEGORICAL)
WASSERSTEIN = "normalized_wasserstein_distance"
JENSEN_SHANNON = "jensen_shannon_distance"

DEFAULT_THRESHOLD = 0.1
P_VALUE_THRESHOLD = 0.05
SMALL_WINDOW = 1_000  # under this many rows a p-value is computed and gates the flag
MIN_ROWS = 10  # under this many rows: "not enough data"
STD_FLOOR = 0.001
INTEGER_CATEGORICAL_SHARE = 0.05
PSI_BINS = 10
PSI_FLOOR = 1e-4
CHI2_MIN_EXPECTED = 5.0  # categories expecting fewer rows are pooled (Cochran's rule)
PSI_WARN = 0.1
PSI_ALERT = 0.25
TOP_N = 10
HISTOGRAM_BINS = 12  # categorical histograms: more categories are pooled into "other"
OTHER = "other"
DATASET_DRIFT_SHARE = 0.5
NOT_ENOUGH_DATA = "not enough data"

GRID_STEP = 0.002  # uniform cell width, in units of max(std, 0.001)
MAX_UNIFORM_CELLS = 65_536
OUTER_POINTS = 512  # order statistics per side outside the uniform window
CDF_POINTS = 8_192  # KS table resolution
SUB_CHUNK = 65_536  # rows per vectorised pass: temporaries stay in cache

FORMAT = "amlops-drift-baseline"
FORMAT_VERSION = 1


# --- feature typing --------------------------------------------------------------------------


def infer_feature_type(values: Any) -> str:
    """"numeric" or "categorical" for one baseline column, as Azure ML infers it."""
    dtype = getattr(values, "dtype", None)
    if dtype is None:
        values = np.asarray(values)
        dtype = values.dtype
    kind = _dtype_kind(dtype)
    if kind == "float":
        return NUMERIC
    if kind in ("bool", "string"):
        return CATEGORICAL
    if kind == "integer":
        return _integer_type(values)
    if kind == "object":
        inferred = _infer_object(values)
        if inferred == "floating":
            return NUMERIC
        if inferred == "integer":
            return _integer_type(values)
        return CATEGORICAL
    raise InvalidField("feature_types", f"cannot monitor a column of type {dtype}; "
                                        "override it as numeric or categorical, or leave it out")


def _dtype_kind(dtype: Any) -> str:
    if isinstance(dtype, np.dtype):
        return {"f": "float", "i": "integer", "u": "integer", "b": "bool", "U": "string",
                "S": "string", "O": "object"}.get(dtype.kind, "other")
    # pandas extension dtypes: nullable Int/Float/boolean, string, category
    name = str(getattr(dtype, "name", dtype)).lower()
    if name == "category":
        return "string"
    if name in ("boolean", "bool"):
        return "bool"
    if name.startswith(("int", "uint")):
        return "integer"
    if name.startswith("float"):
        return "float"
    if name.startswith(("str", "string")):
        return "string"
    kind = getattr(dtype, "kind", "O")
    return {"f": "float", "i": "integer", "u": "integer", "b": "bool", "O": "object"}.get(kind, "other")


def _infer_object(values: Any) -> str:
    import pandas as pd

    inferred = pd.api.types.infer_dtype(values, skipna=True)
    if inferred in ("floating", "mixed-integer-float", "decimal"):
        return "floating"
    if inferred == "integer":
        return "integer"
    return "other"


def _integer_type(values: Any) -> str:
    import pandas as pd

    codes, uniques = pd.factorize(values)
    nonnull = int(np.count_nonzero(codes >= 0))
    if nonnull == 0:
        return CATEGORICAL
    return CATEGORICAL if len(uniques) / nonnull < INTEGER_CATEGORICAL_SHARE else NUMERIC


def infer_feature_types(data: Any, overrides: Mapping[str, str] | None = None,
                        features: Sequence[str] | None = None) -> dict[str, str]:
    """Each column's type (`infer_feature_type`), with `overrides` (feature -> type) applied."""
    columns, _ = _columns(data)
    names = list(features) if features is not None else list(columns)
    overrides = _check_overrides(overrides, names)
    missing = [n for n in names if n not in columns]
    if missing:
        raise InvalidField("features", f"no column named {', '.join(map(str, missing))}")
    return {name: overrides.get(name) or infer_feature_type(columns[name]) for name in names}


def _check_overrides(overrides: Mapping[str, str] | None, names: Sequence[str]) -> dict[str, str]:
    clean: dict[str, str] = {}
    for name, kind in (overrides or {}).items():
        if name not in names:
            raise InvalidField("feature_types", f"no feature named {name!r}")
        if kind not in FEATURE_TYPES:
            raise InvalidField("feature_types", f"{name}: expected numeric or categorical, got {kind!r}")
        clean[name] = kind
    return clean


# --- columns of a DataFrame or of a dict of arrays ------------------------------------------------


def _columns(data: Any) -> tuple[dict[str, Any], int]:
    """`({name: values}, rows)` of a pandas DataFrame or a mapping of equal-length arrays."""
    if isinstance(data, Mapping):
        columns = {str(k) if not isinstance(k, str) else k: v for k, v in data.items()}
        for name, values in columns.items():
            if not hasattr(values, "dtype"):
                columns[name] = np.asarray(values, dtype=object if _has_text(values) else None)
        lengths = {len(v) for v in columns.values()}
        if len(lengths) > 1:
            raise InvalidField("data", f"columns differ in length: {sorted(lengths)}")
        return columns, (lengths.pop() if lengths else 0)
    if hasattr(data, "columns") and hasattr(data, "__getitem__"):
        names = list(data.columns)
        if len(set(names)) != len(names):
            raise InvalidField("data", "duplicate column names")
        return {str(n): data[n] for n in names}, len(data)
    raise BadInput(f"expected a pandas DataFrame or a mapping of column arrays, got {type(data).__name__}")


def _has_text(values: Any) -> bool:
    return any(isinstance(v, (str, bytes)) for v in values)


def _as_float(values: Any) -> np.ndarray:
    """A column as float64, nulls (and unparseable text) as NaN."""
    if isinstance(values, np.ndarray):
        if values.dtype == np.float64:
            return values
        if values.dtype.kind in "fiub":
            return values.astype(np.float64)
        try:
            return values.astype(np.float64)
        except (TypeError, ValueError):
            pass
    else:
        dtype = getattr(values, "dtype", None)
        if dtype == np.float64:
            out = values.to_numpy() if hasattr(values, "to_numpy") else np.asarray(values)
            if out.dtype == np.float64:
                return out
        try:
            return values.to_numpy(dtype=np.float64, na_value=np.nan)
        except (TypeError, ValueError, AttributeError):
            pass
    import pandas as pd

    return pd.to_numeric(pd.Series(np.asarray(values, dtype=object)), errors="coerce").to_numpy(
        dtype=np.float64, na_value=np.nan)


def _factorize(values: Any) -> tuple[np.ndarray, list]:
    """`(codes, uniques)`: codes -1 for nulls, uniques as plain Python values."""
    import pandas as pd

    codes, uniques = pd.factorize(values)
    return np.asarray(codes), [_plain(u) for u in list(uniques)]


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


# --- the numeric cell grid ---------------------------------------------------------------------


class _Grid:
    """Cells of one numeric feature: open lower, interior (outer + uniform), open upper.

    Global cell index g: 0 is (-inf, edges[0]); 1..C are [edges[g-1], edges[g]); C+1 is
    [edges[C], +inf). The uniform cells are g in [base+1, base+M], base = len(lower).
    """

    def __init__(self, lo: float, step: float, cells: int, lower: np.ndarray, upper: np.ndarray,
                 psi_edges: np.ndarray) -> None:
        self.lo, self.step, self.cells = float(lo), float(step), int(cells)
        self.lower = np.asarray(lower, dtype=np.float64)
        self.upper = np.asarray(upper, dtype=np.float64)  # upper[0] == hi
        self.inv_step = 1.0 / self.step
        self.base = len(self.lower)
        uniform = self.lo + self.step * np.arange(self.cells + 1, dtype=np.float64)
        self.edges = np.concatenate([self.lower, uniform, self.upper[1:]])
        n_interior = len(self.edges) - 1
        self.size = n_interior + 2
        self.anchors = np.concatenate([self.edges[:1], self.edges])  # left edge of each cell
        widths = np.diff(self.edges)
        widths[self.base:self.base + self.cells] = self.step
        self.widths = widths  # interior cells 1..C
        self.psi_edges = np.asarray(psi_edges, dtype=np.float64)
        # Per uniform-cell kind: 0 plain, 1 outside the uniform window, 2 split by a PSI edge.
        # A uniform cell holding a PSI edge is split: its values are binned one by one. Cells are
        # compared with edges through the same arithmetic that places values in them, so a
        # value's cell and its bin never disagree.
        kinds = np.zeros(self.cells + 2, dtype=np.uint8)
        kinds[0] = kinds[-1] = 1
        edge_cells = self._u(self.psi_edges.copy()).astype(np.intp)
        inside = edge_cells[(edge_cells >= 1) & (edge_cells <= self.cells)]
        kinds[inside] = 2
        self.kinds = kinds
        self.split = np.flatnonzero(kinds == 2)
        self.split_global = self.split + self.base
        # The PSI bin of every cell: outer cells by their left edge (PSI edges are among the
        # outer points), uniform cells by the edges placed in cells before them.
        self.cell_bin = np.searchsorted(self.psi_edges, self.anchors, side="right")
        self.cell_bin[0] = 0
        uniform = np.arange(1, self.cells + 1)
        self.cell_bin[self.base + 1:self.base + self.cells + 1] = np.searchsorted(
            np.sort(edge_cells), uniform, side="left")
        self.plain = np.ones(self.size, dtype=bool)
        self.plain[self.split_global] = False

    def _u(self, x: np.ndarray) -> np.ndarray:
        u = x - self.lo
        u *= self.inv_step
        u += 1.0
        np.clip(u, 0.0, self.cells + 1.0, out=u)
        return u

    def accumulate(self, x: np.ndarray, counts: np.ndarray, offsets: np.ndarray,
                   psi_split: np.ndarray) -> None:
        """Add finite values to the per-cell counts and offset sums (and the split PSI counts)."""
        M, base = self.cells, self.base
        for start in range(0, len(x), SUB_CHUNK):
            part = x[start:start + SUB_CHUNK]
            u = self._u(part)
            ui = u.astype(np.intp)
            u -= ui  # the offset within the cell, in cells
            c = np.bincount(ui, minlength=M + 2)
            f = np.bincount(ui, weights=u, minlength=M + 2)
            counts[base + 1:base + M + 1] += c[1:M + 1]
            offsets[base + 1:base + M + 1] += f[1:M + 1] * self.step
            if c[0] or c[M + 1] or (len(self.split) and c[self.split].any()):
                special = np.flatnonzero(self.kinds[ui])
                xs = part[special]
                kind = self.kinds[ui[special]]
                outer = kind == 1
                if outer.any():
                    xo = xs[outer]
                    g = np.searchsorted(self.edges, xo, side="right")
                    counts += np.bincount(g, minlength=self.size)
                    offsets += np.bincount(g, weights=xo - self.anchors[g], minlength=self.size)
                if not outer.all():
                    xp = xs[~outer]
                    psi_split += np.bincount(np.searchsorted(self.psi_edges, xp, side="right"),
                                             minlength=len(psi_split))

    def psi_counts(self, counts: np.ndarray, psi_split: np.ndarray) -> np.ndarray:
        bins = len(self.psi_edges) + 1
        plain = np.bincount(self.cell_bin[self.plain], weights=counts[self.plain], minlength=bins)
        return plain + psi_split

    def w1(self, cb: np.ndarray, ob: np.ndarray, nb: int, cp: np.ndarray, op: np.ndarray,
           np_: int) -> tuple[float, float]:
        """(W1 estimate, certified error bound) between the baseline and production cells."""
        inner = slice(1, self.size - 1)
        w = self.widths
        cbi, cpi = cb[inner].astype(np.float64), cp[inner].astype(np.float64)
        fb_lo = (np.cumsum(cb)[:-2]) / nb  # counts before each interior cell (open lower incl.)
        fp_lo = (np.cumsum(cp)[:-2]) / np_
        mb, mp = cbi / nb, cpi / np_
        fb_hi, fp_hi = fb_lo + mb, fp_lo + mp
        ib = fb_lo * w + mb * w - ob[inner] / nb
        ip = fp_lo * w + mp * w - op[inner] / np_
        d = ib - ip
        low = np.abs(d)
        up_pos = fb_hi - fp_lo
        up_neg = fp_hi - fb_lo
        cross = (up_pos > 0) & (up_neg > 0)
        high = np.where(cross, np.minimum(d + 2 * w * up_neg, 2 * w * up_pos - d), low)
        high = np.maximum(high, low)
        # Point masses at the in-cell means, the estimate inside [low, high].
        with np.errstate(invalid="ignore", divide="ignore"):
            mu_b = np.where(cbi > 0, ob[inner] / np.maximum(cbi, 1), 0.0)
            mu_p = np.where(cpi > 0, op[inner] / np.maximum(cpi, 1), 0.0)
        mu_b = np.clip(mu_b, 0.0, w)
        mu_p = np.clip(mu_p, 0.0, w)
        t1, t2 = np.minimum(mu_b, mu_p), np.maximum(mu_b, mu_p)
        d0 = fb_lo - fp_lo
        d_mid = np.where(mu_b <= mu_p, d0 + mb, d0 - mp)
        d_end = fb_hi - fp_hi
        model = np.abs(d0) * t1 + np.abs(d_mid) * (t2 - t1) + np.abs(d_end) * (w - t2)
        est = np.clip(model, low, high)
        bound = float(np.maximum(est - low, high - est).sum())
        tails = -op[0] / np_ + op[-1] / np_  # F_b is 0 below the grid and 1 above it: exact
        return float(est.sum() + max(tails, 0.0)), bound

    def prior_bound(self, cb: np.ndarray, nb: int) -> float:
        """The worst-case W1 error of any window: h over the uniform cells plus, per outer cell,
        its width times the baseline mass on its far side."""
        inner = slice(1, self.size - 1)
        fb_lo = np.cumsum(cb)[:-2] / nb
        fb_hi = fb_lo + cb[inner] / nb
        w = self.widths
        lower = slice(0, self.base)
        upper = slice(self.base + self.cells, len(w))
        return float(self.step + (w[lower] * fb_hi[lower]).sum() + (w[upper] * (1 - fb_lo[upper])).sum())


# --- the baseline profile ---------------------------------------------------------------------


@dataclass
class NumericBaseline:
    """A numeric feature's baseline: moments, the cell grid with its counts, PSI bins, CDF table."""

    name: str
    count: int  # non-null rows
    nulls: int
    mean: float | None = None
    std: float | None = None
    min: float | None = None
    max: float | None = None
    lo: float = 0.0
    step: float = 1.0
    cells: int = 0
    lower: np.ndarray = field(default_factory=lambda: np.empty(0))
    upper: np.ndarray = field(default_factory=lambda: np.empty(0))
    cell_counts: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    cell_offsets: np.ndarray = field(default_factory=lambda: np.zeros(0))
    psi_edges: np.ndarray = field(default_factory=lambda: np.empty(0))
    psi_counts: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    cdf_points: np.ndarray = field(default_factory=lambda: np.empty(0))
    cdf_below: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    cdf_upto: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    w1_error_bound: float | None = None  # normalized, worst case over any window
    type: str = NUMERIC
    _grid: _Grid | None = field(default=None, repr=False, compare=False)
    _labels: list[str] | None = field(default=None, repr=False, compare=False)

    @property
    def scale(self) -> float:
        return max(self.std or 0.0, STD_FLOOR)

    @property
    def psi_labels(self) -> list[str]:
        """The PSI bins' labels, for the histograms ("<12", "12–24", ..., "≥60")."""
        if self._labels is None:
            self._labels = bin_labels(self.psi_edges)
        return self._labels

    @property
    def grid(self) -> _Grid | None:
        if self._grid is None and self.count:
            self._grid = _Grid(self.lo, self.step, self.cells, self.lower, self.upper, self.psi_edges)
        return self._grid

    def cdf(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(F_b(v), F_b(v-)) at sorted values v from the CDF table (exact at table points)."""
        pts, n = self.cdf_points, self.count
        r = np.searchsorted(pts, values, side="right") - 1
        at = (r >= 0) & (pts[np.clip(r, 0, None)] == values)
        rc = np.clip(r, 0, len(pts) - 1)
        nxt = np.clip(r + 1, 0, len(pts) - 1)
        left_f = self.cdf_upto[rc].astype(np.float64)
        right_f = self.cdf_below[nxt].astype(np.float64)
        span = pts[nxt] - pts[rc]
        with np.errstate(invalid="ignore", divide="ignore"):
            t = np.where(span > 0, (values - pts[rc]) / span, 0.0)
        between = left_f + (right_f - left_f) * np.clip(t, 0.0, 1.0)
        f = np.where(r < 0, 0.0, np.where(r >= len(pts) - 1, float(n), between))
        f_left = f.copy()
        f = np.where(at, self.cdf_upto[rc], f)
        f_left = np.where(at, self.cdf_below[rc], f_left)
        return f / n, f_left / n

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "type": NUMERIC, "count": self.count,
                                "nulls": self.nulls, "mean": self.mean, "std": self.std,
                                "min": self.min, "max": self.max}
        if self.count:
            data.update({
                "grid": {"lo": self.lo, "step": self.step, "cells": self.cells,
                         "lower": _pack(self.lower), "upper": _pack(self.upper)},
                "cell_counts": _pack(self.cell_counts), "cell_offsets": _pack(self.cell_offsets),
                "psi_edges": self.psi_edges.tolist(), "psi_counts": self.psi_counts.tolist(),
                # the CDF table as steps between points and ties at points: small integers
                "cdf": {"points": _pack(self.cdf_points),
                        "steps": _pack(np.diff(self.cdf_upto, prepend=0)),
                        "ties": _pack(self.cdf_upto - self.cdf_below)},
                "w1_error_bound": self.w1_error_bound,
            })
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NumericBaseline:
        item = cls(name=data["name"], count=int(data["count"]), nulls=int(data["nulls"]),
                   mean=data.get("mean"), std=data.get("std"), min=data.get("min"), max=data.get("max"))
        if item.count:
            grid, cdf = data["grid"], data["cdf"]
            item.lo, item.step, item.cells = float(grid["lo"]), float(grid["step"]), int(grid["cells"])
            item.lower, item.upper = _unpack(grid["lower"]), _unpack(grid["upper"])
            item.cell_counts = _unpack(data["cell_counts"])
            item.cell_offsets = _unpack(data["cell_offsets"])
            item.psi_edges = np.asarray(data["psi_edges"], dtype=np.float64)
            item.psi_counts = np.asarray(data["psi_counts"], dtype=np.int64)
            item.cdf_points = _unpack(cdf["points"])
            item.cdf_upto = np.cumsum(_unpack(cdf["steps"]))
            item.cdf_below = item.cdf_upto - _unpack(cdf["ties"])
            item.w1_error_bound = data.get("w1_error_bound")
        return item


@dataclass
class CategoricalBaseline:
    """A categorical feature's baseline: its categories (most frequent first) and their counts."""

    name: str
    count: int
    nulls: int
    categories: list = field(default_factory=list)
    counts: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    type: str = CATEGORICAL

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "type": CATEGORICAL, "count": self.count, "nulls": self.nulls,
                "categories": list(self.categories), "counts": self.counts.tolist()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CategoricalBaseline:
        return cls(name=data["name"], count=int(data["count"]), nulls=int(data["nulls"]),
                   categories=list(data["categories"]),
                   counts=np.asarray(data["counts"], dtype=np.int64))


Baseline = NumericBaseline | CategoricalBaseline


@dataclass
class BaselineProfile:
    """The training data profiled once: per feature its type, null count and summary.

    `to_dict()` is JSON-serialisable (large arrays as zlib-compressed base64 little-endian),
    `save(path)` / `load(path)` write and read it as a JSON file.
    """

    rows: int
    features: dict[str, Baseline]
    created_at: datetime | None = None

    @property
    def feature_types(self) -> dict[str, str]:
        return {name: item.type for name, item in self.features.items()}

    @property
    def names(self) -> list[str]:
        return list(self.features)

    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "version": FORMAT_VERSION, "rows": self.rows,
                "created_at": self.created_at.isoformat() if self.created_at else None,
                "feature_types": self.feature_types,
                "features": [item.to_dict() for item in self.features.values()]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BaselineProfile:
        if data.get("format") != FORMAT:
            raise BadInput(f"not a drift baseline profile (format {data.get('format')!r})")
        if data.get("version") != FORMAT_VERSION:
            raise BadInput(f"unsupported drift baseline version {data.get('version')!r}")
        features: dict[str, Baseline] = {}
        for item in data["features"]:
            kind = NumericBaseline if item["type"] == NUMERIC else CategoricalBaseline
            features[item["name"]] = kind.from_dict(item)
        created = data.get("created_at")
        return cls(rows=int(data["rows"]), features=features,
                   created_at=datetime.fromisoformat(created) if created else None)

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(self.to_dict(), separators=(",", ":")))
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> BaselineProfile:
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise BadInput(f"{path}: cannot read the baseline profile: {exc}") from exc
        return cls.from_dict(data)


def _pack(array: np.ndarray) -> dict[str, Any]:
    array = np.ascontiguousarray(array)
    dtype = "<i8" if array.dtype.kind in "iu" else "<f8"
    raw = array.astype(dtype, copy=False).tobytes()
    return {"dtype": dtype, "n": int(array.size), "zlib": base64.b64encode(zlib.compress(raw, 1)).decode()}


def _unpack(data: Mapping[str, Any]) -> np.ndarray:
    raw = zlib.decompress(base64.b64decode(data["zlib"]))
    array = np.frombuffer(raw, dtype=data["dtype"]).astype(
        np.int64 if data["dtype"] == "<i8" else np.float64)
    if array.size != int(data["n"]):
        raise BadInput("corrupt baseline profile array")
    return array


def profile_baseline(data: Any, feature_types: Mapping[str, str] | None = None,
                     features: Sequence[str] | None = None) -> BaselineProfile:
    """Profile the training data (a DataFrame or a mapping of arrays) once, for every feature
    (or `features`, in that order: the order the verdict's top N follows)."""
    columns, rows = _columns(data)
    types = infer_feature_types(columns, feature_types, features)
    profiled: dict[str, Baseline] = {}
    for name, kind in types.items():
        values = columns[name]
        if kind == NUMERIC:
            profiled[name] = _profile_numeric(name, _as_float(values))
        else:
            profiled[name] = _profile_categorical(name, values)
    return BaselineProfile(rows=rows, features=profiled, created_at=datetime.now(timezone.utc))


def _profile_categorical(name: str, values: Any) -> CategoricalBaseline:
    codes, uniques = _factorize(values)
    counts = np.bincount(codes + 1, minlength=len(uniques) + 1)
    nulls, counts = int(counts[0]), counts[1:]
    merged: dict[Any, int] = {}
    for value, count in zip(uniques, counts.tolist()):
        key = _key(value)
        merged[key] = merged.get(key, 0) + count
    categories = list(merged)
    totals = np.fromiter(merged.values(), dtype=np.int64, count=len(merged))
    order = np.argsort(-totals, kind="stable")
    return CategoricalBaseline(name=name, count=int(totals.sum()), nulls=nulls,
                               categories=[categories[i] for i in order], counts=totals[order])


def _profile_numeric(name: str, x: np.ndarray) -> NumericBaseline:
    finite = np.isfinite(x)
    xs = np.sort(x[finite])
    n = len(xs)
    item = NumericBaseline(name=name, count=n, nulls=int(len(x) - n))
    if n == 0:
        return item
    mean = float(xs.mean())
    std = float(xs.std())
    item.mean, item.std, item.min, item.max = mean, std, float(xs[0]), float(xs[-1])
    scale = max(std, STD_FLOOR)
    step = GRID_STEP * scale
    span = float(xs[-1] - xs[0])
    psi_edges = np.unique(np.quantile(xs, np.linspace(0, 1, PSI_BINS + 1)[1:-1]))
    if span / step < MAX_UNIFORM_CELLS - 1:
        lo = float(xs[0])
        cells = int(math.floor(span / step)) + 1
        while lo + cells * step <= xs[-1]:  # rounding: the last cell must hold the maximum
            cells += 1
        hi = lo + cells * step
        lower = np.empty(0)
        upper = np.array([hi])
    else:
        cells = MAX_UNIFORM_CELLS
        lo = _window(xs, cells * step)
        hi = lo + cells * step
        i0 = int(np.searchsorted(xs, lo, side="left"))
        j0 = int(np.searchsorted(xs, hi, side="left"))
        lower = _order_points(xs[:i0], psi_edges[psi_edges < lo])
        upper = np.unique(np.concatenate([[hi], _order_points(xs[j0:], psi_edges[psi_edges >= hi])]))
    item.lo, item.step, item.cells = lo, step, cells
    item.lower, item.upper, item.psi_edges = lower, upper, psi_edges
    grid = item.grid
    counts = np.zeros(grid.size, dtype=np.int64)
    offsets = np.zeros(grid.size)
    grid.accumulate(xs, counts, offsets, np.zeros(len(psi_edges) + 1, dtype=np.int64))
    item.cell_counts, item.cell_offsets = counts, offsets
    item.psi_counts = np.bincount(np.searchsorted(psi_edges, xs, side="right"),
                                  minlength=len(psi_edges) + 1).astype(np.int64)
    distinct = np.unique(xs)
    if len(distinct) <= CDF_POINTS + 1:
        points = distinct
    else:
        points = np.unique(xs[np.round(np.linspace(0, n - 1, CDF_POINTS + 1)).astype(np.intp)])
    item.cdf_points = points
    item.cdf_below = np.searchsorted(xs, points, side="left").astype(np.int64)
    item.cdf_upto = np.searchsorted(xs, points, side="right").astype(np.int64)
    item.w1_error_bound = grid.prior_bound(counts, n) / scale
    return item


def _window(xs: np.ndarray, length: float) -> float:
    """The left end of the window of `length` leaving the least tail excess outside it."""
    n = len(xs)
    ranks = np.unique(np.round(np.linspace(0, n - 1, 4097)).astype(np.intp))
    candidates = np.concatenate([xs[ranks], xs[ranks] - length])
    candidates = candidates[(candidates >= xs[0]) & (candidates + length <= xs[-1])]
    if not len(candidates):
        return float(xs[0])
    prefix = np.concatenate([[0.0], np.cumsum(xs)])
    i = np.searchsorted(xs, candidates, side="left")
    j = np.searchsorted(xs, candidates + length, side="left")
    below = i * candidates - prefix[i]
    above = (prefix[n] - prefix[j]) - (n - j) * (candidates + length)
    return float(candidates[int(np.argmin(below + above))])


def _order_points(values: np.ndarray, extra: np.ndarray) -> np.ndarray:
    if not len(values):
        return np.unique(extra)
    ranks = np.unique(np.round(np.linspace(0, len(values) - 1, OUTER_POINTS)).astype(np.intp))
    return np.unique(np.concatenate([values[ranks], extra]))


# --- the streaming reduction ------------------------------------------------------------------


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


def _key(value: Any) -> Any:
    """A category as a JSON value: str, int, float and bool kept (numpy scalars unwrapped),
    bytes decoded, anything else (dates, ...) as its str()."""
    value = _plain(value)
    if isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


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


# --- histograms -------------------------------------------------------------------------------


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


def bin_labels(edges: Sequence[float]) -> list[str]:
    """Short labels of the bins that `edges` split the line into: "<a", "a–b", ..., "≥z" (a value
    on an edge belongs to the bin above it). Numbers as `compact_number` writes them, with the
    fewest significant digits (2 at least) that keep every edge apart from its neighbours."""
    edges = [float(e) for e in edges]
    if not edges:
        return ["all"]
    for digits in range(2, 18):
        text = [compact_number(e, digits) for e in edges]
        if len(set(text)) == len(text):
            break
    return [f"<{text[0]}"] + [f"{a}–{b}" for a, b in zip(text, text[1:])] + [f"≥{text[-1]}"]


_SCALES = ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"), (1.0, ""))


def compact_number(value: float, digits: int = 2) -> str:
    """`value` with `digits` significant digits, briefly: 12, 0.25, 1.5k, 2.4M, 1.2e-5; the
    integer part before a suffix is never cut (123 at two digits stays 123, 123456 is 123k)."""
    if not math.isfinite(value):
        return str(value)
    size = abs(value)
    if size == 0:
        return "0"
    if size < 1e-3 or size >= 1e15:
        mantissa, exponent = f"{value:.{digits - 1}e}".split("e")
        return f"{_trim(mantissa)}e{int(exponent)}"
    i = next(i for i, (scale, _) in enumerate(_SCALES) if size >= scale or scale == 1.0)
    while True:
        scale, suffix = _SCALES[i]
        mantissa = value / scale
        decimals = max(digits - (math.floor(math.log10(abs(mantissa))) + 1), 0)
        text = f"{mantissa:.{decimals}f}"
        if abs(float(text)) < 1000 or i == 0:  # 999.7 rounds to 1000: 1k
            return _trim(text) + suffix
        i -= 1


def _trim(number: str) -> str:
    return number.rstrip("0").rstrip(".") if "." in number else number


# --- metrics on frequencies -------------------------------------------------------------------


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


def psi(baseline_share: Sequence[float], production_share: Sequence[float]) -> float:
    """Population stability index between two bin shares, empty bins at 1e-4."""
    return _psi(np.asarray(baseline_share), np.asarray(production_share))


def psi_level(value: float | None) -> str | None:
    """"ok", "warn" (PSI >= 0.1) or "alert" (PSI >= 0.25); None without a value."""
    if value is None:
        return None
    return "alert" if value >= PSI_ALERT else "warn" if value >= PSI_WARN else "ok"


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


def _ks_statistic(base: NumericBaseline, raw: np.ndarray) -> float:
    values, counts = np.unique(raw, return_counts=True)
    n = counts.sum()
    fp = np.cumsum(counts) / n
    fp_left = fp - counts / n
    fb, fb_left = base.cdf(values)
    return float(max(np.abs(fb - fp).max(), np.abs(fb_left - fp_left).max()))


def ks_pvalue(d: float, n1: int, n2: int) -> float:
    """Two-sided two-sample KS p-value, scipy's asymptotic method: kstwo.sf(d, round(n1 n2/(n1+n2)))."""
    m, n = sorted([float(n1), float(n2)], reverse=True)
    return kolmogorov_sf(round(m * n / (m + n)), d)


# --- distributions (after scipy's algorithms; no scipy at run time) ------------------------------


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


# --- verdict and the one-call convenience -------------------------------------------------------


def ranked(names: Sequence[str], importance: Sequence[str] | Mapping[str, float] | None = None) -> list[str]:
    """Feature names most important first: by `importance` (names in order, or name -> score,
    higher first), the rest after in their given order; names not monitored are ignored."""
    names = list(names)
    if importance is None:
        return names
    if isinstance(importance, Mapping):
        scored = [n for n in names if n in importance]
        first = sorted(scored, key=lambda n: -float(importance[n]))
    else:
        known = set(names)
        first = list(dict.fromkeys(n for n in importance if n in known))
    chosen = set(first)
    return first + [n for n in names if n not in chosen]


def verdict(features: Sequence[FeatureDrift], *, top_n: int = TOP_N,
            importance: Sequence[str] | Mapping[str, float] | None = None) -> tuple[float, bool, bool]:
    """(drifted share, alert, dataset drift): the share is drifted features over features with
    enough data; alert when any of the top `top_n` features drifted; dataset drift at share >= 0.5."""
    if isinstance(top_n, bool) or not isinstance(top_n, int) or top_n < 1:
        raise InvalidField("top_n", f"expected a positive integer, got {top_n!r}")
    measured = [f for f in features if f.value is not None]
    drifted = sum(1 for f in measured if f.drifted)
    share = drifted / len(measured) if measured else 0.0
    by_name = {f.feature: f for f in features}
    top = ranked([f.feature for f in features], importance)[:top_n]
    alert = any(by_name[name].drifted for name in top)
    return share, alert, bool(measured) and share >= DATASET_DRIFT_SHARE


def compute_drift(baseline: Any, production: Any, *, feature_types: Mapping[str, str] | None = None,
                  features: Sequence[str] | None = None, **report: Any) -> DriftReport:
    """Profile `baseline`, reduce `production` against it and report, in one call (small data).
    `report` takes `DriftAccumulator.report`'s keywords (threshold, top_n, importance, ...)."""
    profile = profile_baseline(baseline, feature_types, features)
    return DriftAccumulator(profile).update(production).report(**report)
