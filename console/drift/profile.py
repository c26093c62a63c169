"""The baseline profile: each numeric feature's cell grid (uniform cells by arithmetic, outer
cells on order statistics), histogram edges and CDF table, each categorical feature's
frequencies keyed as Azure keys them (their text); profiled once from the training data and
stored as JSON beside the monitor. Profiles of the first format are read and upgraded."""

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

from console.drift.features import _as_float, _columns, _factorize, _key, category_kind, infer_feature_types
from console.drift.labels import bin_labels
from console.drift.rules import (
    CATEGORICAL,
    CDF_POINTS,
    FORMAT,
    FORMAT_VERSION,
    GRID_STEP,
    HISTOGRAM_EDGES,
    MAX_UNIFORM_CELLS,
    NUMERIC,
    OUTER_POINTS,
    STD_FLOOR,
    SUB_CHUNK,
    TAIL_OCTAVES,
    TAIL_SUBCELLS,
)
from console.errors import BadInput


class Tails:
    """A window's values beyond the baseline's range, which the grid holds in one open cell per
    side: log-spaced cells from the range's end outwards (TAIL_SUBCELLS per doubling of the
    distance, in grid steps), each with its count and the sum of its values' distances from
    that end; and the exact counts below the baseline's minimum and above its maximum, with the
    extremes (Azure's joint range and out-of-bounds rate need them exactly)."""

    __slots__ = ("low_counts", "low_dist", "high_counts", "high_dist", "below", "above", "min", "max",
                 "pending", "pending_n")

    SIZE = TAIL_SUBCELLS * TAIL_OCTAVES
    PENDING = 65_536  # values set aside before they are sorted in: one vectorised pass for many

    def __init__(self) -> None:
        self.low_counts = np.zeros(self.SIZE, dtype=np.int64)
        self.low_dist = np.zeros(self.SIZE)
        self.high_counts = np.zeros(self.SIZE, dtype=np.int64)
        self.high_dist = np.zeros(self.SIZE)
        self.below = self.above = 0
        self.min, self.max = math.inf, -math.inf
        # The grid's special values (outer cells, split cells, the cells at the maximum), of which
        # those beyond the baseline's range are the tails': set aside, since a chunk has few.
        self.pending: list[np.ndarray] = []
        self.pending_n = 0

    def merge(self, other: Tails) -> None:
        """Add another window's tails (both sorted in: see `_Grid.settle`)."""
        self.low_counts += other.low_counts
        self.low_dist += other.low_dist
        self.high_counts += other.high_counts
        self.high_dist += other.high_dist
        self.below += other.below
        self.above += other.above
        self.min, self.max = min(self.min, other.min), max(self.max, other.max)

    @staticmethod
    def cell(distance: np.ndarray, step: float) -> np.ndarray:
        index = np.log2(1.0 + distance / step) * TAIL_SUBCELLS
        return np.clip(index, 0, Tails.SIZE - 1).astype(np.intp)

    @staticmethod
    def bounds(step: float) -> np.ndarray:
        """The distances from the range's end at which the log-spaced cells start (and the last
        one's end, infinite)."""
        starts = step * (np.exp2(np.arange(Tails.SIZE, dtype=np.float64) / TAIL_SUBCELLS) - 1.0)
        return np.append(starts, math.inf)


