"""Jobs in the local workspace, run for real.

`submit` loads the job YAML with azure-ai-ml's loader, resolves everything it references
(compute, environment, `azureml:name:version` data assets, `${{inputs.x}}` and `${{outputs.y}}`),
checks quota, snapshots the code folder and queues the job; nothing is stored if any of that
fails. The scheduler (`tick`) starts queued jobs as their compute allows, each as its own process
group with MLflow pointed at the workspace (`MLFLOW_RUN_ID` set, so autolog lands in the job's
run), and turns exit codes into Azure's statuses. Pipeline jobs run their command steps in
dependency order, outputs feeding inputs.

A job's process is wrapped by a shell that writes its exit code to a file, so a daemon that
crashed and restarted can still tell how an adopted or vanished job ended.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from console import specs
from console.domain import JOB_TERMINAL
from console.errors import BadInput, InvalidField, NotFound, NotSupported, SpecError
from console.local.assets import parse_ref
from console.local.ledger import ACTIVE
from console.local.procs import alive, signal_group, start_time, stop_group
from console.local.rpc import RawJSON
from console.naming import check_name

if TYPE_CHECKING:
    from console.local.assets import AssetService
    from console.local.compute import ComputeService
    from console.local.context import Context
    from console.local.ledger import Ledger
    from console.local.rpc import Request
    from console.local.tracking import Tracking

PUBLIC = ("name", "status", "job_type", "display_name", "experiment_name", "compute", "created_at",
          "started_at", "ended_at", "parent", "mlflow_run_id", "error", "tags")
LOG_FILE = "std_log.txt"  # Azure's user_logs/std_log.txt
EXIT_FILE = ".exit_code"
KILL_GRACE_S = 10
# The shell wrapper: run the command, then record its exit code atomically.
WRAPPER = ('sh -c "$AMLOPS_COMMAND"; code=$?; printf "%s" "$code" > "$AMLOPS_EXIT_FILE.tmp"; '
           'mv "$AMLOPS_EXIT_FILE.tmp" "$AMLOPS_EXIT_FILE"; exit $code')
_BINDING = re.compile(r"\$\{\{\s*(inputs|outputs)\.([A-Za-z0-9_]+)\s*\}\}")
_OPTIONAL = re.compile(r"\$\[\[(.*?)\]\]", re.S)
_PARENT = re.compile(r"^\$\{\{\s*parent\.(inputs|outputs)\.([A-Za-z0-9_]+)\s*\}\}$")
_SIBLING = re.compile(r"^\$\{\{\s*parent\.jobs\.([A-Za-z0-9_]+)\.outputs\.([A-Za-z0-9_]+)\s*\}\}$")
_ADJECTIVES = ("amber", "brave", "calm", "eager", "frank", "gentle", "happy", "jolly", "keen", "lucid",
               "mellow", "nimble", "plucky", "quiet", "sharp", "tidy", "upbeat", "vivid", "witty", "zesty")
_NOUNS = ("apple", "badger", "cactus", "drum", "engine", "falcon", "garden", "harbor", "kettle", "lemon",
          "maple", "nest", "orchid", "pepper", "quartz", "river", "sponge", "tulip", "violin", "walrus")


class JobService:
    def __init__(self, ctx: Context, ledger: Ledger, compute: ComputeService, assets: AssetService,
                 tracking: Tracking) -> None:
        self.ctx = ctx
        self.store = ctx.store
        self.ledger = ledger
        self.compute = compute
        self.assets = assets
        self.tracking = tracking
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self._metrics: dict[str, list[dict[str, Any]]] = {}  # ended jobs' metric histories
        self._listings: dict[tuple[Any, ...], tuple[int, dict[str, Any]]] = {}

    def rpc_methods(self) -> dict[str, tuple[Any, bool]]:
        return {"list": (self.list, False), "export": (self.export, False), "get": (self.get, False),
                "submit": (self.submit, True),
                "cancel": (self.cancel, True), "logs": (self.logs, False), "metrics": (self.metrics, False)}

    # --- reads -------------------------------------------------------------------------------

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

    # --- submit ------------------------------------------------------------------------------

    def submit(self, req: Request, spec_path: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
        spec = specs.load(spec_path, overrides, expect="job")
        data = specs.apply_overrides(spec.doc.data, overrides or {})
        job_type = str(data.get("type", "command"))
        name = check_name("job", data["name"]) if data.get("name") else _new_name()
        if self.store.row("SELECT name FROM jobs WHERE name = ?", (name,)):
            raise InvalidField("name", f"a job named '{name}' already exists")
        base = Path(spec.path).resolve().parent
        if job_type == "command":
            rows = [self._plan_command(name, data, base, spec.doc)]
        elif job_type == "pipeline":
            rows = self._plan_pipeline(name, data, base, spec.doc)
        else:
            raise NotSupported("local", f"{job_type} jobs", "the local workspace runs command and pipeline jobs")
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

    def _plan_command(self, name: str, data: dict[str, Any], base: Path, doc: specs.Document, *,
                      parent: str | None = None, field: str = "", inputs: dict[str, str] | None = None,
                      outputs: dict[str, str] | None = None, experiment: str | None = None,
                      default_compute: str | None = None) -> dict[str, Any]:
        """One command job (or pipeline step) as a row: resolved command, env, compute, nodes."""
        command = data.get("command")
        if not isinstance(command, str) or not command.strip():
            raise SpecError(doc.path, doc.line_of(f"{field}command"), f"{field}command", "a command job needs a command")
        code = data.get("code")
        code_source = None
        if code:
            code_source = (base / str(code)).resolve()
            if not code_source.is_dir():
                raise SpecError(doc.path, doc.line_of(f"{field}code"), f"{field}code", f"{code} is not a folder")
        compute = self._compute_of(data.get("compute") or default_compute, doc,
                                   f"{field}compute" if data.get("compute") else "settings.default_compute")
        nodes = int((data.get("resources") or {}).get("instance_count") or 1)
        if compute:
            self.compute.check_job_quota(compute, nodes)
        environment, env_note = self._environment_of(data.get("environment"), doc, f"{field}environment")
        resolved_inputs = inputs if inputs is not None else {
            k: self._input_value(v, base, doc, f"{field}inputs.{k}") for k, v in (data.get("inputs") or {}).items()}
        resolved_outputs = outputs if outputs is not None else {
            k: str(self.ctx.folder.jobs_dir / name / "outputs" / k) for k in (data.get("outputs") or {})}
        resolved = _bind(command, resolved_inputs, resolved_outputs, doc, f"{field}command")
        input_assets = {k: a for k, v in (data.get("inputs") or {}).items() if (a := self._data_asset_of(v))}
        env_vars = {str(k): str(v) for k, v in (data.get("environment_variables") or {}).items()}
        now = self.ctx.clock.now().isoformat()
        return {
            "name": name, "status": "Queued", "job_type": "command",
            "display_name": data.get("display_name") or (field.split(".")[-2] if field else None),
            "experiment_name": experiment or data.get("experiment_name") or _default_experiment(doc),
            "compute": compute, "nodes": nodes, "created_at": now, "parent": parent,
            "tags": {str(k): str(v) for k, v in (data.get("tags") or {}).items()},
            "plan": {"command": resolved, "code_source": str(code_source) if code_source else None,
                     "environment": environment, "environment_note": env_note,
                     "inputs": resolved_inputs, "input_assets": input_assets, "outputs": resolved_outputs,
                     "env": env_vars, "after": []},
        }

    def _plan_pipeline(self, name: str, data: dict[str, Any], base: Path, doc: specs.Document) -> list[dict[str, Any]]:
        steps = data.get("jobs") or {}
        if not isinstance(steps, dict) or not steps:
            raise SpecError(doc.path, doc.line_of("jobs"), "jobs", "a pipeline job needs jobs")
        settings = data.get("settings") or {}
        default_compute = data.get("compute") or settings.get("default_compute")
        experiment = data.get("experiment_name") or _default_experiment(doc)
        parent_inputs = {k: self._input_value(v, base, doc, f"inputs.{k}") for k, v in (data.get("inputs") or {}).items()}
        parent_outputs = {k: str(self.ctx.folder.jobs_dir / name / "outputs" / k) for k in (data.get("outputs") or {})}
        child_names = {step: f"{name}_{step}" for step in steps}
        # Output paths first: a step's input may name any sibling's output.
        step_outputs: dict[str, dict[str, str]] = {}
        for step, body in steps.items():
            body = self._with_component(body, base, doc, f"jobs.{step}")
            step_outputs[step] = {}
            for out, value in (body.get("outputs") or {}).items():
                bound = _PARENT.match(value) if isinstance(value, str) else None
                if bound and bound.group(1) == "outputs":
                    step_outputs[step][out] = parent_outputs.setdefault(
                        bound.group(2), str(self.ctx.folder.jobs_dir / name / "outputs" / bound.group(2)))
                else:
                    step_outputs[step][out] = str(self.ctx.folder.jobs_dir / child_names[step] / "outputs" / out)
        rows = []
        for step, body in steps.items():
            field = f"jobs.{step}."
            body, comp_base = self._with_component(body, base, doc, f"jobs.{step}"), base
            if isinstance(steps[step].get("component"), str) and not str(steps[step]["component"]).startswith("azureml"):
                comp_base = (base / steps[step]["component"]).resolve().parent
            if str(body.get("type", "command")) != "command":
                raise NotSupported("local", f"{body.get('type')} pipeline steps", "only command steps run locally")
            inputs, after = {}, []
            for key, value in (body.get("inputs") or {}).items():
                where = f"{field}inputs.{key}"
                if isinstance(value, str) and (m := _SIBLING.match(value)):
                    sibling, out = m.groups()
                    if sibling not in steps or out not in step_outputs[sibling]:
                        raise SpecError(doc.path, doc.line_of(where), where, f"no step output {sibling}.{out}")
                    inputs[key] = step_outputs[sibling][out]
                    after.append(child_names[sibling])
                elif isinstance(value, str) and (m := _PARENT.match(value)):
                    if m.group(1) != "inputs" or m.group(2) not in parent_inputs:
                        raise SpecError(doc.path, doc.line_of(where), where, f"the pipeline has no input {m.group(2)}")
                    inputs[key] = parent_inputs[m.group(2)]
                else:
                    inputs[key] = self._input_value(value, comp_base, doc, where)
            row = self._plan_command(child_names[step], body, comp_base, doc, parent=name, field=field,
                                     inputs=inputs, outputs=step_outputs[step], experiment=experiment,
                                     default_compute=default_compute)
            row["display_name"] = body.get("display_name") or step
            row["plan"]["after"] = sorted(set(after))
            rows.append(row)
        now = self.ctx.clock.now().isoformat()
        parent_row = {"name": name, "status": "Queued", "job_type": "pipeline",
                      "display_name": data.get("display_name") or name, "experiment_name": experiment,
                      "compute": self._compute_of(default_compute) if default_compute else None, "nodes": 0,
                      "created_at": now, "parent": None,
                      "tags": {str(k): str(v) for k, v in (data.get("tags") or {}).items()},
                      "plan": {"steps": [r["name"] for r in rows], "outputs": parent_outputs}}
        return [parent_row, *rows]

    def _with_component(self, body: dict[str, Any], base: Path, doc: specs.Document, where: str) -> dict[str, Any]:
        """A step that names a component file: the component's definition with the step's bindings."""
        ref = body.get("component")
        if ref is None:
            return body
        if isinstance(ref, dict):
            component = ref
        elif str(ref).startswith("azureml"):
            raise NotSupported("local", f"registered component {ref}", "use a component YAML file path")
        else:
            component = specs.read(base / str(ref)).data
        merged = {k: v for k, v in component.items() if k not in ("inputs", "outputs", "$schema", "name", "version")}
        defaults = {k: v.get("default") for k, v in (component.get("inputs") or {}).items()
                    if isinstance(v, dict) and v.get("default") is not None}
        merged["inputs"] = {**defaults, **(body.get("inputs") or {})}
        merged["outputs"] = {**{k: None for k in (component.get("outputs") or {})}, **(body.get("outputs") or {})}
        for key in ("compute", "resources", "environment_variables", "display_name"):
            if key in body:
                merged[key] = body[key]
        return merged

    def _compute_of(self, ref: Any, doc: specs.Document | None = None, where: str = "compute") -> str | None:
        if ref in (None, "", "serverless"):
            return None
        name = str(ref).removeprefix("azureml:")
        try:
            self.compute.require(name)
        except NotFound as err:
            if doc is None:
                raise
            raise SpecError(doc.path, doc.line_of(where), where, f"{err.message}: amlops compute list shows what exists") from None
        return name

    def _environment_of(self, ref: Any, doc: specs.Document, where: str) -> tuple[str | None, str]:
        here = f"runs with {sys.executable}"
        if ref is None:
            return None, here
        if isinstance(ref, dict):
            return "inline", f"inline environment (image {ref.get('image')}) {here}: no container runtime locally"
        ref = str(ref)
        if ref.startswith("azureml://registries/"):
            return ref, f"registry environment {here}: registries are not reachable locally"
        if ref.startswith("azureml:"):
            name, version, label = parse_ref(ref)
            row = self._asset(doc, where, "environment", name, version, label)
            return f"{row['name']}:{row['version']}", f"environment {row['name']}:{row['version']} {here}"
        raise SpecError(doc.path, doc.line_of(where), where, f"cannot resolve environment {ref!r}")

    def _input_value(self, value: Any, base: Path, doc: specs.Document, where: str) -> str:
        if isinstance(value, dict):
            if "path" in value:
                return self._path_value(str(value["path"]), base, doc, where)
            if "value" in value:
                return _literal(value["value"])
            if "default" in value:
                return _literal(value["default"])
            raise SpecError(doc.path, doc.line_of(where), where, "an input needs a path or a value")
        if isinstance(value, str) and value.startswith("azureml:"):
            return self._path_value(value, base, doc, where)
        return _literal(value)

    def _data_asset_of(self, value: Any) -> str | None:
        """`name:version` of the data asset an input names (lineage for monitors), else None."""
        ref = value.get("path") if isinstance(value, dict) else value
        if not isinstance(ref, str) or not ref.startswith("azureml:") or ref.startswith("azureml://"):
            return None
        name, version, label = parse_ref(ref)
        row = self.assets.resolve("data", name, version, label)  # resolved already: cannot fail here
        return f"{row['name']}:{row['version']}"

    def _asset(self, doc: specs.Document, where: str, kind: str, name: str, version: str | None,
               label: str | None) -> dict[str, Any]:
        try:
            return self.assets.resolve(kind, name, version, label)
        except NotFound as err:
            raise SpecError(doc.path, doc.line_of(where), where,
                            f"{err.message}: amlops {kind} list shows what exists") from None

    def _path_value(self, path: str, base: Path, doc: specs.Document, where: str) -> str:
        if path.startswith("azureml://"):
            raise NotSupported("local", f"input {path}", "datastore and registry paths are not reachable locally")
        if path.startswith("azureml:"):
            name, version, label = parse_ref(path)
            return str(self._asset(doc, where, "data", name, version, label)["path"])
        if re.match(r"^[a-z][a-z0-9+]*://", path):
            raise NotSupported("local", f"input {path}", "the local workspace has no network access to fetch it")
        local = (base / path).resolve()
        if not local.exists():
            raise SpecError(doc.path, doc.line_of(where), where, f"{path} does not exist (resolved to {local})")
        return str(local)

    # --- cancel ------------------------------------------------------------------------------

    def cancel(self, req: Request, name: str) -> dict[str, Any]:
        row = self._row(name)
        if row["status"] in JOB_TERMINAL:
            raise BadInput(f"job '{name}' is already {row['status']}")
        op = self.ctx.new_operation("jobs.cancel", name)
        targets = [row] if row["job_type"] == "command" else self.store.rows(
            "SELECT * FROM jobs WHERE parent = ?", (name,)) + [row]
        with self.store.transaction():
            for target in targets:
                self._cancel_one(target, op["id"])
            self.ctx.audit(req, "jobs.cancel", name, before={"status": row["status"]}, after={"status": "CancelRequested"})
        return op

    def _cancel_one(self, row: dict[str, Any], op_id: str | None) -> None:
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

    def stop_all(self, req: Request) -> list[dict[str, Any]]:
        """Cancel every job that has not ended (audited, as `job cancel` is) and wait until each
        one's process group is gone: what `amlops local down --all` does to jobs. Returns the
        processes stopped, one {"kind", "name", "pid"} each."""
        running = self.processes()
        for row in self.store.rows("SELECT * FROM jobs WHERE parent IS NULL AND status NOT IN (?, ?, ?)",
                                   tuple(JOB_TERMINAL)):
            self.cancel(req, row["name"])  # SIGTERM to each running job's group
        for row in self.store.rows("SELECT * FROM jobs WHERE job_type = 'command' AND status IN (?, ?, ?)", ACTIVE):
            stop_group(row["pid"], row["pid_start"], KILL_GRACE_S, proc=self.procs.pop(row["name"], None))
        now = self.ctx.clock.now()
        self._reap(now)  # each stopped job settles as Canceled, its MLflow run closed
        self._advance_pipelines(now)
        return running

    def processes(self) -> list[dict[str, Any]]:
        """The job processes that run now, one {"kind", "name", "pid"} each."""
        return [{"kind": "job", "name": row["name"], "pid": row["pid"]}
                for row in self.store.rows("SELECT name, pid, pid_start FROM jobs WHERE job_type = 'command' "
                                           "AND status IN (?, ?, ?) ORDER BY seq", ACTIVE)
                if row["pid"] and alive(row["pid"], row["pid_start"])]

    # --- the scheduler's part ----------------------------------------------------------------

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
        for parent in self.store.rows("SELECT * FROM jobs WHERE job_type = 'pipeline' AND status NOT IN (?, ?, ?)",
                                      tuple(JOB_TERMINAL)):
            steps = self.store.rows("SELECT * FROM jobs WHERE parent = ?", (parent["name"],))
            statuses = {s["status"] for s in steps}
            values: dict[str, Any] = {}
            if statuses & {"Failed", "Canceled"} and parent["status"] != "CancelRequested":
                # One step down stops the rest: their inputs may never arrive.
                for step in steps:
                    self._cancel_one(step, None)
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

    # --- crash recovery ----------------------------------------------------------------------

    def reconcile(self, now: datetime) -> None:
        """After a restart: adopt job processes still alive, settle the ones that ended."""
        for row in self.store.rows("SELECT * FROM jobs WHERE job_type = 'command' AND status IN (?, ?, ?)", ACTIVE):
            if row["status"] == "Starting" and not row["pid"]:
                self.store.update("jobs", {"name": row["name"]}, {"status": "Queued"})  # died before spawning it
            elif not (row["pid"] and alive(row["pid"], row["pid_start"])):
                self._finish(row, _exit_code(row), now)

    # --- MLflow ------------------------------------------------------------------------------

    def _open_mlflow_run(self, row: dict[str, Any]) -> str:
        tags = {"azureml.job": row["name"], "mlflow.runName": row["display_name"] or row["name"]}
        if row["parent"]:
            tags["azureml.pipeline"] = row["parent"]
        return self.tracking.open_run(row["experiment_name"] or "Default", row["display_name"] or row["name"], tags)

    def _close_mlflow_run(self, row: dict[str, Any], status: str) -> None:
        if row.get("mlflow_run_id"):
            self.tracking.close_run(row["mlflow_run_id"], status, Path(row["workdir"]) / LOG_FILE)

    # --- helpers -----------------------------------------------------------------------------

    def _row(self, name: str) -> dict[str, Any]:
        row = self.store.row("SELECT * FROM jobs WHERE name = ?", (name,))
        if row is None:
            raise NotFound("job", name)
        return row


def _bind(command: str, inputs: dict[str, str], outputs: dict[str, str], doc: specs.Document, where: str) -> str:
    def optional(match: re.Match[str]) -> str:
        inner = match.group(1)
        refs = _BINDING.findall(inner)
        present = all((inputs if kind == "inputs" else outputs).get(key) not in (None, "") for kind, key in refs)
        return inner if present else ""

    def binding(match: re.Match[str]) -> str:
        kind, key = match.groups()
        table = inputs if kind == "inputs" else outputs
        if key not in table:
            raise SpecError(doc.path, doc.line_of(where), where, f"the command uses {kind}.{key}, which the job does not define")
        return table[key]

    return _BINDING.sub(binding, _OPTIONAL.sub(optional, command))


def _literal(value: Any) -> str:
    return str(value)


def _default_experiment(doc: specs.Document) -> str:
    # Azure names the experiment after the folder the job was submitted from.
    return Path(doc.path).resolve().parent.name


def _new_name() -> str:
    suffix = "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(10))
    return f"{secrets.choice(_ADJECTIVES)}_{secrets.choice(_NOUNS)}_{suffix}"


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
