"""A monitor signal's `metric_thresholds` in the engine's words: which metric each feature is
judged by, with its threshold, for a data drift signal; which rates with their thresholds for a
data quality signal. Reads the YAML's mapping or azure-ai-ml's entities alike."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from console.drift.rules import (
    CATEGORICAL,
    DEFAULT_METRIC,
    DEFAULT_THRESHOLD,
    DRIFT_METRICS,
    NUMERIC,
    QUALITY_DEFAULT,
    QUALITY_METRICS,
)
from console.errors import InvalidField

_SECTIONS = {NUMERIC: "numerical", CATEGORICAL: "categorical"}


def _get(source: Any, name: str) -> Any:
    if source is None:
        return None
    if isinstance(source, Mapping):
        return source.get(name)
    return getattr(source, name, None)


def _number(value: Any, where: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidField(f"metric_thresholds.{where}", f"expected a number, got {value!r}") from None
    if number != number or number < 0:
        raise InvalidField(f"metric_thresholds.{where}", f"expected a number >= 0, got {value!r}")
    return number


def drift_metric(metric_thresholds: Any, kind: str) -> tuple[str, float]:
    """The metric a data drift signal judges features of `kind` ("numeric" or "categorical") by,
    with its threshold, as azure-ai-ml sends it to Azure: the first metric given a threshold, in
    Azure's order (numerical: JS, normalized Wasserstein, PSI, KS; categorical: JS, PSI,
    chi-squared); a threshold of 0 counts as not given, as there
    (azure/ai/ml/entities/_monitoring/thresholds.py, `_find_name_and_threshold`). Without one:
    Azure's defaults, normalized Wasserstein and Jensen-Shannon at 0.1."""
    section = _get(metric_thresholds, _SECTIONS[kind])
    for metric in DRIFT_METRICS[kind]:
        value = _get(section, metric)
        if value:
            return metric, _number(value, f"{_SECTIONS[kind]}.{metric}")
    return DEFAULT_METRIC[kind], DEFAULT_THRESHOLD


def drift_rules(metric_thresholds: Any, feature_types: Mapping[str, str]) -> tuple[dict[str, str], dict[str, float]]:
    """`(metric, threshold)` per feature, for `DriftAccumulator.report(metric=..., threshold=...)`."""
    by_kind = {kind: drift_metric(metric_thresholds, kind) for kind in _SECTIONS}
    metric = {name: by_kind[kind][0] for name, kind in feature_types.items()}
    threshold = {name: by_kind[kind][1] for name, kind in feature_types.items()}
    return metric, threshold


def quality_rules(metric_thresholds: Any, feature_types: Mapping[str, str],
                  features: Sequence[str] | None = None) -> dict[str, dict[str, float]]:
    """The rates a data quality signal judges each feature by, with their thresholds (breached
    above them), for `DriftAccumulator.report(quality=...)`. Without metric_thresholds, Azure's
    default signal: all three rates at 0.0 for both types. `features`, the signal's list, keeps
    only those."""
    rules: dict[str, dict[str, float]] = {}
    for name, kind in feature_types.items():
        if features is not None and name not in features:
            continue
        if metric_thresholds is None:
            rules[name] = {rate: QUALITY_DEFAULT for rate in QUALITY_METRICS}
            continue
        section = _get(metric_thresholds, _SECTIONS[kind])
        chosen = {rate: _number(_get(section, rate), f"{_SECTIONS[kind]}.{rate}")
                  for rate in QUALITY_METRICS if _get(section, rate) is not None}
        if chosen:
            rules[name] = chosen
    return rules


def signal_quality(signal: Any, feature_types: Mapping[str, str]) -> dict[str, dict[str, float]]:
    """`quality_rules` of a data quality signal as a monitor spec holds it: its YAML mapping (the
    local workspace's) or azure-ai-ml's entity (Azure's), with its thresholds and feature list."""
    listed = _get(signal, "features")
    return quality_rules(_get(signal, "metric_thresholds"), feature_types, listed if isinstance(listed, list) else None)
