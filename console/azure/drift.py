"""Drift on Azure without waiting for Spark: a model monitor's data drift signal, computed by the
console's own engine (console/drift/) over what the deployment's data collector wrote to blob
storage.

Azure's monitors run on serverless Spark and can queue for hours, and Azure has no API for their
per-feature results. The data is already there: a deployment with `data_collector` writes each
request's `model_inputs` as JSON lines under `modelDataCollector/{endpoint}/{deployment}/model_inputs/
yyyy/MM/dd/HH/` of the workspace's blob store, and the signal names its production and reference
data assets. So a run here:

1. reads the schedule's data drift signal (production and reference data, thresholds, features,
   type overrides, the target column to leave out) through azure-ai-ml's public entities;
2. resolves both data assets to `azureml://datastores/{store}/paths/{path}` and the datastore to
   its account, container and SAS, or the user's own token where the workspace keeps or gives no
   secret (storage.py), then reads with azure-storage-blob on the workspace's transport;
3. profiles the baseline once (kept in the console's state folder, keyed by the asset version);
4. lists the window's hour folders and reads only what is new: each blob once, kept by name, ETag
   and offset (the collector's files are append blobs that grow through their hour: a changed one
   is read from where it ended, with a Range read), its rows kept with their request times;
5. feeds the rows whose request time is in the window to the engine, and drops what has aged out
   of the pane's window.

On a busy endpoint an hour of collected data is hundreds of MB: read whole every five minutes, it
was the console's heaviest traffic by far. Read incrementally, a recompute costs the listing and
what the collector wrote since the last one (benchmarks/azure_refresh.py prints both).

The collector batches several requests into one line (`data` is their rows) and writes a payload
over 4 MB to a blob of its own, the line's `data` then being that blob's URL: such a payload is
read too (once, with the datastore's credential when the blob is on its account); one that cannot
be read is counted, and the report's feature notes say how many.

Reports are the console's, kept beside its audit log: Azure never sees them. What was read is kept
in memory per monitor, not on disk: a new console reads the window once.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from console.azure.storage import DATASTORE_URI
from console.errors import BadInput, NotFound

if TYPE_CHECKING:
    from console.azure.workspace import AzureWorkspace
    from console.domain import DriftReport

RECENT = timedelta(hours=1)  # the window the drift pane shows: what the collector wrote lately
# The pane's report is computed again when it is this old: an hour's window moves little in five
# minutes (and each run lists the window's hour folders and reads what the collector wrote since).
REPORT_MAX_AGE_S = 300.0
CHUNK_ROWS = 50_000


@dataclass
class _Part:
    """Rows read in one go, each with its request's time (epoch seconds)."""

    times: Any  # numpy float64 array
    rows: Any  # pandas DataFrame


@dataclass
class _Blob:
    """What was read of one blob of collected data (or of a large payload): up to `offset`, the end
    of its last whole line, as of version `etag`."""

    hour: datetime  # the hour folder it was found under: it ages out with it
    etag: str | None = None
    offset: int = 0
    last: bytes = b""  # the byte before `offset`: a blob rewritten in place no longer has it there
    parts: list[_Part] = field(default_factory=list)
    unread: list[float] = field(default_factory=list)  # times of requests whose payload could not be read
    since: float = -math.inf  # its rows before this time were dropped


@dataclass
class _Collected:
    """One monitor's production data as read so far."""

    source: tuple[str, str]  # (datastore, path of the collection in it)
    blobs: dict[str, _Blob] = field(default_factory=dict)
    payloads: dict[str, _Blob] = field(default_factory=dict)  # large payloads by URL
    horizon: float = -math.inf  # rows before this are dropped: the start of the newest pane window