class _Grid:
    """Cells of one numeric feature: open lower, interior (outer + uniform), open upper.

    Global cell index g: 0 is (-inf, edges[0]); 1..C are [edges[g-1], edges[g]); C+1 is
    [edges[C], +inf). The uniform cells are g in [base+1, base+M], base = len(lower).
    edges[0] is the baseline's minimum; values below it, and those in the last open cell, are
    also kept in `Tails` by whoever asks.
    """

    def __init__(self, lo: float, step: float, cells: int, lower: np.ndarray, upper: np.ndarray,
                 hist_edges: np.ndarray, vmin: float, vmax: float) -> None:
        self.lo, self.step, self.cells = float(lo), float(step), int(cells)
        self.lower = np.asarray(lower, dtype=np.float64)
        self.upper = np.asarray(upper, dtype=np.float64)  # upper[0] == hi
        self.vmin, self.vmax = float(vmin), float(vmax)
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
        self.hist_edges = np.asarray(hist_edges, dtype=np.float64)
        # Per uniform cell, flags: 1 outside the uniform window, 2 split by a histogram edge,
        # 4 at or above the baseline's maximum. A split cell's values are binned one by one; a
        # top cell's are compared with the maximum. Cells are compared with edges through the
        # same arithmetic that places values in them, so a value's cell and its bin never
        # disagree.
        kinds = np.zeros(self.cells + 2, dtype=np.uint8)
        kinds[0] = kinds[-1] = 1
        edge_cells = self._u(self.hist_edges.copy()).astype(np.intp)
        inside = edge_cells[(edge_cells >= 1) & (edge_cells <= self.cells)]
        kinds[inside] |= 2
        top = int(self._u(np.array([self.vmax]))[0])
        self.top = top if 1 <= top <= self.cells else 0
        if self.top:
            kinds[top:self.cells + 1] |= 4
        self.kinds = kinds
        self.split = np.flatnonzero(kinds & 2)
        self.split_global = self.split + self.base
        # The histogram bin of every cell: outer cells by their left edge (histogram edges are
        # among the outer points), uniform cells by the edges placed in cells before them.
        self.cell_bin = np.searchsorted(self.hist_edges, self.anchors, side="right")
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
                   hist_split: np.ndarray, tails: Tails | None = None) -> None:
        """Add finite values to the per-cell counts and offset sums (the split cells' histogram
        counts, and with `tails` the values beyond the baseline's range)."""
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
            if not (c[0] or c[M + 1] or (len(self.split) and c[self.split].any())
                    or (tails is not None and self.top and c[self.top:M + 1].any())):
                continue
            special = np.flatnonzero(self.kinds[ui])
            xs = part[special]
            kind = self.kinds[ui[special]]
            outer = (kind & 1).astype(bool)
            if outer.any():
                xo = xs[outer]
                g = np.searchsorted(self.edges, xo, side="right")
                counts += np.bincount(g, minlength=self.size)
                offsets += np.bincount(g, weights=xo - self.anchors[g], minlength=self.size)
            split = (kind & 2).astype(bool)
            if split.any():
                hist_split += np.bincount(np.searchsorted(self.hist_edges, xs[split], side="right"),
                                          minlength=len(hist_split))
            if tails is not None:
                tails.pending.append(xs)
                tails.pending_n += len(xs)
                if tails.pending_n > Tails.PENDING:
                    self.settle(tails)

    def settle(self, tails: Tails) -> None:
        """Sort the set-aside values beyond the baseline's range into the tails."""
        if not tails.pending:
            return
        x = np.concatenate(tails.pending) if len(tails.pending) > 1 else tails.pending[0]
        tails.pending, tails.pending_n = [], 0
        low = x[x < self.vmin]  # the open lower cell: edges[0] is the baseline's minimum
        if len(low):
            tails.below += len(low)
            tails.min = min(tails.min, float(low.min()))
            dist = self.edges[0] - low
            cell = Tails.cell(dist, self.step)
            tails.low_counts += np.bincount(cell, minlength=Tails.SIZE)
            tails.low_dist += np.bincount(cell, weights=dist, minlength=Tails.SIZE)
        above = x[x > self.vmax]
        if len(above):
            tails.above += len(above)
            tails.max = max(tails.max, float(above.max()))
        high = x[x >= self.edges[-1]]  # the open upper cell
        if len(high):
            dist = high - self.edges[-1]
            cell = Tails.cell(dist, self.step)
            tails.high_counts += np.bincount(cell, minlength=Tails.SIZE)
            tails.high_dist += np.bincount(cell, weights=dist, minlength=Tails.SIZE)

    def hist_counts(self, counts: np.ndarray, hist_split: np.ndarray) -> np.ndarray:
        bins = len(self.hist_edges) + 1
        plain = np.bincount(self.cell_bin[self.plain], weights=counts[self.plain], minlength=bins)
        return plain + hist_split

    def cell_table(self, counts: np.ndarray,
                   offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Every cell as (left, right, count, mean of its values), in order."""
        left = np.concatenate([[-math.inf], self.edges])
        right = np.concatenate([self.edges, [math.inf]])
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = self.anchors + offsets / counts
        return left, right, counts.astype(np.float64), mean

    def fine(self, counts: np.ndarray, offsets: np.ndarray,
             tails: Tails) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """A window as cells (left, right, count, mean of its values), in order: the log-spaced
        cells below the baseline's minimum, the interior cells, the log-spaced cells above."""
        self.settle(tails)
        inner = slice(1, self.size - 1)
        bounds = Tails.bounds(self.step)
        lo_edge, hi_edge = self.edges[0], self.edges[-1]
        with np.errstate(invalid="ignore", divide="ignore"):
            low_mean = lo_edge - tails.low_dist / tails.low_counts
            mid_mean = self.edges[:-1] + offsets[inner] / counts[inner]
            high_mean = hi_edge + tails.high_dist / tails.high_counts
        left = np.concatenate([(lo_edge - bounds[1:])[::-1], self.edges[:-1], hi_edge + bounds[:-1]])
        right = np.concatenate([(lo_edge - bounds[:-1])[::-1], self.edges[1:], hi_edge + bounds[1:]])
        count = np.concatenate([tails.low_counts[::-1], counts[inner], tails.high_counts])
        mean = np.concatenate([low_mean[::-1], mid_mean, high_mean])
        return left, right, count.astype(np.float64), mean

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
    """A numeric feature's baseline: moments (the sample standard deviation, as Spark's `stddev`
    that Azure's monitor divides by), the cell grid with its counts, histogram bins, CDF table."""

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
    hist_edges: np.ndarray = field(default_factory=lambda: np.empty(0))
    hist_counts: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
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
    def hist_labels(self) -> list[str]:
        """The histogram bins' labels, for the pane ("<12", "12–24", ..., "≥60")."""
        if self._labels is None:
            self._labels = bin_labels(self.hist_edges)
        return self._labels

    @property
    def grid(self) -> _Grid | None:
        if self._grid is None and self.count:
            self._grid = _Grid(self.lo, self.step, self.cells, self.lower, self.upper, self.hist_edges,
                               self.min, self.max)
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

    def count_below(self, values: np.ndarray) -> np.ndarray:
        """How many baseline values lie below each of the sorted `values`. Exact where the CDF
        table holds every distinct baseline value, at its points, and where the cell holding the
        value has at most one baseline value (so in sparse tails); elsewhere the table's
        interpolation, kept within the cell's counts (off by at most 1/8192 of the baseline and
        by at most the cell's count)."""
        values = np.asarray(values, dtype=np.float64)
        table = self.cdf(values)[1] * self.count
        return count_below(values, *self.grid.cell_table(self.cell_counts, self.cell_offsets), estimate=table)

    @property
    def discrete(self) -> bool:
        """Whether the CDF table holds every distinct baseline value (every value is a point)."""
        return bool(self.count) and int((self.cdf_upto - self.cdf_below).sum()) == self.count

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "type": NUMERIC, "count": self.count,
                                "nulls": self.nulls, "mean": self.mean, "std": self.std,
                                "min": self.min, "max": self.max}
        if self.count:
            data.update({
                "grid": {"lo": self.lo, "step": self.step, "cells": self.cells,
                         "lower": _pack(self.lower), "upper": _pack(self.upper)},
                "cell_counts": _pack(self.cell_counts), "cell_offsets": _pack(self.cell_offsets),
                "hist_edges": self.hist_edges.tolist(), "hist_counts": self.hist_counts.tolist(),
                # the CDF table as steps between points and ties at points: small integers
                "cdf": {"points": _pack(self.cdf_points),
                        "steps": _pack(np.diff(self.cdf_upto, prepend=0)),
                        "ties": _pack(self.cdf_upto - self.cdf_below)},
                "w1_error_bound": self.w1_error_bound,
            })
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], version: int = FORMAT_VERSION) -> NumericBaseline:
        item = cls(name=data["name"], count=int(data["count"]), nulls=int(data["nulls"]),
                   mean=data.get("mean"), std=data.get("std"), min=data.get("min"), max=data.get("max"))
        if version == 1 and item.std is not None and item.count > 1:
            # format 1 kept the population std: the sample one is sqrt(n / (n - 1)) times it
            item.std = item.std * math.sqrt(item.count / (item.count - 1))
        if item.count:
            grid, cdf = data["grid"], data["cdf"]
            item.lo, item.step, item.cells = float(grid["lo"]), float(grid["step"]), int(grid["cells"])
            item.lower, item.upper = _unpack(grid["lower"]), _unpack(grid["upper"])
            item.cell_counts = _unpack(data["cell_counts"])
            item.cell_offsets = _unpack(data["cell_offsets"])
            old = "psi_edges" in data  # format 1 called them the PSI bins
            item.hist_edges = np.asarray(data["psi_edges" if old else "hist_edges"], dtype=np.float64)
            item.hist_counts = np.asarray(data["psi_counts" if old else "hist_counts"], dtype=np.int64)
            item.cdf_points = _unpack(cdf["points"])
            item.cdf_upto = np.cumsum(_unpack(cdf["steps"]))
            item.cdf_below = item.cdf_upto - _unpack(cdf["ties"])
            item.w1_error_bound = data.get("w1_error_bound")
        return item


