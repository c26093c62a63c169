"""Running jobs: the scheduler's part of the local jobs.

`tick` starts queued jobs as their compute allows, each as its own process group with MLflow
pointed at the workspace (`MLFLOW_RUN_ID` set, so autolog lands in the job's run), reaps the
ones that ended and turns exit codes into Azure's statuses; pipeline jobs advance their command
steps in dependency order. A job's process is wrapped by a shell that writes its exit code to a
file, so a daemon that crashed and restarted can still tell how an adopted or vanished job ended
(`reconcile`).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from console.domain import JOB_TERMINAL
from console.local.ledger import ACTIVE
from console.local.procs import alive, signal_group, start_time, stop_group

if TYPE_CHECKING:
    from console.local.compute import ComputeService
    from console.local.context import Context
    from console.local.ledger import Ledger
    from console.local.tracking import Tracking

LOG_FILE = "std_log.txt"  # Azure's user_logs/std_log.txt
EXIT_FILE = ".exit_code"
KILL_GRACE_S = 10
# The shell wrapper: run the command, then record its exit code atomically.
WRAPPER = ('sh -c "$AMLOPS_COMMAND"; code=$?; printf "%s" "$code" > "$AMLOPS_EXIT_FILE.tmp"; '
           'mv "$AMLOPS_EXIT_FILE.tmp" "$AMLOPS_EXIT_FILE"; exit $code')


class JobRunner:
    def __init__(self, ctx: Context, ledger: Ledger, compute: ComputeService, tracking: Tracking) -> None:
        self.ctx = ctx
        self.store = ctx.store
        self.ledger = ledger
        self.compute = compute
        self.tracking = tracking
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def cancel_one(self, row: dict[str, Any], op_id: str | None) -> None:
        if row["status"] in JOB_TERMINAL or row["status"] == "CancelRequested":
            return
        now = self.ctx.clock.now().isoformat()
        plan = {**row["plan"], "cancel_op": op_id, "cancel_at": now}
        if row["job_type"] == "command" and row["status"] == "Queued":
            self.store.update("jobs", {"name": row["name"]}, {"status": "Canceled", "ended_at": now, "plan": plan})
            if op_id and row["parent"] is None:
                self.ctx.finish_operation(op_id)
            return
        # A running step is signalled; a pipeline settles once its steps have (_advance_pipelines).
        self.store.update("jobs", {"name": row["name"]}, {"status": "CancelRequested", "plan": plan})
        if row["job_type"] == "command":
            signal_group(row.get("pid"), row.get("pid_start"), signal.SIGTERM)

    def stop_active(self) -> None:
        """Wait until every active job's process group is gone (SIGKILL after the grace period),
        then settle each as its status says: `local down --all`, after the jobs were canceled."""
        for row in self.store.rows("SELECT * FROM jobs WHERE job_type = 'command' AND status IN (?, ?, ?)", ACTIVE):
            stop_group(row["pid"], row["pid_start"], KILL_GRACE_S, proc=self.procs.pop(row["name"], None))
        now = self.ctx.clock.now()
        self._reap(now)  # each stopped job settles as Canceled, its MLflow run closed
        self._advance_pipelines(now)

    def processes(self) -> list[dict[str, Any]]:
        """The job processes that run now, one {"kind", "name", "pid"} each."""
        return [{"kind": "job", "name": row["name"], "pid": row["pid"]}
                for row in self.store.rows("SELECT name, pid, pid_start FROM jobs WHERE job_type = 'command' "
                                           "AND status IN (?, ?, ?) ORDER BY seq", ACTIVE)
                if row["pid"] and alive(row["pid"], row["pid_start"])]

    def tick(self, now: datetime) -> None:
        self._reap(now)
        self._advance_pipelines(now)
        self._start_queued(now)

    def _reap(self, now: datetime) -> None:
        for row in self.store.rows("SELECT * FROM jobs WHERE job_type = 'command' AND status IN (?, ?, ?)", ACTIVE):
            proc = self.procs.get(row["name"])
            if proc is not None:
                code = proc.poll()
                if code is None:
                    self._escalate(row, now)
                    continue
                self.procs.pop(row["name"], None)
            elif row["pid"] and alive(row["pid"], row["pid_start"]):
                self._escalate(row, now)
                continue
            else:
                code = _exit_code(row)
            self._finish(row, code, now)

    def _escalate(self, row: dict[str, Any], now: datetime) -> None:
        """A canceled job that ignores SIGTERM gets SIGKILL after a grace period."""
        cancel_at = row["plan"].get("cancel_at")
        if row["status"] == "CancelRequested" and cancel_at:
            if (now - datetime.fromisoformat(cancel_at)).total_seconds() >= KILL_GRACE_S:
                signal_group(row["pid"], row["pid_start"], signal.SIGKILL)

    def _finish(self, row: dict[str, Any], code: int | None, now: datetime) -> None:
        if row["status"] == "CancelRequested":
            status, error = "Canceled", None
        elif code == 0:
            status, error = "Completed", None
        elif code is None:
            status, error = "Failed", "the job's process ended while the daemon was down and left no exit status"
        else:
            status, error = "Failed", f"exit code {code}{_last_line(row)}"
        with self.store.transaction():
            self.store.update("jobs", {"name": row["name"]}, {"status": status, "error": error, "ended_at": now.isoformat()})
            busy = self.ledger.busy_nodes().get(row["compute"], 0) if row["compute"] else 0
            self.compute.release(row["compute"], busy, now)
            if row["plan"].get("cancel_op") and row["parent"] is None:
                self.ctx.finish_operation(row["plan"]["cancel_op"])
        self._close_mlflow_run(row, status)

    def _advance_pipelines(self, now: datetime) -> None:
        ended = ", ".join("?" * len(JOB_TERMINAL))
        for parent in self.store.rows(f"SELECT * FROM jobs WHERE job_type = 'pipeline' AND status NOT IN ({ended})",
                                      tuple(JOB_TERMINAL)):
            steps = self.store.rows("SELECT * FROM jobs WHERE parent = ?", (parent["name"],))
            statuses = {s["status"] for s in steps}
            values: dict[str, Any] = {}
            if statuses & {"Failed", "Canceled"} and parent["status"] != "CancelRequested":
                # One step down stops the rest: their inputs may never arrive.
                for step in steps:
                    self.cancel_one(step, None)
                statuses = {s["status"] for s in self.store.rows("SELECT status FROM jobs WHERE parent = ?",
                                                                 (parent["name"],))}
                if not statuses & set(ACTIVE):
                    values = {"status": "Failed" if "Failed" in statuses else "Canceled", "ended_at": now.isoformat(),
                              "error": "; ".join(f"{s['display_name']}: {s['error']}" for s in steps if s["status"] == "Failed")}
                else:
                    values = {"status": "Running"}
            elif statuses <= JOB_TERMINAL:
                final = "Completed" if statuses == {"Completed"} else "Canceled" if "Canceled" in statuses else "Failed"
                values = {"status": final, "ended_at": now.isoformat()}
            elif statuses & set(ACTIVE) and parent["status"] == "Queued":
                values = {"status": "Running", "started_at": now.isoformat()}
            if values.get("status") in JOB_TERMINAL and not parent["started_at"]:
                started = [s["started_at"] for s in steps if s["started_at"]]
                values["started_at"] = min(started) if started else None
            if values and values.get("status") != parent["status"]:
                with self.store.transaction():
                    self.store.update("jobs", {"name": parent["name"]}, values)
                    if values["status"] in JOB_TERMINAL and parent["plan"].get("cancel_op"):
                        self.ctx.finish_operation(parent["plan"]["cancel_op"])

    def _start_queued(self, now: datetime) -> None:
        queued = self.store.rows("SELECT * FROM jobs WHERE status = 'Queued' AND job_type = 'command' ORDER BY seq")
        if not queued:
            return
        busy = self.ledger.busy_nodes()
        for row in queued:
            after = row["plan"].get("after") or []
            if after:
                done = self.store.rows(f"SELECT status FROM jobs WHERE name IN ({', '.join('?' * len(after))})", tuple(after))
                if any(d["status"] != "Completed" for d in done):
                    continue
            if not self.compute.try_allocate(row["compute"], row["nodes"], busy.get(row["compute"], 0), now):
                continue
            if row["compute"]:
                busy[row["compute"]] = busy.get(row["compute"], 0) + row["nodes"]
            self.store.update("jobs", {"name": row["name"]}, {"status": "Starting"})
            try:
                self._spawn(row, now)
            except Exception as err:  # a job that cannot start fails; the daemon goes on
                self.store.update("jobs", {"name": row["name"]},
                                  {"status": "Failed", "error": f"could not start: {err}", "ended_at": now.isoformat()})
                self.compute.release(row["compute"], busy.get(row["compute"], 1) - row["nodes"], now)

    def _spawn(self, row: dict[str, Any], now: datetime) -> None:
        plan, workdir = row["plan"], Path(row["workdir"])
        run_id = self._open_mlflow_run(row)
        outputs = plan.get("outputs") or {}
        for path in outputs.values():
            Path(path).mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        env.update(plan.get("env") or {})
        env.update({
            "AMLOPS_COMMAND": plan["command"], "AMLOPS_EXIT_FILE": str(workdir / EXIT_FILE),
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
            "PYTHONUNBUFFERED": "1",
            "MLFLOW_TRACKING_URI": self.ctx.folder.tracking_uri, "MLFLOW_RUN_ID": run_id,
            "MLFLOW_EXPERIMENT_NAME": row["experiment_name"] or "Default",
            "AZUREML_RUN_ID": row["name"], "AZUREML_EXPERIMENT_NAME": row["experiment_name"] or "Default",
        })
        env.pop("MLFLOW_EXPERIMENT_ID", None)
        cwd = workdir / "code" if (workdir / "code").is_dir() else workdir
        with open(workdir / LOG_FILE, "ab") as log:
            proc = subprocess.Popen(["/bin/sh", "-c", WRAPPER], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.procs[row["name"]] = proc
        self.store.update("jobs", {"name": row["name"]}, {
            "status": "Running", "started_at": now.isoformat(), "pid": proc.pid,
            "pid_start": start_time(proc.pid), "mlflow_run_id": run_id})

    def reconcile(self, now: datetime) -> None:
        """After a restart: adopt job processes still alive, settle the ones that ended."""
        for row in self.store.rows("SELECT * FROM jobs WHERE job_type = 'command' AND status IN (?, ?, ?)", ACTIVE):
            if row["status"] == "Starting" and not row["pid"]:
                self.store.update("jobs", {"name": row["name"]}, {"status": "Queued"})  # died before spawning it
            elif not (row["pid"] and alive(row["pid"], row["pid_start"])):
                self._finish(row, _exit_code(row), now)

    def _open_mlflow_run(self, row: dict[str, Any]) -> str:
        tags = {"azureml.job": row["name"], "mlflow.runName": row["display_name"] or row["name"]}
        if row["parent"]:
            tags["azureml.pipeline"] = row["parent"]
        return self.tracking.open_run(row["experiment_name"] or "Default", row["display_name"] or row["name"], tags)

    def _close_mlflow_run(self, row: dict[str, Any], status: str) -> None:
        if row.get("mlflow_run_id"):
            self.tracking.close_run(row["mlflow_run_id"], status, Path(row["workdir"]) / LOG_FILE)


def _exit_code(row: dict[str, Any]) -> int | None:
    try:
        return int((Path(row["workdir"]) / EXIT_FILE).read_text().strip())
    except (OSError, ValueError, TypeError):
        return None


def _last_line(row: dict[str, Any]) -> str:
    try:
        with open(Path(row["workdir"]) / LOG_FILE, "rb") as fh:
            fh.seek(0, 2)
            fh.seek(max(fh.tell() - 2048, 0))
            lines = [ln for ln in fh.read().decode("utf-8", "replace").splitlines() if ln.strip()]
        return f": {lines[-1].strip()[:200]}" if lines else ""
    except OSError:
        return ""
