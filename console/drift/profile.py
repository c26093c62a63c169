"""The baseline profile: each numeric feature's cell grid (uniform cells by arithmetic, outer
cells on order statistics), PSI edges and CDF table, each categorical feature's frequencies;
profiled once from the training data and stored as JSON beside the monitor."""

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

from console.drift.features import _as_float, _columns, _factorize, _key, infer_feature_types
from console.drift.labels import bin_labels
from console.drift.rules import (
    CATEGORICAL,
    CDF_POINTS,
    FORMAT,
    FORMAT_VERSION,
    GRID_STEP,
    MAX_UNIFORM_CELLS,
    NUMERIC,
    OUTER_POINTS,
    PSI_BINS,
    STD_FLOOR,
    SUB_CHUNK,
)
from console.errors import BadInput


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
