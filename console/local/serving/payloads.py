"""Scoring payloads: Azure's `{"input_data": {"columns", "index", "data"}}` translated for the
MLflow scoring server, and the model's error message read out of a failed answer."""

from __future__ import annotations

import json
from typing import Any


def to_mlflow(payload: dict[str, Any]) -> dict[str, Any]:
    """Azure's `{"input_data": ...}` as the MLflow scoring server's payload.

    `{columns, index?, data}` -> `dataframe_split`; a list of records -> `dataframe_records`;
    any other list or dict (tensors) -> `inputs`. A sibling `params` is kept.
    """
    data = payload["input_data"]
    if isinstance(data, dict) and "data" in data:
        split: dict[str, Any] = {"data": data["data"]}
        if "columns" in data:
            split["columns"] = data["columns"]
        if "index" in data:
            split["index"] = data["index"]
        out: dict[str, Any] = {"dataframe_split": split}
    elif isinstance(data, list) and data and isinstance(data[0], dict):
        out = {"dataframe_records": data}
    else:
        out = {"inputs": data}
    if "params" in payload:
        out["params"] = payload["params"]
    return out


def _model_message(body: bytes) -> Any:
    try:
        obj = json.loads(body)
    except ValueError:
        return body.decode("utf-8", "replace")[:4000]
    if isinstance(obj, dict) and "message" in obj:
        return obj["message"]
    return obj
