"""Feature typing and column reading: Azure's inference of numeric and categorical features
(an integer column is categorical when its distinct share is below 0.05), and the columns of a
DataFrame or of a dict of arrays as floats (nulls as NaN) or factorized categories."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from console.drift.rules import CATEGORICAL, FEATURE_TYPES, INTEGER_CATEGORICAL_SHARE, NUMERIC
from console.errors import BadInput, InvalidField


def type_overrides(raw: Mapping[str, Any]) -> dict[str, str]:
    """Azure's `feature_type_override` (numerical/categorical) in the engine's words."""
    words = {"numerical": NUMERIC, "numeric": NUMERIC, "categorical": CATEGORICAL}
    out = {}
    for feature, kind in raw.items():
        if str(kind).lower() not in words:
            raise InvalidField(f"feature_type_override.{feature}", f"{kind!r}: numerical or categorical")
        out[str(feature)] = words[str(kind).lower()]
    return out


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
    return _as_float_counted(values)[0]


def _as_float_counted(values: Any) -> tuple[np.ndarray, int]:
    """`(floats, type errors)`: the column as float64 with nulls as NaN, and how many present
    values could not be read as numbers (Azure's data type errors; they are NaN too)."""
    if isinstance(values, np.ndarray):
        if values.dtype == np.float64:
            return values, 0
        if values.dtype.kind in "fiub":
            return values.astype(np.float64), 0
        try:
            return values.astype(np.float64), 0
        except (TypeError, ValueError):
            pass
    else:
        dtype = getattr(values, "dtype", None)
        if dtype == np.float64:
            out = values.to_numpy() if hasattr(values, "to_numpy") else np.asarray(values)
            if out.dtype == np.float64:
                return out, 0
        try:
            return values.to_numpy(dtype=np.float64, na_value=np.nan), 0
        except (TypeError, ValueError, AttributeError):
            pass
    import pandas as pd

    series = pd.Series(np.asarray(values, dtype=object))
    out = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    present = int(series.notna().sum())
    return out, present - int(np.count_nonzero(~np.isnan(out)))


def _factorize(values: Any) -> tuple[np.ndarray, list]:
    """`(codes, uniques)`: codes -1 for nulls, uniques as plain Python values."""
    import pandas as pd

    codes, uniques = pd.factorize(values)
    return np.asarray(codes), [_plain(u) for u in list(uniques)]


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


_EXACT_INT = 2.0 ** 53


def _key(value: Any) -> str:
    """A category as Azure keys it: its text (`str(row[column])` in Azure/azureml-assets,
    data_drift_compute_metrics/categorical_data_drift_metrics.py), so a bool baseline meets
    "True"/"False" and integers meet "1".."5". A whole float is written as the integer it is
    (1.0 -> "1"): pandas makes an integer column float when it holds a null, Spark does not.
    Numpy scalars unwrapped, bytes decoded."""
    value = _plain(value)
    if isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer() and abs(value) < _EXACT_INT:
        return str(int(value))
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def category_kind(values: Any) -> str:
    """The baseline column's kind for data type errors: "integer", "float", "bool" or "string"."""
    dtype = getattr(values, "dtype", None)
    kind = _dtype_kind(dtype if dtype is not None else np.asarray(values).dtype)
    if kind == "object":
        inferred = _infer_object(values)
        kind = "float" if inferred == "floating" else inferred
        if kind == "other":
            import pandas as pd

            kind = "bool" if pd.api.types.infer_dtype(values, skipna=True) == "boolean" else "string"
    return kind if kind in ("integer", "float", "bool") else "string"


_BOOL_TEXT = frozenset({"true", "false", "t", "f", "yes", "no", "y", "n", "1", "0"})


def type_error(value: Any, kind: str) -> bool:
    """Whether a present category value cannot be read as the baseline's kind (Spark's cast to
    the baseline type gives null): text that is no number for integer and float columns, text
    that is no truth value for bool columns; anything reads as a string."""
    if kind == "string" or isinstance(value, (bool, int, float)):
        return False
    text = str(value).strip()
    if kind == "bool":
        return text.lower() not in _BOOL_TEXT
    try:
        float(text)
    except ValueError:
        return True
    return False
