"""Azure ML v2 YAML: read it line-aware, load it with azure-ai-ml's own loaders, lint it.

`load()` picks the loader from the file's `$schema` (or its `type` and keys), applies `--set`
overrides the way `az ml ... --set` does, and turns marshmallow's and azure-ai-ml's validation
errors into `SpecError(file, line, field, message)`. `lint()` adds the rules that hurt in
production (unpinned versions, clusters that never scale to zero, deployments without probes or
data collection, secrets in YAML, GPU sizes without quota). azure.ai.ml is imported only when a
spec is actually loaded.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from console.errors import SpecError

# --- reading ---------------------------------------------------------------------------------

FieldPath = tuple[str | int, ...]


@dataclass(frozen=True)
class Document:
    """A YAML file as plain data plus the 1-based line of every key, for pointing at fields."""

    path: str
    data: Any
    lines: Mapping[FieldPath, int]
    text: str

    def line_of(self, field_path: FieldPath | str) -> int:
        """The line of the deepest key of `field_path` that exists in the file (1 at worst)."""
        parts = _split_field(field_path) if isinstance(field_path, str) else field_path
        for end in range(len(parts), 0, -1):
            if parts[:end] in self.lines:
                return self.lines[parts[:end]]
        return 1

    def get(self, *keys: str | int, default: Any = None) -> Any:
        node = self.data
        for key in keys:
            try:
                node = node[key]
            except (KeyError, IndexError, TypeError):
                return default
        return node


def read(path: str | Path) -> Document:
    """Parse one YAML file. Raises SpecError for a missing file, a syntax error or a non-mapping."""
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(name, None, None, "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(name, None, None, f"cannot read: {exc}") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise SpecError(name, line, None, f"invalid YAML: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise SpecError(name, None, None, f"invalid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise SpecError(name, 1, None, "expected a mapping of Azure ML fields at the top level")
    lines: dict[FieldPath, int] = {}
    _index_lines(node, (), lines)
    return Document(name, data, lines, text)


def _index_lines(node: yaml.Node | None, prefix: FieldPath, out: dict[FieldPath, int]) -> None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            path = (*prefix, key.value)
            out[path] = key.start_mark.line + 1
            _index_lines(value, path, out)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            out[(*prefix, i)] = item.start_mark.line + 1
            _index_lines(item, (*prefix, i), out)


def _split_field(dotted: str) -> FieldPath:
    return tuple(int(p) if p.isdigit() else p for p in dotted.split(".") if p)


# --- what kind of spec -----------------------------------------------------------------------

# `$schema` file stems (lower-cased) by kind, as published at azuremlschemas.azureedge.net.
_SCHEMA_KINDS = {
    "job": ("commandjob", "pipelinejob", "sweepjob", "sparkjob", "autoMLJob".lower(),
            "autoMLClassificationJob".lower(), "autoMLRegressionJob".lower(),
            "autoMLForecastingJob".lower()),
    "compute": ("amlcompute", "computeinstance", "kubernetescompute", "vmcompute",
                "virtualmachinecompute", "synapsesparkcompute"),
    "environment": ("environment",),
    "data": ("data",),
    "model": ("model",),
    "online_endpoint": ("managedonlineendpoint", "kubernetesonlineendpoint"),
    "online_deployment": ("managedonlinedeployment", "kubernetesonlinedeployment"),
    "batch_endpoint": ("batchendpoint",),
    "batch_deployment": ("batchdeployment", "modelbatchdeployment", "pipelinecomponentbatchdeployment"),
    "component": ("commandcomponent", "pipelinecomponent", "sparkcomponent", "parallelcomponent"),
    "schedule": ("schedule", "monitorschedule"),
    "datastore": ("azureblob", "azurefile", "azuredatalakegen1", "azuredatalakegen2", "onelake"),
    "workspace": ("workspace",),
    "registry": ("registry",),
    "connection": ("workspaceconnection", "connection"),
}
_SCHEMA_TO_KIND = {stem: kind for kind, stems in _SCHEMA_KINDS.items() for stem in stems}
_TYPE_TO_KIND = {
    **dict.fromkeys(("command", "pipeline", "sweep", "spark", "automl", "parallel"), "job"),
    **dict.fromkeys(("amlcompute", "computeinstance", "kubernetes", "virtualmachine"), "compute"),
    **dict.fromkeys(("uri_file", "uri_folder", "mltable"), "data"),
    **dict.fromkeys(("mlflow_model", "custom_model", "triton_model"), "model"),
    **dict.fromkeys(("azure_blob", "azure_file", "azure_data_lake_gen1", "azure_data_lake_gen2"), "datastore"),
}
_CONDA_KEYS = {"name", "channels", "dependencies", "prefix", "variables"}


def kind_of(doc: Document) -> str | None:
    """The spec's kind (`job`, `compute`, `online_deployment`, ...), `conda` for a conda
    environment file, or None when the file does not say what it is."""
    data = doc.data
    schema = data.get("$schema")
    if isinstance(schema, str):
        stem = schema.rstrip("/").rsplit("/", 1)[-1].lower().removesuffix(".json").removesuffix(".schema")
        if stem in _SCHEMA_TO_KIND:
            return _SCHEMA_TO_KIND[stem]
    kind_type = str(data.get("type", "")).lower()
    # A component carries a version and no compute; a job of the same type does not.
    if kind_type in ("command", "pipeline", "parallel", "spark") and "version" in data and "compute" not in data:
        return "component"
    if kind_type in _TYPE_TO_KIND:
        return _TYPE_TO_KIND[kind_type]
    if "dependencies" in data and set(data) <= _CONDA_KEYS:
        return "conda"
    if "create_monitor" in data or ("trigger" in data and ("create_job" in data or "create_monitor" in data)):
        return "schedule"
    if "endpoint_name" in data:
        return "batch_deployment" if "mini_batch_size" in data or "compute" in data else "online_deployment"
    if "auth_mode" in data:
        return "online_endpoint"
    if {"image", "build", "conda_file"} & set(data):
        return "environment"
    if "jobs" in data:
        return "job"
    if "command" in data:
        return "job"
    return None


# --- loading with azure-ai-ml ----------------------------------------------------------------


def import_azure_ml():
    """Import azure.ai.ml and silence the stderr handlers it installs (they write over a TUI)."""
    import azure.ai.ml as aml

    for name, logger in list(logging.root.manager.loggerDict.items()):
        if name.startswith("azure.ai.ml") and isinstance(logger, logging.Logger):
            for handler in list(logger.handlers):
                if isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler):
                    logger.removeHandler(handler)
            if name == "azure.ai.ml" and not logger.handlers:
                # Without a handler, logging's last resort would print warnings to stderr anyway.
                logger.addHandler(logging.NullHandler())
    return aml


def _loader(kind: str):
    aml = import_azure_ml()
    if kind == "schedule":
        from azure.ai.ml.entities._load_functions import load_schedule

        return load_schedule
    name = {"online_endpoint": "load_online_endpoint", "online_deployment": "load_online_deployment",
            "batch_endpoint": "load_batch_endpoint", "batch_deployment": "load_batch_deployment",
            "connection": "load_connection"}.get(kind, f"load_{kind}")
    return getattr(aml, name)


@dataclass(frozen=True)
class Spec:
    """A loaded spec: the parsed document, its kind and the azure-ai-ml entity."""

    doc: Document
    kind: str
    entity: Any

    @property
    def path(self) -> str:
        return self.doc.path


def parse_overrides(pairs: Iterable[str]) -> dict[str, Any]:
    """`["inputs.reg_rate=0.1", "name=x"]` to `{"inputs.reg_rate": 0.1, "name": "x"}`.
    Values are read as YAML scalars, as `az ml --set` does. Raises SpecError for a pair without `=`."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise SpecError("--set", None, pair, "expected KEY=VALUE, e.g. inputs.reg_rate=0.1")
        try:
            out[key.strip()] = yaml.safe_load(value) if value else ""
        except yaml.YAMLError:
            out[key.strip()] = value
    return out


