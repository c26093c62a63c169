"""Azure ML's data collector for the local router: `model_inputs` and `model_outputs` as JSON lines.

Layout, as Azure's collector writes it (UTC hour, a new folder every hour):

    {collect_dir}/{endpoint}/{deployment}/{collection}/yyyy/MM/dd/HH/data.jsonl

Each line: `{"correlationid": "...", "time": "2026-11-26T07:32:26.123456Z", "data": [{col: value}, ...]}`.
An input and its output carry the same correlation id (the request's `x-request-id`).

- `model_inputs`: the request's rows as records with column names. Azure's
  `input_data: {columns, index, data}` and MLflow's `dataframe_split` become one record per row;
  `dataframe_records` (or `input_data` as a list of records) are the records; MLflow's `inputs` /
  `instances` as a dict of columns are turned into records, as a list of dicts are kept, and a
  list of plain rows becomes records keyed "0", "1", ...
- `model_outputs`: the predictions, one record per prediction: a dict stays as it is, anything
  else (a label, a probability list) becomes `{"prediction": value}`.

Nothing happens on the request path but appending a tuple to a list: parsing the model's response,
conversion, serialisation and file I/O run in a worker thread every `interval_s` (~1 s) and once
more at shutdown. If the disk stalls, the buffer is capped (`max_buffered`) and the oldest
entries beyond the cap are dropped and counted, never blocking a request.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

log = logging.getLogger("amlops.router.collector")

INPUTS = "model_inputs"
OUTPUTS = "model_outputs"
COLLECTIONS = (INPUTS, OUTPUTS)


def input_records(payload: Any) -> list[Any]:
    """The request's rows as records (dicts keyed by column name)."""
    if isinstance(payload, dict):
        for key in ("input_data", "dataframe_split", "dataframe_records", "inputs", "instances"):
            if key in payload:
                return _records(payload[key])
        return [payload]
    return _records(payload)


def _records(obj: Any) -> list[Any]:
    if isinstance(obj, dict):
        if "data" in obj and isinstance(obj["data"], list):  # split orientation
            columns = obj.get("columns")
            rows = obj["data"]
            if columns is None:
                return [_row_record(r) for r in rows]
            return [dict(zip(columns, r)) if isinstance(r, list) else {columns[0]: r} for r in rows]
        values = list(obj.values())
        if values and all(isinstance(v, list) for v in values):  # columns -> lists
            n = min(len(v) for v in values)
            keys = list(obj)
            return [{k: obj[k][i] for k in keys} for i in range(n)]
        return [obj]
    if isinstance(obj, list):
        return [_row_record(r) for r in obj]
    return [{"value": obj}]


def _row_record(row: Any) -> Any:
    if isinstance(row, dict):
        return row
    if isinstance(row, list):
        return {str(i): v for i, v in enumerate(row)}
    return {"value": row}


def output_records(body: bytes | Any) -> list[Any]:
    """The predictions as records, from MLflow's raw response body (or already parsed JSON)."""
    obj = json.loads(body) if isinstance(body, (bytes, bytearray, str)) else body
    if isinstance(obj, dict) and "predictions" in obj:
        obj = obj["predictions"]
    if isinstance(obj, dict):  # a dict of columns (a DataFrame in "list" orientation)
        return _records(obj)
    if not isinstance(obj, list):
        obj = [obj]
    return [p if isinstance(p, dict) else {"prediction": p} for p in obj]


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def hour_folder(base: str, collection: str, t: float) -> str:
    """`{base}/{collection}/yyyy/MM/dd/HH` for the UTC hour of epoch time `t`."""
    return os.path.join(base, collection, datetime.fromtimestamp(t, timezone.utc).strftime("%Y/%m/%d/%H"))


class Collector:
    """Buffers collected payloads; `run()` flushes them to disk every `interval_s` off the loop.

    Entries are `(base, collection, correlation_id, time, payload)` where `base` is
    `{collect_dir}/{endpoint}/{deployment}`; the payload is the parsed request for inputs and
    the raw response bytes for outputs.
    """

    def __init__(self, interval_s: float = 1.0, max_buffered: int = 200_000) -> None:
        self.interval_s = interval_s
        self.max_buffered = max_buffered
        self._buf: list[tuple[str, str, str | bytes, float, Any]] = []
        self.written = 0
        self.dropped = 0
        self.errors = 0
        self._lock = asyncio.Lock()

    # --- request path: O(1) ------------------------------------------------------------------

    def add(self, base: str, collection: str, correlation_id: str | bytes, t: float, payload: Any) -> None:
        buf = self._buf
        buf.append((base, collection, correlation_id, t, payload))
        if len(buf) > self.max_buffered:
            drop = len(buf) - self.max_buffered
            del buf[:drop]
            self.dropped += drop

    # --- flushing ----------------------------------------------------------------------------

    def pending(self) -> int:
        return len(self._buf)

    async def flush(self) -> int:
        """Write what is buffered now, in a worker thread; returns the lines written."""
        async with self._lock:  # one writer at a time keeps each file's lines in order
            if not self._buf:
                return 0
            batch, self._buf = self._buf, []
            return await asyncio.to_thread(self.write, batch)

    async def run(self) -> None:
        """Flush every `interval_s` until cancelled (then the owner calls `flush()` once more)."""
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await self.flush()
            except Exception:  # noqa: BLE001 - a full disk must not stop the router
                self.errors += 1
                log.exception("data collection flush failed")

    def write(self, batch: list[tuple[str, str, str | bytes, float, Any]]) -> int:
        """Convert, serialise and append a batch (synchronous; runs in a worker thread)."""
        files: dict[str, list[str]] = defaultdict(list)
        for base, collection, cid, t, payload in batch:
            if isinstance(cid, bytes):
                cid = cid.decode("latin-1")
            try:
                data = input_records(payload) if collection == INPUTS else output_records(payload)
                line = json.dumps({"correlationid": cid, "time": _iso(t), "data": data},
                                  separators=(",", ":"), default=str)
            except (ValueError, TypeError):
                self.errors += 1  # an unparseable model response: nothing to collect
                continue
            files[os.path.join(hour_folder(base, collection, t), "data.jsonl")].append(line)
        written = 0
        for path, lines in files.items():
            try:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
                with open(path, "a", encoding="utf-8") as f:
                    f.write("\n".join(lines) + "\n")
                written += len(lines)
            except OSError:
                self.errors += 1
                log.exception("cannot write %s", path)
        self.written += written
        return written