@dataclass
class CategoricalBaseline:
    """A categorical feature's baseline: its categories as text (most frequent first), their
    counts, and the column's kind (integer, float, bool or string: what a production value must
    read as, for the data type error rate)."""

    name: str
    count: int
    nulls: int
    categories: list[str] = field(default_factory=list)
    counts: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    kind: str = "string"
    type: str = CATEGORICAL

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "type": CATEGORICAL, "count": self.count, "nulls": self.nulls,
                "kind": self.kind, "categories": list(self.categories), "counts": self.counts.tolist()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], version: int = FORMAT_VERSION) -> CategoricalBaseline:
        categories, counts = list(data["categories"]), np.asarray(data["counts"], dtype=np.int64)
        kind = data.get("kind", "string")
        if version == 1:  # categories kept as JSON values: key them as text, merging 1 and "1"
            kinds = {type(c) for c in categories}
            kind = {bool: "bool", int: "integer", float: "float"}.get(kinds.pop(), "string") \
                if len(kinds) == 1 else "string"
            categories, counts = _merge_keys(categories, counts)
        return cls(name=data["name"], count=int(data["count"]), nulls=int(data["nulls"]),
                   categories=categories, counts=counts, kind=kind)


def _merge_keys(values: Sequence[Any], counts: Sequence[int]) -> tuple[list[str], np.ndarray]:
    """Categories keyed as text, counts of values with the same text merged, most frequent first."""
    merged: dict[str, int] = {}
    for value, count in zip(values, counts):
        key = _key(value)
        merged[key] = merged.get(key, 0) + int(count)
    keys = list(merged)
    totals = np.fromiter(merged.values(), dtype=np.int64, count=len(merged))
    order = np.argsort(-totals, kind="stable")
    return [keys[i] for i in order], totals[order]


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
        version = data.get("version")
        if version not in (1, FORMAT_VERSION):
            raise BadInput(f"unsupported drift baseline version {version!r}")
        features: dict[str, Baseline] = {}
        for item in data["features"]:
            kind = NumericBaseline if item["type"] == NUMERIC else CategoricalBaseline
            features[item["name"]] = kind.from_dict(item, version)
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
    categories, totals = _merge_keys(uniques, counts[1:])
    return CategoricalBaseline(name=name, count=int(totals.sum()), nulls=int(counts[0]),
                               categories=categories, counts=totals, kind=category_kind(values))