def apply_overrides(data: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of `data` with dotted `--set` overrides applied, as the loaders apply them."""
    out = json.loads(json.dumps(data, default=str))
    for dotted, value in overrides.items():
        node = out
        *parents, leaf = dotted.split(".")
        for key in parents:
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                raise SpecError("--set", None, dotted, "cannot set a field inside a non-mapping")
        node[leaf] = value
    return out


def load(path: str | Path, overrides: Mapping[str, Any] | None = None,
         *, expect: str | Sequence[str] | None = None) -> Spec:
    """Read and load one spec with its azure-ai-ml loader. `expect` restricts the kind.
    Raises SpecError with the file, the line and the field of the first problem."""
    doc = read(path)
    kind = kind_of(doc)
    if kind is None or kind == "conda":
        raise SpecError(doc.path, 1, "$schema",
                        "cannot tell what kind of Azure ML spec this is: add its $schema line")
    if expect is not None and kind not in ((expect,) if isinstance(expect, str) else expect):
        raise SpecError(doc.path, doc.line_of("$schema"), "$schema",
                        f"expected a {expect if isinstance(expect, str) else ' or '.join(expect)} spec, got {kind}")
    loader = _loader(kind)
    params = [{k: v} for k, v in (overrides or {}).items()]
    try:
        entity = loader(doc.path, params_override=params) if params else loader(doc.path)
    except Exception as exc:  # the loaders raise marshmallow, azure and plain errors alike
        raise to_spec_error(doc, exc) from None
    return Spec(doc, kind, entity)


def to_spec_error(doc: Document, exc: BaseException) -> SpecError:
    """The first problem in a loader exception, pinned to its field and line."""
    problems = validation_problems(exc)
    if not problems:
        return SpecError(doc.path, 1, None, _first_line(str(exc)) or type(exc).__name__)
    field_path, message = problems[0]
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return SpecError(doc.path, doc.line_of(field_path) if field_path else 1, field_path or None,
                     message + more)


def validation_problems(exc: BaseException) -> list[tuple[str, str]]:
    """(dotted field, message) pairs out of marshmallow's nested messages, including the JSON
    that azure-ai-ml embeds in its own messages; union fields report their first alternative."""
    seen: set[int] = set()
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append(current)
        current = current.__cause__ or current.__context__
    for err in chain:  # the innermost dict-shaped messages are the most precise
        messages = getattr(err, "messages", None)
        if isinstance(messages, dict):
            found = _flatten(messages, "")
            if found:
                return found
    for err in chain:
        found = _from_text(str(err), "")
        if found:
            return found
    return []


def _flatten(node: Any, prefix: str) -> list[tuple[str, str]]:
    if isinstance(node, str):
        nested = _from_text(node, prefix)
        return nested or [(prefix, _first_line(node))]
    if isinstance(node, dict):
        if "errors" in node and isinstance(node["errors"], list):  # azure-ai-ml's result wrapper
            out: list[tuple[str, str]] = []
            for err in node["errors"]:
                sub = ".".join(p for p in (prefix, str(err.get("path") or "")) if p)
                out += _flatten(err.get("message", ""), sub)
            return out
        out = []
        for key, value in node.items():
            key = str(key)
            if key in ("_schema", "value"):  # the field itself; `value` wraps job inputs
                out += _flatten(value, prefix)
            else:
                out += _flatten(value, f"{prefix}.{key}" if prefix else key)
        return out
    if isinstance(node, list):
        if node and all(isinstance(item, dict) for item in node):
            return _flatten(node[0], prefix)  # alternatives of a union: the first is the intended one
        out = []
        for item in node:
            out += _flatten(item, prefix)
        return out[:1] if out else []
    return [(prefix, str(node))]


def _from_text(text: str, prefix: str) -> list[tuple[str, str]]:
    start = text.find("{")
    if "failed:" not in text or start < 0:
        return []
    try:
        payload, _ = json.JSONDecoder().raw_decode(text, start)
    except ValueError:
        return []
    return _flatten(payload, prefix)


def _first_line(text: str) -> str:
    line = next((line.strip() for line in text.splitlines() if line.strip()), "")
    # azure-ai-ml sometimes appends the failing source line: "... from     return X(**data)".
    return re.sub(r"\s+from\s{2,}.*$", "", line)