class CollectedDrift:
    """Drift reports of the workspace's monitors over their collected data."""

    def __init__(self, ws: AzureWorkspace, folder: Path) -> None:
        self.ws, self.folder = ws, folder
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self._collected: dict[str, _Collected] = {}  # monitor -> what was read (under the monitor's lock)

    def _lock(self, name: str) -> threading.Lock:
        """One run of a monitor at a time: the pane's refresh and an operator's run share the files."""
        with self._guard:
            return self._locks.setdefault(name, threading.Lock())

    # --- reports ---------------------------------------------------------------------------------

    def latest(self, name: str) -> DriftReport | None:
        from console.domain import DriftReport

        try:
            return DriftReport.from_dict(json.loads((self.folder / name / "latest.json").read_text()))
        except (FileNotFoundError, ValueError):
            return None

    def run(self, name: str, start: datetime, end: datetime) -> DriftReport:
        """Compute and keep the report of monitor `name` over [start, end)."""
        with self._lock(name):
            return self._run(name, start, end)

    def _run(self, name: str, start: datetime, end: datetime) -> DriftReport:
        from console import drift

        ml = self.ws.session.client()
        schedule = ml.schedules.get(name)
        monitor = _monitor(schedule, name)
        signal = _drift_signal(schedule, name)
        profile = self._baseline(ml, name, signal)
        # The metric the signal names for each type, with its threshold and direction, as the local
        # monitor judges it; a data quality signal beside it is judged too.
        metric, threshold = drift.drift_rules(getattr(signal, "metric_thresholds", None), profile.feature_types)
        quality = _quality(schedule, profile.feature_types)
        accumulator = drift.DriftAccumulator(profile)
        production = _input_path(signal.production_data) or (
            f"azureml://datastores/workspaceblobstore/paths/modelDataCollector/{monitor.endpoint_name}/"
            f"{monitor.deployment}/model_inputs")
        (store, prefix), _ = self._resolve(ml, production)
        collected = self._collected.get(name)
        if collected is None or collected.source != (store, prefix):
            collected = self._collected[name] = _Collected((store, prefix.rstrip("/")))
        self._fold(collected, start, end)
        unread = _feed(collected, accumulator, start.timestamp(), end.timestamp())
        _age(collected, end.timestamp() - RECENT.total_seconds())
        # Bonferroni across features, as the local monitor: a small window from the baseline
        # itself must not alert more than 5 % of the time.
        p_value = drift.P_VALUE_THRESHOLD / max(len(profile.feature_types), 1)
        report = accumulator.report(monitor=name, endpoint_name=monitor.endpoint_name, deployment=monitor.deployment,
                                    window_start=start, window_end=end, metric=metric, threshold=threshold,
                                    quality=quality, p_value_threshold=p_value, created_at=datetime.now(timezone.utc))
        if unread:  # counted and shown, never left out in silence
            said = f"{unread:,} request{'s' if unread != 1 else ''} over 4 MB not read"
            report = replace(report, features=tuple(replace(f, note=f"{f.note}; {said}" if f.note else said)
                                                    for f in report.features))
        _write_atomically(self.folder / name / "latest.json", json.dumps(report.to_dict(), default=str))
        return report

    def recent(self, name: str, max_age_s: float) -> DriftReport | None:
        """The kept report if it is newer than `max_age_s`, else a fresh one over the last RECENT."""
        with self._lock(name):  # a run that was under way when this was asked counts as fresh
            kept = self.latest(name)
            now = datetime.now(timezone.utc)
            if kept is not None and kept.created_at and (now - kept.created_at).total_seconds() < max_age_s:
                return kept
            return self._run(name, now - RECENT, now)

    # --- data ------------------------------------------------------------------------------------

    def _baseline(self, ml: Any, monitor: str, signal: Any):
        from console import drift

        reference = getattr(signal, "reference_data", None)
        path = _input_path(reference)
        if path is None:
            raise BadInput(f"monitor '{monitor}': its data drift signal has no reference_data to compare against")
        location, asset = self._resolve(ml, path)
        features = signal.features if isinstance(getattr(signal, "features", None), list) else None
        overrides = drift.type_overrides(getattr(signal, "feature_type_override", None) or {})
        key = json.dumps([asset, features, overrides], sort_keys=True)
        cache = self.folder / monitor / f"baseline-{hashlib.sha256(key.encode()).hexdigest()[:16]}.json"
        if cache.exists():
            return drift.BaselineProfile.load(cache)
        import pandas as pd

        store, prefix = location
        storage = self.ws.storage
        names = [prefix] if prefix.endswith(".csv") else [
            n for n in storage.names(store, prefix.rstrip("/") + "/") if n.endswith(".csv")]
        if not names:
            raise BadInput(f"monitor '{monitor}': the baseline {asset} holds no CSV files at {path}")
        import io

        table = pd.concat([pd.read_csv(io.BytesIO(storage.read(store, n) or b"")) for n in names],
                          ignore_index=True)
        target = (getattr(reference, "data_column_names", None) or {}).get("target_column")
        if target and target in table.columns:
            table = table.drop(columns=[target])
        if features:
            table = table[[f for f in features if f in table.columns]]
        profile = drift.profile_baseline(table, feature_types={k: v for k, v in overrides.items()
                                                               if k in table.columns} or None)
        cache.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        profile.save(cache)  # under the monitor's lock: no other run reads it half-written
        return profile

    def _fold(self, collected: _Collected, start: datetime, end: datetime) -> None:
        """Read what is new in the window's hour folders into `collected`: blobs not seen yet,
        and of those seen only what was added since (their ETag changed)."""
        store, prefix = collected.source
        storage = self.ws.storage
        hour = start.astimezone(timezone.utc).replace(minute=0, second=0, microsecond=0)
        while hour < end:
            listed = storage.listing(store, f"{prefix}/{hour:%Y/%m/%d/%H}/")
            names = {item.name for item in listed}
            for gone in [n for n, b in collected.blobs.items() if b.hour == hour and n not in names]:
                del collected.blobs[gone]
            for item in listed:
                blob = collected.blobs.get(item.name)
                if blob is None or blob.since > start.timestamp():  # rows this window wants were dropped
                    blob = collected.blobs[item.name] = _Blob(hour)
                if blob.etag != item.etag:
                    self._read_new(collected, item, blob)
            hour += timedelta(hours=1)

    def _read_new(self, collected: _Collected, item: Any, blob: _Blob) -> None:
        """What blob `item` holds past what was read of it. An append blob is read from one byte
        before the offset, to see that it was appended to (that byte is still the one read), not
        made again; any other blob that changed is read again whole."""
        store, _ = collected.source
        storage = self.ws.storage
        if item.size < blob.offset or item.blob_type != "AppendBlob":  # only an append blob only grows
            _restart(blob)
        chunk = storage.read_from(store, item.name, blob.offset - 1 if blob.offset else 0)
        if chunk is None:  # deleted since it was listed
            collected.blobs.pop(item.name, None)
            return
        data = chunk.data
        if blob.offset:
            if data[:1] != blob.last:  # rewritten in place: read it again whole
                _restart(blob)
                chunk = storage.read_from(store, item.name, 0) or chunk
                data = chunk.data
            else:
                data = data[1:]
        used = self._parse(collected, blob, data)
        if used:
            blob.offset += used
            blob.last = data[used - 1:used]
        blob.etag = chunk.etag or item.etag

    def _parse(self, collected: _Collected, blob: _Blob, data: bytes) -> int:
        """Fold the whole lines of `data` into `blob`'s rows; how many bytes that used (a last line
        the collector is still writing is read again next time, from its start)."""
        import numpy as np
        import pandas as pd

        used = _whole_lines(data)
        records: list[dict[str, Any]] = []
        times: list[float] = []

        def flush() -> None:
            if records:
                blob.parts.append(_Part(np.asarray(times, dtype=float), pd.DataFrame.from_records(records)))
                records.clear()
                times.clear()
        for line in data[:used].split(b"\n"):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
                when = datetime.fromisoformat(entry["time"].replace("Z", "+00:00")).timestamp()
            except (ValueError, KeyError, TypeError, AttributeError):
                continue  # not a line of the collector's
            payload = entry.get("data")
            rows = self._payload(collected, payload, blob.hour) if isinstance(payload, str) else _rows(payload)
            if rows is None:
                blob.unread.append(when)
                continue
            records.extend(rows)
            times.extend([when] * len(rows))
            if len(records) >= CHUNK_ROWS:
                flush()
        flush()
        return used

    def _payload(self, collected: _Collected, url: str, hour: datetime) -> list[dict[str, Any]] | None:
        """The rows of a payload over 4 MB, from the blob the line names (read once: what of it was
        read is kept like a collected blob's); None when it cannot be read."""
        from azure.core.exceptions import AzureError

        from console.errors import AmlopsError

        if not url.startswith("https://"):
            return None
        state = collected.payloads.setdefault(url, _Blob(hour))
        try:
            chunk = self.ws.storage.read_url(url, state.offset)
        except (AmlopsError, AzureError):
            return None
        if chunk is None:
            return None
        used = _whole_lines(chunk.data)
        rows: list[dict[str, Any]] = []
        for line in chunk.data[:used].split(b"\n"):
            try:
                value = json.loads(line) if line.strip() else None
            except ValueError:
                continue
            rows.extend(_rows(value) or [])
        state.offset += used
        state.etag = chunk.etag
        return rows

    def _resolve(self, ml: Any, path: str) -> tuple[tuple[str, str], str]:
        """A data asset reference (an ARM id or azureml:name:version) or a datastore URI, as
        ((datastore, path in it), what it was)."""
        found = DATASTORE_URI.match(path)
        if found:
            return (found["store"], found["path"]), path
        ref = path.removeprefix("azureml:")
        if "/data/" in ref and "/versions/" in ref:
            name, version = ref.split("/data/", 1)[1].split("/versions/")
        elif ref.count(":") == 1:
            name, version = ref.split(":")
        else:
            raise BadInput(f"cannot read {path}: give a data asset (azureml:NAME:VERSION) or an azureml:// URI")
        from azure.core.exceptions import ResourceNotFoundError

        try:
            asset = ml.data.get(name=name, version=version)
        except ResourceNotFoundError:
            raise NotFound("data", f"{name}:{version}") from None
        found = DATASTORE_URI.match(str(asset.path or ""))
        if not found:
            raise BadInput(f"data asset {name}:{version} is at {asset.path}: only a workspace datastore is read here")
        return (found["store"], found["path"]), f"{name}:{version}"


