"""The jobs of the local workspace as the Workspace protocol sees them: list, get, logs, metrics,
submit and cancel. Submitting plans the job (`plan.py`), snapshots its code folder and queues
it in one transaction: nothing is stored if any of that fails. The runner (`runner.py`) starts
and reaps what is queued.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from console import specs
from console.domain import JOB_TERMINAL
from console.errors import BadInput, InvalidField, NotFound
from console.local.jobs.plan import new_name
from console.local.jobs.runner import LOG_FILE
from console.local.ledger import ACTIVE
from console.local.rpc import RawJSON
from console.naming import check_name

if TYPE_CHECKING:
    from console.local.context import Context
    from console.local.jobs.plan import JobPlanner
    from console.local.jobs.runner import JobRunner
    from console.local.rpc import Request
    from console.local.tracking import Tracking

PUBLIC = ("name", "status", "job_type", "display_name", "experiment_name", "compute", "created_at",
          "started_at", "ended_at", "parent", "mlflow_run_id", "error", "tags")


class JobService:
    def __init__(self, ctx: Context, planner: JobPlanner, runner: JobRunner, tracking: Tracking) -> None:
        self.ctx = ctx
        self.store = ctx.store
        self.planner = planner
        self.runner = runner
        self.tracking = tracking
        self._metrics: dict[str, list[dict[str, Any]]] = {}  # ended jobs' metric histories
        self._listings: dict[tuple[Any, ...], tuple[int, dict[str, Any]]] = {}

    def rpc_methods(self) -> dict[str, tuple[Any, bool]]:
        return {"list": (self.list, False), "export": (self.export, False), "get": (self.get, False),
                "submit": (self.submit, True),
                "cancel": (self.cancel, True), "logs": (self.logs, False), "metrics": (self.metrics, False)}

    def list(self, req: Request, parent: str | None = None, limit: int | None = None) -> dict[str, Any]:
        """Jobs newest first, as {"columns", "rows"}: ten thousand of them must list fast."""
        cols = ", ".join(PUBLIC)
        sql = f"SELECT {cols} FROM jobs"
        params: tuple = ()
        if parent:
            sql += " WHERE parent = ?"
            params = (parent,)
        sql += " ORDER BY seq DESC"
        if limit:
            sql += f" LIMIT {int(limit)}"
        key, version = (parent, limit), self.store.writes.get("jobs", 0)
        cached = self._listings.get(key)
        if cached and cached[0] == version:
            return cached[1]  # a console polling an unchanged list costs no query
        columns, rows = self.store.table(sql, params)
        result = {"columns": columns, "rows": rows}
        if len(self._listings) > 16:
            self._listings.clear()
        self._listings[key] = (version, result)
        return result

    def export(self, req: Request, parent: str | None = None, limit: int | None = None) -> RawJSON:
        """The listing as a JSON array of job objects, encoded once per change of the jobs table."""
        key, version = ("export", parent, limit), self.store.writes.get("jobs", 0)
        cached = self._listings.get(key)
        if cached and cached[0] == version:
            return cached[1]
        listing = self.list(req, parent, limit)
        columns = listing["columns"]
        encoded = RawJSON(json.dumps([dict(zip(columns, row)) for row in listing["rows"]],
                                     separators=(",", ":")).encode())
        self._listings[key] = (version, encoded)
        return encoded

    def get(self, req: Request | None, name: str) -> dict[str, Any]:
        row = self.store.row(f"SELECT {', '.join(PUBLIC)} FROM jobs WHERE name = ?", (name,))
        if row is None:
            raise NotFound("job", name)
        return row

    def metrics(self, req: Request | None, name: str) -> list[dict[str, Any]]:
        """Every metric of the job's MLflow run with its history, step by step (MetricSeries).

        An ended job's metrics no longer change, so they are read from MLflow once.
        """
        row = self._row(name)
        cached = self._metrics.get(name)
        if cached is not None:
            return cached
        run_id = row["mlflow_run_id"]
        if not run_id:
            return []
        series = [{"job_name": name, "key": key, "steps": steps, "values": values}
                  for key, steps, values in self.tracking.metric_histories(run_id)]
        if row["status"] in JOB_TERMINAL:
            if len(self._metrics) > 256:
                self._metrics.clear()
            self._metrics[name] = series
        return series

    def logs(self, req: Request, name: str, offset: int = 0, max_bytes: int = 1 << 20) -> dict[str, Any]:
        row = self._row(name)
        if row["job_type"] == "pipeline":
            steps = self.store.rows("SELECT name, display_name, status FROM jobs WHERE parent = ? ORDER BY seq", (name,))
            text = "".join(f"step {s['display_name']}: {s['name']} ({s['status']})\n" for s in steps)
            return {"text": text if offset == 0 else "", "offset": 1, "terminal": row["status"] in JOB_TERMINAL,
                    "note": "a pipeline's output is in its steps: amlops job logs STEP"}
        path = Path(row["workdir"]) / LOG_FILE
        text, new_offset = "", offset
        if path.exists():
            with open(path, "rb") as fh:
                fh.seek(offset)
                chunk = fh.read(max_bytes)
            # Never split a line (or a UTF-8 sequence) across two reads.
            if row["status"] not in JOB_TERMINAL and b"\n" in chunk:
                chunk = chunk[: chunk.rindex(b"\n") + 1]
            elif row["status"] not in JOB_TERMINAL:
                chunk = b""
            text, new_offset = chunk.decode("utf-8", "replace"), offset + len(chunk)
        return {"text": text, "offset": new_offset, "terminal": row["status"] in JOB_TERMINAL}

    def running_count(self) -> int:
        return self.store.scalar("SELECT COUNT(*) FROM jobs WHERE status IN (?, ?, ?)", ACTIVE) or 0

    def submit(self, req: Request, spec_path: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
        spec = specs.load(spec_path, overrides, expect="job")
        data = spec.data
        job_type = str(data.get("type", "command"))
        name = check_name("job", data["name"]) if data.get("name") else new_name()
        if self.store.row("SELECT name FROM jobs WHERE name = ?", (name,)):
            raise InvalidField("name", f"a job named '{name}' already exists")
        rows = self.planner.plan(name, data, spec)
        # Everything is resolved and checked: only now does anything touch the workspace.
        staged: list[Path] = []
        try:
            for row in rows:
                workdir = self.ctx.folder.jobs_dir / row["name"]
                workdir.mkdir(mode=0o700)
                staged.append(workdir)
                code = row["plan"].get("code_source")
                if code:
                    shutil.copytree(code, workdir / "code", ignore=shutil.ignore_patterns(
                        "__pycache__", "*.pyc", ".git", "mlruns", ".venv", "outputs"))
                row["workdir"] = str(workdir)
            with self.store.transaction():
                self.store.insert_many("jobs", rows)
                self.ctx.audit(req, "jobs.submit", name, after={"spec": spec.path, "overrides": overrides or {},
                                                             "type": job_type, "steps": len(rows) - (job_type == "pipeline")})
        except BaseException:
            for path in staged:
                shutil.rmtree(path, ignore_errors=True)
            raise
        return self.get(req, name)

    def cancel(self, req: Request, name: str) -> dict[str, Any]:
        row = self._row(name)
        if row["status"] in JOB_TERMINAL:
            raise BadInput(f"job '{name}' is already {row['status']}")
        op = self.ctx.new_operation("jobs.cancel", name)
        targets = [row] if row["job_type"] == "command" else self.store.rows(
            "SELECT * FROM jobs WHERE parent = ?", (name,)) + [row]
        with self.store.transaction():
            for target in targets:
                self.runner.cancel_one(target, op["id"])
            self.ctx.audit(req, "jobs.cancel", name, before={"status": row["status"]}, after={"status": "CancelRequested"})
        return op

    def stop_all(self, req: Request) -> list[dict[str, Any]]:
        """Cancel every job that has not ended (audited, as `job cancel` is) and wait until each
        one's process group is gone: what `amlops local down --all` does to jobs. Returns the
        processes stopped, one {"kind", "name", "pid"} each."""
        running = self.runner.processes()
        ended = ", ".join("?" * len(JOB_TERMINAL))
        for row in self.store.rows(f"SELECT * FROM jobs WHERE parent IS NULL AND status NOT IN ({ended})",
                                   tuple(JOB_TERMINAL)):
            self.cancel(req, row["name"])  # SIGTERM to each running job's group
        self.runner.stop_active()
        return running

    def _row(self, name: str) -> dict[str, Any]:
        row = self.store.row("SELECT * FROM jobs WHERE name = ?", (name,))
        if row is None:
            raise NotFound("job", name)
        return row
