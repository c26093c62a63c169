"""Model monitors in the local workspace: Azure's monitor schedules, run on their trigger and on demand.

A monitor (`create_monitor` in a schedule YAML) watches one deployment. A run compares the
deployment's collected `model_inputs` within a window against the baseline: the training data
asset the deployed model was trained on, found through the job that produced it (or, for a model
registered from a folder, the signal's `reference_data`). The baseline is profiled once and
stored; production rows are read hour folder by hour folder and reduced in chunks
(`console/drift.py`), so memory stays flat however much was collected. Reports are stored with
their window.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from console import specs
from console.domain import DriftReport, Monitor
from console.errors import BadInput, InvalidField, NotFound, NotSupported, describe
from console.local.assets import parse_ref
from console.naming import check_name

if TYPE_CHECKING:
    from console.local.assets import AssetService
    from console.local.context import Context
    from console.local.models import ModelService
    from console.local.rpc import Request

log = logging.getLogger("amlops.monitor")

CHUNK_ROWS = 50_000
_PERIODS = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1),
            "week": timedelta(weeks=1), "month": timedelta(days=30)}


class MonitorService:
    def __init__(self, ctx: Context, assets: AssetService, models: ModelService) -> None:
        self.ctx = ctx
        self.store = ctx.store
        self.assets = assets
        self.models = models
        self.root = ctx.folder.root / "monitors"
        self.root.mkdir(mode=0o700, exist_ok=True)
        self._running: set[str] = set()
        self._lock = threading.Lock()

    def rpc_methods(self) -> dict[str, tuple[Any, bool]]:
        return {"list": (self.list, False), "run": (self.run, True), "latest": (self.latest, False),
                "for_endpoint": (self.for_endpoint, False)}

    # --- create and read ---------------------------------------------------------------------

    def create(self, req: Request, spec: specs.Spec, data: dict[str, Any]) -> dict[str, Any]:
        name = check_name("asset", data.get("name"))
        monitor = data.get("create_monitor")
        if not isinstance(monitor, dict):
            raise NotSupported("local", "schedules that do not create a monitor", "only model monitors run locally")
        target = str((monitor.get("monitoring_target") or {}).get("endpoint_deployment_id") or "")
        endpoint, _, deployment = target.removeprefix("azureml:").partition(":")
        if not endpoint or not deployment:
            raise InvalidField("create_monitor.monitoring_target.endpoint_deployment_id",
                               "expected azureml:ENDPOINT:DEPLOYMENT")
        signals = {k: v for k, v in (monitor.get("monitoring_signals") or {}).items()
                   if isinstance(v, dict) and v.get("type") == "data_drift"}
        if not signals:
            raise NotSupported("local", "monitors without a data_drift signal", "the local workspace computes data drift")
        period = trigger_period(data.get("trigger") or {})
        now = self.ctx.clock.now()
        row = {"name": name, "endpoint": endpoint, "deployment": deployment, "spec": data,
               "trigger": _trigger_text(data.get("trigger") or {}), "period_s": int(period.total_seconds()),
               "next_run_at": next_run(data.get("trigger") or {}, now).isoformat(), "created_at": now.isoformat()}
        with self.store.transaction():
            existing = self.store.row("SELECT name FROM monitors WHERE name = ?", (name,))
            if existing:
                self.store.update("monitors", {"name": name}, {k: v for k, v in row.items() if k != "created_at"})
            else:
                self.store.insert("monitors", row)
            self.ctx.audit(req, "monitors.create", name, after={"target": f"{endpoint}/{deployment}",
                                                             "trigger": row["trigger"]}, detail=spec.path)
        return {"kind": "schedule", **self._record(self._row(name)).to_dict()}

    def list(self, req: Request) -> list[dict[str, Any]]:
        return [self._record(r).to_dict() for r in self.store.rows("SELECT * FROM monitors ORDER BY name")]

    def latest(self, req: Request, name: str) -> dict[str, Any] | None:
        self._row(name)
        row = self.store.row("SELECT report FROM drift_reports WHERE monitor = ? ORDER BY id DESC LIMIT 1", (name,))
        return row["report"] if row else None

    def for_endpoint(self, req: Request, endpoint: str, deployment: str | None = None) -> list[dict[str, Any]]:
        rows = self.store.rows("SELECT * FROM monitors WHERE endpoint = ? ORDER BY name", (endpoint,))
        return [self._record(r).to_dict() for r in rows if deployment in (None, r["deployment"])]

    # --- run ---------------------------------------------------------------------------------

    def run(self, req: Request, name: str, window_start: str | None = None, window_end: str | None = None,
            trigger: str = "User") -> dict[str, Any]:
        row = self._row(name)
        end = _parse_time(window_end, "window_end") if window_end else self.ctx.clock.now()
        start = _parse_time(window_start, "window_start") if window_start else end - timedelta(seconds=row["period_s"])
        if start >= end:
            raise InvalidField("window_start", "must be before window_end")
        self._check_target(row)
        with self._lock:
            if name in self._running:
                raise BadInput(f"monitor '{name}' is already running")
            self._running.add(name)
        op = self.ctx.new_operation("monitors.run", name)
        self.ctx.audit(req, "monitors.run", name, after={"window_start": start.isoformat(), "window_end": end.isoformat()},
                     detail=f"trigger {trigger}")
        threading.Thread(target=self._run, args=(row, start, end, op["id"]), daemon=True,
                         name=f"monitor-{name}").start()
        return op

    def _run(self, row: dict[str, Any], start: datetime, end: datetime, op_id: str) -> None:
        try:
            report = self.compute(row, start, end)
            with self.store.transaction():
                self.store.insert("drift_reports", {"monitor": row["name"], "endpoint": row["endpoint"],
                                                    "deployment": row["deployment"], "window_start": start.isoformat(),
                                                    "window_end": end.isoformat(), "report": report.to_dict(),
                                                    "created_at": self.ctx.clock.now().isoformat()})
                self.store.update("monitors", {"name": row["name"]}, {"last_run_at": self.ctx.clock.now().isoformat()})
                self.ctx.finish_operation(op_id)
        except Exception as err:  # the operation carries the reason; the daemon goes on
            log.exception("monitor %s failed", row["name"])
            message = describe(err)
            self.ctx.finish_operation(op_id, "Failed", message)
        finally:
            with self._lock:
                self._running.discard(row["name"])

    def compute(self, row: dict[str, Any], start: datetime, end: datetime) -> DriftReport:
        from console import drift

        signal = self._signal(row)
        profile = self._baseline(row, signal)
        # The metric the signal names for each type, with its threshold and direction (Azure's
        # defaults without one); a data quality signal's rates, judged too.
        metric, threshold = drift.drift_rules(signal.get("metric_thresholds"), profile.feature_types)
        signals = row["spec"]["create_monitor"]["monitoring_signals"].values()
        beside = next((v for v in signals if isinstance(v, dict) and v.get("type") == "data_quality"), None)
        quality = None if beside is None else drift.signal_quality(beside, profile.feature_types)
        accumulator = drift.DriftAccumulator(profile)
        for chunk in self._production(row, start, end):
            accumulator.update(chunk)
        # Small windows test each feature's p-value too; across k features at 5 % each, a window
        # drawn from the baseline itself would alert far more than 5 % of the time. Bonferroni
        # keeps the monitor's false-alert rate at 5 %.
        p_value = drift.P_VALUE_THRESHOLD / max(len(profile.feature_types), 1)
        return accumulator.report(monitor=row["name"], endpoint_name=row["endpoint"], deployment=row["deployment"],
                                  window_start=start, window_end=end, metric=metric, threshold=threshold,
                                  quality=quality, p_value_threshold=p_value, created_at=self.ctx.clock.now())

    # --- the scheduler's part ----------------------------------------------------------------

    def tick(self, now: datetime) -> None:
        from console.local.rpc import SCHEDULER

        for row in self.store.rows("SELECT * FROM monitors WHERE next_run_at <= ?", (now.isoformat(),)):
            nxt = next_run(row["spec"].get("trigger") or {}, now)
            self.store.update("monitors", {"name": row["name"]}, {"next_run_at": nxt.isoformat()})
            try:
                self.run(SCHEDULER, row["name"], trigger="Schedule")
            except Exception:  # a monitor whose target is gone fails its run, not the scheduler
                log.exception("scheduled run of %s", row["name"])

    # --- baseline and production data --------------------------------------------------------

    def _check_target(self, row: dict[str, Any]) -> None:
        if not self.store.row("SELECT name FROM endpoints WHERE name = ?", (row["endpoint"],)):
            raise NotFound("endpoint", f"{row['endpoint']} (watched by monitor {row['name']})")
        if not self.store.row("SELECT name FROM deployments WHERE endpoint = ? AND name = ?",
                              (row["endpoint"], row["deployment"])):
            raise NotFound("deployment", f"{row['endpoint']}/{row['deployment']} (watched by monitor {row['name']})")

    def _signal(self, row: dict[str, Any]) -> dict[str, Any]:
        signals = row["spec"]["create_monitor"]["monitoring_signals"]
        return next(v for v in signals.values() if isinstance(v, dict) and v.get("type") == "data_drift")

    def _baseline(self, row: dict[str, Any], signal: dict[str, Any]):
        """The profile of the data the deployed model was trained on, computed once and stored."""
        from console import drift

        asset = self._training_asset(row) or _asset_ref(signal)
        if asset is None:
            raise BadInput(f"monitor '{row['name']}': no baseline: the model has no training job with a data "
                           "asset and the signal has no reference_data")
        name, version, label = parse_ref(asset)
        stored = self.assets.resolve("data", name, version, label)
        features = signal.get("features") if isinstance(signal.get("features"), list) else None
        overrides = drift.type_overrides(signal.get("feature_type_override") or {})
        key = json.dumps([features, overrides], sort_keys=True)
        suffix = "-" + hashlib.sha256(key.encode()).hexdigest()[:12] if (features or overrides) else ""
        cache = self.root / row["name"] / f"baseline-{stored['name']}-{stored['version']}{suffix}.json"
        if cache.exists():
            return drift.BaselineProfile.load(cache)
        target = ((signal.get("reference_data") or {}).get("data_column_names") or {}).get("target_column")
        table = _read_table(Path(stored["path"]))
        if target and target in table.columns:
            table = table.drop(columns=[target])
        if features:
            missing = [f for f in features if f not in table.columns]
            if missing:
                raise InvalidField("features", f"not in the baseline {stored['name']}:{stored['version']}: "
                                               f"{', '.join(missing)}")
            table = table[features]
        unknown = sorted(set(overrides) - set(table.columns))
        if unknown:
            raise InvalidField("feature_type_override", f"not in the baseline: {', '.join(unknown)}")
        profile = drift.profile_baseline(table, feature_types=overrides or None)
        cache.parent.mkdir(mode=0o700, exist_ok=True)
        profile.save(cache)
        return profile

    def _training_asset(self, row: dict[str, Any]) -> str | None:
        """Model -> its job -> the data asset it was trained on (as `azureml:name:version`)."""
        dep = self.store.row("SELECT model FROM deployments WHERE endpoint = ? AND name = ?",
                             (row["endpoint"], row["deployment"]))
        if not dep or not dep["model"]:
            return None
        name, _, version = dep["model"].partition(":")
        try:
            model = self.models.get(None, name, version)
        except NotFound:
            return None
        if not model.get("job"):
            return None
        job = self.store.row("SELECT plan FROM jobs WHERE name = ?", (model["job"],))
        assets = (job or {}).get("plan", {}).get("input_assets") or {}
        return next((f"azureml:{ref}" for ref in assets.values()), None)

    def _production(self, row: dict[str, Any], start: datetime, end: datetime) -> Iterator[Any]:
        import pandas as pd

        folder = self.ctx.folder.collected_dir / row["endpoint"] / row["deployment"] / "model_inputs"
        records: list[dict[str, Any]] = []
        for path in _hour_files(folder, start, end):
            with open(path, encoding="utf-8") as fh:
                for line in fh:
                    try:
                        entry = json.loads(line)
                        when = datetime.fromisoformat(entry["time"].replace("Z", "+00:00"))
                    except (ValueError, KeyError, TypeError):
                        continue  # a torn last line from a crash: skip it
                    if start <= when < end:
                        records.extend(entry.get("data") or [])
                    if len(records) >= CHUNK_ROWS:
                        yield pd.DataFrame.from_records(records)
                        records = []
        if records:
            yield pd.DataFrame.from_records(records)

    # --- helpers -----------------------------------------------------------------------------

    def _row(self, name: str) -> dict[str, Any]:
        row = self.store.row("SELECT * FROM monitors WHERE name = ?", (name,))
        if row is None:
            raise NotFound("monitor", name)
        return row

    def _record(self, row: dict[str, Any]) -> Monitor:
        signals = tuple(f"{k} ({v.get('type')})" for k, v in row["spec"]["create_monitor"]["monitoring_signals"].items()
                        if isinstance(v, dict))
        return Monitor(name=row["name"], endpoint_name=row["endpoint"], deployment=row["deployment"],
                       signals=signals, trigger=row["trigger"],
                       last_run_at=datetime.fromisoformat(row["last_run_at"]) if row.get("last_run_at") else None)


def trigger_period(trigger: dict[str, Any]) -> timedelta:
    """How often a trigger fires: the default lookback of a run."""
    if trigger.get("type") == "cron":
        fields = str(trigger.get("expression", "")).split()
        if len(fields) == 5 and fields[1] == "*":
            return timedelta(hours=1)
        return timedelta(days=1)
    unit = _PERIODS.get(str(trigger.get("frequency", "day")).lower())
    if unit is None:
        raise InvalidField("trigger.frequency", f"{trigger.get('frequency')!r}: minute, hour, day, week or month")
    return unit * int(trigger.get("interval") or 1)


def next_run(trigger: dict[str, Any], now: datetime) -> datetime:
    """The next firing after `now`: recurrence with its schedule's hours and minutes, or a daily
    or hourly cron expression (minute and hour fields)."""
    if trigger.get("type") == "cron":
        fields = str(trigger.get("expression", "")).split()
        if len(fields) != 5:
            raise InvalidField("trigger.expression", "a cron expression has five fields")
        minute = int(fields[0]) if fields[0].isdigit() else 0
        if fields[1] == "*":
            candidate = now.replace(minute=minute, second=0, microsecond=0)
            return candidate if candidate > now else candidate + timedelta(hours=1)
        hour = int(fields[1]) if fields[1].isdigit() else 0
        candidate = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
        return candidate if candidate > now else candidate + timedelta(days=1)
    period = trigger_period(trigger)
    schedule = trigger.get("schedule") or {}
    hours, minutes = _first(schedule.get("hours")), _first(schedule.get("minutes"))
    if period >= timedelta(days=1) and (hours is not None or minutes is not None):
        candidate = now.replace(hour=hours or 0, minute=minutes or 0, second=0, microsecond=0)
        while candidate <= now:
            candidate += period
        return candidate
    return now + period


def _first(value: Any) -> int | None:
    if isinstance(value, list):
        return int(value[0]) if value else None
    return None if value is None else int(value)


def _trigger_text(trigger: dict[str, Any]) -> str:
    if trigger.get("type") == "cron":
        return f"cron {trigger.get('expression')}"
    return f"every {trigger.get('interval', 1)} {trigger.get('frequency', 'day')}"


def _asset_ref(signal: dict[str, Any]) -> str | None:
    path = (((signal.get("reference_data") or {}).get("input_data")) or {}).get("path")
    return str(path) if isinstance(path, str) and path.startswith("azureml:") else None


def _read_table(path: Path):
    import pandas as pd

    files = sorted(path.glob("*.csv")) if path.is_dir() else [path]
    if not files:
        raise BadInput(f"the baseline data asset at {path} holds no CSV files")
    return pd.concat([pd.read_csv(f) for f in files], ignore_index=True)


def _hour_files(folder: Path, start: datetime, end: datetime) -> Iterator[Path]:
    """The `yyyy/MM/dd/HH` folders' files that can hold rows of [start, end)."""
    hour = start.astimezone(timezone.utc).replace(minute=0, second=0, microsecond=0)
    while hour < end:
        directory = folder / hour.strftime("%Y/%m/%d/%H")
        if directory.is_dir():
            yield from sorted(directory.glob("*.jsonl"))
        hour += timedelta(hours=1)


def _parse_time(text: str, field: str) -> datetime:
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidField(field, f"{text!r} is not an ISO 8601 time") from None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)
