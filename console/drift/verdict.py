"""The verdict over a report's features: an alert when any of the top N monitored features
drifted, "dataset drift" when half or more of them did, and the drifted share."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from console.domain import FeatureDrift
from console.drift.rules import DATASET_DRIFT_SHARE, TOP_N
from console.errors import InvalidField


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