def _whole_lines(data: bytes) -> int:
    """How many bytes of `data` are whole lines: up to its last newline, or all of it when what
    follows that is a whole JSON value (a last line not yet ended)."""
    used = data.rfind(b"\n") + 1
    if data[used:].strip():
        try:
            json.loads(data[used:])
            return len(data)
        except ValueError:
            pass
    return used


def _rows(data: Any) -> list[dict[str, Any]] | None:
    """The rows a line's `data` (or a large payload) holds: a list of records, as the collector
    writes a DataFrame, or pandas' split form ({"columns", "data"}, also under "input_data")."""
    if isinstance(data, list):
        return [r for r in data if isinstance(r, dict)]
    if isinstance(data, dict):
        split = data.get("input_data") if isinstance(data.get("input_data"), dict) else data
        if isinstance(split.get("columns"), list) and isinstance(split.get("data"), list):
            return [dict(zip(split["columns"], r)) for r in split["data"] if isinstance(r, list)]
    return None


def _restart(blob: _Blob) -> None:
    blob.etag, blob.offset, blob.last, blob.since = None, 0, b"", -math.inf
    blob.parts.clear()
    blob.unread.clear()


def _feed(collected: _Collected, accumulator: Any, start: float, end: float) -> int:
    """Give the engine the rows whose request time is in [start, end); how many requests in it
    could not be read."""
    unread = 0
    for blob in collected.blobs.values():
        for part in blob.parts:
            inside = (part.times >= start) & (part.times < end)
            if inside.all():
                accumulator.update(part.rows)
            elif inside.any():
                accumulator.update(part.rows[inside])
        unread += sum(start <= t < end for t in blob.unread)
    return unread