def _profile_numeric(name: str, x: np.ndarray) -> NumericBaseline:
    finite = np.isfinite(x)
    xs = np.sort(x[finite])
    n = len(xs)
    item = NumericBaseline(name=name, count=n, nulls=int(len(x) - n))
    if n == 0:
        return item
    mean = float(xs.mean())
    std = float(xs.std(ddof=1)) if n > 1 else 0.0  # Spark's stddev is the sample one
    item.mean, item.std, item.min, item.max = mean, std, float(xs[0]), float(xs[-1])
    scale = max(std, STD_FLOOR)
    step = GRID_STEP * scale
    span = float(xs[-1] - xs[0])
    hist_edges = np.unique(np.quantile(xs, np.linspace(0, 1, HISTOGRAM_EDGES + 1)[1:-1]))
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
        lower = _order_points(xs[:i0], hist_edges[hist_edges < lo])
        upper = np.unique(np.concatenate([[hi], _order_points(xs[j0:], hist_edges[hist_edges >= hi])]))
    item.lo, item.step, item.cells = lo, step, cells
    item.lower, item.upper, item.hist_edges = lower, upper, hist_edges
    grid = item.grid
    counts = np.zeros(grid.size, dtype=np.int64)
    offsets = np.zeros(grid.size)
    grid.accumulate(xs, counts, offsets, np.zeros(len(hist_edges) + 1, dtype=np.int64))
    item.cell_counts, item.cell_offsets = counts, offsets
    item.hist_counts = np.bincount(np.searchsorted(hist_edges, xs, side="right"),
                                   minlength=len(hist_edges) + 1).astype(np.int64)
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


def count_below(edges: np.ndarray, left: np.ndarray, right: np.ndarray, count: np.ndarray,
                mean: np.ndarray, *, estimate: np.ndarray | None = None,
                discrete: bool = False) -> np.ndarray:
    """How many values lie below each of the sorted `edges`, from contiguous cells (left, right,
    count, mean of the cell's values). Cells wholly below an edge count in full; of the cell an
    edge cuts: nothing when it is empty, its one value by where it is when it holds one, else
    `estimate` kept within the cell, or (no estimate) the whole cell on the side of its mean
    when `discrete` (a cell of such data holds one value), else a share in proportion to the
    cut (continuous data)."""
    cum = np.concatenate([[0.0], np.cumsum(count)])
    i = np.clip(np.searchsorted(right, edges, side="right"), 0, len(count) - 1)
    whole, c = cum[i], count[i]
    # A mean within rounding of the edge is a value on it, which belongs to the bin above.
    slack = 1e-9 * np.where(np.isfinite(right[i] - left[i]), right[i] - left[i], np.abs(edges))
    by_mean = np.where(mean[i] < edges - slack, c, 0.0)
    if estimate is not None:
        part = np.clip(estimate - whole, 0.0, c)
    elif discrete:
        part = by_mean
    else:
        width = right[i] - left[i]
        with np.errstate(invalid="ignore", divide="ignore"):
            share = (edges - left[i]) / width
        part = np.where(np.isfinite(width) & (width > 0), c * np.clip(share, 0.0, 1.0), by_mean)
    part = np.where(c == 1, by_mean, part)
    return whole + np.where(c > 0, part, 0.0)


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
