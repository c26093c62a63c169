"""Planning a job: from its YAML to the rows the runner starts.

The spec is already loaded by azure-ai-ml's loader; planning resolves everything it references
(compute, environment, `azureml:name:version` data assets, `${{inputs.x}}` and `${{outputs.y}}`,
a pipeline's step components and the bindings between steps) and checks quota, raising SpecError
with the file, line and field of the first problem. It changes nothing: the service stores the
rows only once every one of them is planned.
"""

from __future__ import annotations

import re
import secrets
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from console import specs
from console.errors import NotFound, NotSupported, SpecError
from console.local.assets import parse_ref

if TYPE_CHECKING:
    from console.local.assets import AssetService
    from console.local.compute import ComputeService
    from console.local.context import Context

_BINDING = re.compile(r"\$\{\{\s*(inputs|outputs)\.([A-Za-z0-9_]+)\s*\}\}")
_OPTIONAL = re.compile(r"\$\[\[(.*?)\]\]", re.S)
_PARENT = re.compile(r"^\$\{\{\s*parent\.(inputs|outputs)\.([A-Za-z0-9_]+)\s*\}\}$")
_SIBLING = re.compile(r"^\$\{\{\s*parent\.jobs\.([A-Za-z0-9_]+)\.outputs\.([A-Za-z0-9_]+)\s*\}\}$")
_ADJECTIVES = ("amber", "brave", "calm", "eager", "frank", "gentle", "happy", "jolly", "keen", "lucid",
               "mellow", "nimble", "plucky", "quiet", "sharp", "tidy", "upbeat", "vivid", "witty", "zesty")
_NOUNS = ("apple", "badger", "cactus", "drum", "engine", "falcon", "garden", "harbor", "kettle", "lemon",
          "maple", "nest", "orchid", "pepper", "quartz", "river", "sponge", "tulip", "violin", "walrus")


class JobPlanner:
    def __init__(self, ctx: Context, compute: ComputeService, assets: AssetService) -> None:
        self.ctx = ctx
        self.compute = compute
        self.assets = assets

    def plan(self, name: str, data: dict[str, Any], spec: specs.Spec) -> list[dict[str, Any]]:
        """The job's rows: one for a command job; the pipeline and its steps for a pipeline job."""
        job_type = str(data.get("type", "command"))
        base = Path(spec.path).resolve().parent
        if job_type == "command":
            return [self._plan_command(name, data, base, spec.doc)]
        if job_type == "pipeline":
            return self._plan_pipeline(name, data, base, spec.doc)
        raise NotSupported("local", f"{job_type} jobs", "the local workspace runs command and pipeline jobs")

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


def new_name() -> str:
    suffix = "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(10))
    return f"{secrets.choice(_ADJECTIVES)}_{secrets.choice(_NOUNS)}_{suffix}"