def _age(collected: _Collected, horizon: float) -> None:
    """Drop what is older than `horizon` (the start of the pane's window ending with the newest
    run): blobs of hour folders before it, and older rows of the rest."""
    if horizon <= collected.horizon:
        return
    collected.horizon = horizon
    for table in (collected.blobs, collected.payloads):
        for name in [n for n, b in table.items() if (b.hour + timedelta(hours=1)).timestamp() <= horizon]:
            del table[name]
    for blob in collected.blobs.values():
        if blob.since >= horizon:
            continue
        kept = []
        for part in blob.parts:
            young = part.times >= horizon
            if young.all():
                kept.append(part)
            elif young.any():
                kept.append(_Part(part.times[young], part.rows[young].reset_index(drop=True)))
        blob.parts = kept
        blob.unread = [t for t in blob.unread if t >= horizon]
        blob.since = horizon


def _write_atomically(target: Path, text: str) -> None:
    import os
    import tempfile

    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".report-")
    with os.fdopen(fd, "w") as out:
        out.write(text)
    os.replace(tmp, target)


def _monitor(schedule: Any, name: str):
    from console.azure import convert

    monitor = convert.monitor(schedule)
    if monitor is None or not monitor.endpoint_name:
        raise BadInput(f"schedule '{name}' is not a model monitor of an online deployment")
    return monitor


def _signal(schedule: Any, kind: str) -> Any:
    """The schedule's first monitoring signal of `kind` ("data_drift", "data_quality"), or None."""
    signals = getattr(getattr(schedule, "create_monitor", None), "monitoring_signals", None) or {}
    return next((s for s in signals.values()
                 if str(getattr(getattr(s, "type", None), "value", getattr(s, "type", ""))).lower() == kind), None)


def _drift_signal(schedule: Any, name: str) -> Any:
    signal = _signal(schedule, "data_drift")
    if signal is None:
        raise BadInput(f"monitor '{name}' has no data drift signal: only data drift is computed here")
    return signal


def _input_path(data: Any) -> str | None:
    path = getattr(getattr(data, "input_data", None), "path", None)
    return str(path) if path else None


def _quality(schedule: Any, feature_types: dict[str, str]) -> dict[str, dict[str, float]] | None:
    """The rates a data quality signal of the monitor judges, if it has one."""
    from console import drift

    signal = _signal(schedule, "data_quality")
    return None if signal is None else drift.signal_quality(signal, feature_types)
