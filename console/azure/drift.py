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
   its account, container and key (`datastores.get(include_secrets=True)`, as azure-ai-ml's own
   uploads do), then reads with azure-storage-blob on the workspace's transport;
3. profiles the baseline once (kept in the console's state folder, keyed by the asset version);
4. reads the window's hour folders, keeps the rows whose request time is in the window, and
   feeds them in chunks to the engine, as the local monitor does.

Reports are the console's, kept beside its audit log: Azure never sees them.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
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
# minutes, and each run lists and downloads the hour's collected files again.
REPORT_MAX_AGE_S = 300.0
CHUNK_ROWS = 50_000


class CollectedDrift:
    """Drift reports of the workspace's monitors over their collected data."""

    def __init__(self, ws: AzureWorkspace, folder: Path) -> None:
        self.ws, self.folder = ws, folder
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

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
        limits = getattr(signal, "metric_thresholds", None)
        numeric = _threshold(getattr(limits, "numerical", None), "normalized_wasserstein_distance")
        categorical = _threshold(getattr(limits, "categorical", None), "jensen_shannon_distance")
        threshold = {f: numeric if kind == "numeric" else categorical for f, kind in profile.feature_types.items()}
        accumulator = drift.DriftAccumulator(profile)
        production = _input_path(signal.production_data) or (
            f"azureml://datastores/workspaceblobstore/paths/modelDataCollector/{monitor.endpoint_name}/"
            f"{monitor.deployment}/model_inputs")
        for chunk in self._production(ml, production, start, end):
            accumulator.update(chunk)
        # Bonferroni across features, as the local monitor: a small window from the baseline
        # itself must not alert more than 5 % of the time.
        p_value = drift.P_VALUE_THRESHOLD / max(len(profile.feature_types), 1)
        report = accumulator.report(monitor=name, endpoint_name=monitor.endpoint_name, deployment=monitor.deployment,
                                    window_start=start, window_end=end, threshold=threshold,
                                    p_value_threshold=p_value, created_at=datetime.now(timezone.utc))
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

    def _production(self, ml: Any, path: str, start: datetime, end: datetime) -> Iterator[Any]:
        import pandas as pd

        (store, prefix), _ = self._resolve(ml, path)
        storage = self.ws.storage
        records: list[dict[str, Any]] = []
        hour = start.astimezone(timezone.utc).replace(minute=0, second=0, microsecond=0)
        while hour < end:
            folder = f"{prefix.rstrip('/')}/{hour:%Y/%m/%d/%H}/"
            for name in storage.names(store, folder):
                text = (storage.read(store, name) or b"").decode("utf-8", errors="replace")
                for line in text.splitlines():
                    try:
                        entry = json.loads(line)
                        when = datetime.fromisoformat(entry["time"].replace("Z", "+00:00"))
                    except (ValueError, KeyError, TypeError, AttributeError):
                        continue  # a line the collector was still writing
                    if start <= when < end and isinstance(entry.get("data"), list):
                        records.extend(r for r in entry["data"] if isinstance(r, dict))
                    if len(records) >= CHUNK_ROWS:
                        yield pd.DataFrame.from_records(records)
                        records = []
            hour += timedelta(hours=1)
        if records:
            yield pd.DataFrame.from_records(records)

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


def _drift_signal(schedule: Any, name: str) -> Any:
    signals = getattr(getattr(schedule, "create_monitor", None), "monitoring_signals", None) or {}
    for signal in signals.values():
        if str(getattr(getattr(signal, "type", None), "value", getattr(signal, "type", ""))).lower() == "data_drift":
            return signal
    raise BadInput(f"monitor '{name}' has no data drift signal: only data drift is computed here")


def _input_path(data: Any) -> str | None:
    path = getattr(getattr(data, "input_data", None), "path", None)
    return str(path) if path else None


def _threshold(metrics: Any, field: str) -> float:
    from console import drift

    value = getattr(metrics, field, None)
    return float(value) if value is not None else drift.DEFAULT_THRESHOLD
