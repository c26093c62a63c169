"""Azure ML v2 YAML: read it line-aware, load it with azure-ai-ml's own loaders, lint it.

`read()` refuses hostile YAML before anything expands it (files over `MAX_FILE_BYTES`, alias
expansion over `MAX_NODES`, nesting over `MAX_DEPTH`), says when a file is an unfilled
template (`<ENDPOINT_NAME>`, `{{ENDPOINT_NAME}}`), and parses the rest once, through libyaml
when it is installed, for both the data and the line of every key. `load()` picks the loader from the file's
`$schema` and `type` as `az ml ... create -f` does, applies `--set` overrides and
`--endpoint-name` the way `az ml` does, and turns marshmallow's and azure-ai-ml's validation
errors into `SpecError(file, line, field, message)`. `lint()` (console/lint.py) adds the rules
that hurt in production. azure.ai.ml is imported only when a spec is actually loaded.
"""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from console.errors import SpecError

# --- reading ---------------------------------------------------------------------------------

FieldPath = tuple[str | int, ...]


@dataclass(frozen=True)
class Duplicate:
    """A key given twice in one mapping: YAML loaders keep the last (`line`) and drop the first."""

    field: str
    first_line: int
    line: int


@dataclass(frozen=True)
class Document:
    """A YAML file as plain data plus the 1-based line of every key, for pointing at fields."""

    path: str
    data: Any
    lines: Mapping[FieldPath, int]
    text: str
    duplicates: tuple[Duplicate, ...] = ()

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
    """Parse one YAML file. Raises SpecError for a missing or hostile file, a syntax error (or an
    unfilled template) or a non-mapping."""
    return parse(str(path), read_text(path))


def read_text(path: str | Path) -> str:
    """The file's text, refused past MAX_FILE_BYTES without reading the rest (a FIFO or
    /dev/zero has no size to check first)."""
    name = str(path)
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise SpecError(name, None, None, "file not found") from None
    except OSError as exc:
        raise SpecError(name, None, None, f"cannot read: {exc}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise SpecError(name, None, None, f"over {MAX_FILE_BYTES // 2**20} MiB: refused as hostile "
                                          "(no Azure ML spec comes near that size)")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(name, None, None, f"cannot read: {exc}") from None


def parse(name: str, text: str) -> Document:
    """`read()` for text already read: the hostile-input check first, then one parse that gives
    both the data and the line of every key."""
    lines: dict[FieldPath, int] = {}
    duplicates: list[Duplicate] = []
    try:
        check_expansion(name, text)
        data = _compose(text, lambda node: _index_lines(node, (), lines, duplicates))
    except yaml.MarkedYAMLError as exc:
        holes = unfilled_template(text)
        if holes:
            raise SpecError(name, holes[0].line, None, holes[0].message) from None
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise SpecError(name, line, None, f"invalid YAML: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise SpecError(name, None, None, f"invalid YAML: {exc}") from None
    if data is None:
        raise SpecError(name, 1, None, "the file is empty (or only comments): expected a mapping of Azure ML fields")
    if not isinstance(data, dict):
        raise SpecError(name, 1, None, "expected a mapping of Azure ML fields at the top level")
    return Document(name, data, lines, text, tuple(duplicates))


def safe_load(text: str) -> Any:
    """`yaml.safe_load` through libyaml when it is there: the same data, several times faster."""
    return _compose(text)


def _compose(text: str, look: Callable[[yaml.Node], None] | None = None) -> Any:
    """The data of a YAML text, parsed once; `look` sees the node tree first (for lines: building
    the data rewrites merge keys in place). libyaml's nodes carry the same lines as PyYAML's
    (checked over azureml-examples' cli/ tree and azure-ai-ml's test YAML); a text libyaml refuses
    is parsed again by PyYAML, so what is accepted, and the words of a syntax error, stay
    PyYAML's, the parser azure-ai-ml itself uses."""
    loader = None
    if _FAST_LOADER is not yaml.SafeLoader:
        loader = _FAST_LOADER(text)
        try:
            node = loader.get_single_node()
        except yaml.YAMLError:
            loader.dispose()
            loader = None
    if loader is None:
        loader = yaml.SafeLoader(text)
        node = loader.get_single_node()  # PyYAML's error, in PyYAML's words
    try:
        if node is None:
            return None
        if look is not None:
            look(node)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _node(loader_class: type, text: str) -> yaml.Node | None:
    """The node tree one parser makes of a text (tests hold libyaml's lines against PyYAML's)."""
    loader = loader_class(text)
    try:
        return loader.get_single_node()
    finally:
        loader.dispose()


# --- hostile input ---------------------------------------------------------------------------

# Limits no real spec comes near: the largest YAML file in azureml-examples' cli/ tree (575 files)
# is under 6 KB, has under 250 nodes and nests 10 deep; an alias bomb under 1 KB expands
# to a billion nodes, which PyYAML builds as shared references but every walk over the data
# (ours, azure-ai-ml's, marshmallow's) then visits one by one.
MAX_FILE_BYTES = 2**20
MAX_NODES = 100_000
MAX_DEPTH = 100
_FAST_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's parser when present
# libyaml stops at 1,000 levels of nesting, in its scanner, before it yields a single event.
_LIBYAML_TOO_DEEP = "exceeded maximum nesting depth"


def check_expansion(name: str, text: str) -> None:
    """Refuse a document whose aliases expand past MAX_NODES, that refers to itself, or nests
    past MAX_DEPTH. Counts on the parser's events, before anything builds or walks the data:
    each anchor's expanded size is counted once and reused at each alias, so the check stays
    linear in the file however far the aliases would expand. A syntax error ends the check:
    what was read up to it is checked, and PyYAML's composer reports it in its own words.
    When libyaml refuses the text, PyYAML (which parses it next) counts it again: its parser is
    a loop, not a recursion, and reaches what libyaml would not."""
    try:
        _count_events(name, yaml.parse(text, Loader=_FAST_LOADER))
        return
    except yaml.YAMLError as exc:
        if _FAST_LOADER is yaml.SafeLoader:
            return
        if _LIBYAML_TOO_DEEP in str(getattr(exc, "problem", "") or ""):
            mark = getattr(exc, "problem_mark", None)
            raise SpecError(name, mark.line + 1 if mark else None, None,
                            f"nested over {MAX_DEPTH} levels deep: refused as hostile") from None
    try:
        _count_events(name, yaml.parse(text, Loader=yaml.SafeLoader))
    except yaml.YAMLError:
        return


def _count_events(name: str, events: Iterable[yaml.Event]) -> None:
    expanded = depth = 0
    sizes: dict[str, int] = {}  # anchor -> nodes it expands to
    open_anchors: list[tuple[str | None, int]] = []  # (anchor, nodes counted before it)
    for event in events:
        if isinstance(event, yaml.DocumentStartEvent):
            sizes.clear()
        elif isinstance(event, yaml.AliasEvent):
            if event.anchor in {a for a, _ in open_anchors}:
                raise SpecError(name, _line(event), None, f"alias *{event.anchor} refers to its own anchor: "
                                                          "a recursive document is refused as hostile")
            expanded += sizes.get(event.anchor, 1)
        elif isinstance(event, yaml.ScalarEvent):
            expanded += 1
            if event.anchor:
                sizes[event.anchor] = 1
        elif isinstance(event, yaml.CollectionStartEvent):
            expanded += 1
            depth += 1
            open_anchors.append((event.anchor, expanded - 1))
            if depth > MAX_DEPTH:
                raise SpecError(name, _line(event), None, f"nested over {MAX_DEPTH} levels deep: refused as hostile")
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
            anchor, before = open_anchors.pop()
            if anchor:
                sizes[anchor] = expanded - before
        if expanded > MAX_NODES:
            raise SpecError(name, _line(event), None,
                            f"over {MAX_NODES:,} nodes once its aliases are expanded "
                            "(a 'billion laughs' alias bomb?): refused as hostile")


def _line(event: yaml.Event) -> int | None:
    return event.start_mark.line + 1 if event.start_mark else None


def _index_lines(node: yaml.Node | None, prefix: FieldPath, out: dict[FieldPath, int],
                 duplicates: list[Duplicate] | None = None) -> None:
    """The line of every key and item under `node`; a key given twice is indexed where it was
    given last (the one every YAML loader keeps) and reported in `duplicates`."""
    if isinstance(node, yaml.MappingNode):
        last: dict[Any, tuple[yaml.Node, yaml.Node]] = {}
        for key, value in node.value:
            if not isinstance(key, yaml.ScalarNode):
                continue  # a complex key fails to load anyway
            if key.value in last and key.value != "<<" and duplicates is not None:
                first = last[key.value][0]
                duplicates.append(Duplicate(".".join(map(str, (*prefix, key.value))),
                                            first.start_mark.line + 1, key.start_mark.line + 1))
            last[key.value] = (key, value)
        for key, value in last.values():
            path = (*prefix, key.value)
            out[path] = key.start_mark.line + 1
            _index_lines(value, path, out, duplicates)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            out[(*prefix, i)] = item.start_mark.line + 1
            _index_lines(item, (*prefix, i), out, duplicates)


def _split_field(dotted: str) -> FieldPath:
    return tuple(int(p) if p.isdigit() else p for p in dotted.split(".") if p)


# --- template placeholders -------------------------------------------------------------------

# What the Azure ML docs and examples leave for the reader (or sed, envsubst) to fill in.
_HOLE = re.compile(r"""
    (?<!\$)\{\{\s*[^{}\s][^{}]*\}\}                               # {{ENDPOINT_NAME}}
  | <(?:[A-Z][A-Z0-9_]{2,}|[A-Za-z][A-Za-z0-9]*(?:[_-][A-Za-z0-9]+)+)>  # <ENDPOINT_NAME>, <my-endpoint>
  | <\s*(?i:your|my|insert|enter|replace)\b[^<>]*>                    # < your compute name >
  | \{\s*(?i:your|my|insert|enter|replace)\b[^{}:]*\}               # {insert random GUID}, not {replace: x}
""", re.VERBOSE)
_BINDING = re.compile(r"\$\{\{[^{}]*\}\}")  # ${{inputs.x}}: legitimate in jobs, components, schedules, data
_SHELL_VAR = re.compile(r"\$\{?[A-Za-z_][A-Za-z0-9_]*\}?")  # $ENDPOINT_NAME from a shell script
_BINDING_KINDS = ("job", "component", "schedule", "data")
_NAME_KEYS = ("name", "endpoint_name")
_FREE_TEXT = ("description", "display_name")  # prose may mention placeholders; it is never used as one
_COMMENT = re.compile(r"(?:^|\s)#.*$")
_STAND_IN = "placeholder"


@dataclass(frozen=True)
class Placeholder:
    """The template placeholders left on one line of a spec, in `field` (None when the file
    does not parse until they are filled in)."""

    line: int
    field: str | None
    holes: tuple[str, ...]

    @property
    def message(self) -> str:
        quoted = [f"'{hole}'" for hole in self.holes]
        if len(quoted) == 1:
            return f"{quoted[0]} is a template placeholder: fill it in before create"
        listed = ", ".join(quoted[:-1]) + " and " + quoted[-1]
        return f"{listed} are template placeholders: fill them in before create"


def placeholders(doc: Document, kind: str | None, filled: Iterable[str] = ()) -> list[Placeholder]:
    """The placeholders left in a parsed spec, outside the fields the command line fills in
    (`filled`: dotted `--set` keys, `endpoint_name` from --endpoint-name). Comments and prose
    fields are skipped; `${{...}}` counts only where Azure ML does not bind it; `$NAME` only in names."""
    filled = tuple(filled)
    by_line = _fields_by_line(doc)
    out: list[Placeholder] = []
    path: FieldPath = ()
    for number, line in enumerate(doc.text.splitlines(), start=1):
        code = _COMMENT.sub("", line)
        path = by_line.get(number, path)  # a line without a key belongs to the key above (block scalars)
        key = path[-1] if path else None
        if not code.strip() or key in _FREE_TEXT:
            continue
        dotted = ".".join(map(str, path)) or None
        if dotted and any(dotted == f or dotted.startswith(f + ".") for f in filled):
            continue
        holes = [m.group() for m in _HOLE.finditer(code)]
        value = code.split(":", 1)[1] if ":" in code else code
        if kind not in _BINDING_KINDS or key in _NAME_KEYS:
            holes += [m.group() for m in _BINDING.finditer(value)]
        if key in _NAME_KEYS:
            holes += [m.group() for m in _SHELL_VAR.finditer(_BINDING.sub("", value))]
        if holes:
            out.append(Placeholder(number, dotted, tuple(dict.fromkeys(holes))))
    return out


def unfilled_template(text: str) -> list[Placeholder]:
    """The placeholders of a file that is not YAML until they are filled in (`{{NAME}}` unquoted
    reads as a mapping); [] when it fails as YAML for another reason too."""
    lines = text.splitlines()
    holes = [Placeholder(n, None, tuple(dict.fromkeys(found))) for n, line in enumerate(lines, start=1)
             if (found := [m.group() for m in _HOLE.finditer(_COMMENT.sub("", line))])]
    if not holes:
        return []
    filled = "\n".join(_HOLE.sub(_STAND_IN, line) for line in lines)
    try:
        check_expansion("", filled)
        safe_load(filled)
    except (yaml.YAMLError, SpecError):
        return []
    return holes


def _fields_by_line(doc: Document) -> dict[int, FieldPath]:
    """The deepest field path that starts on each line."""
    out: dict[int, FieldPath] = {}
    for path, line in doc.lines.items():
        if len(path) >= len(out.get(line, ())):
            out[line] = path
    return out


# --- what kind of spec -----------------------------------------------------------------------

# `$schema` file stems (lower-cased) by kind, as published at azuremlschemas.azureedge.net (and
# as `http://azureml/sdk-2-0/Name.json`, the form some examples use).
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
    "datastore": ("azureblob", "azurefile", "azuredatalakegen1", "azuredatalakegen2", "onelake", "hdfs"),
    "workspace": ("workspace", "hub", "project"),
    "feature_store": ("featurestore",),
    "registry": ("registry",),
    "connection": ("workspaceconnection", "connection"),
    "mltable": ("mltable",),
    "model_package": ("modelversionpackage",),
}
_SCHEMA_TO_KIND = {stem: kind for kind, stems in _SCHEMA_KINDS.items() for stem in stems}
# Every `type` azure-ai-ml 1.35.2's connection schemas take; `azure_blob` and `azure_data_lake_gen2`
# are datastore types too, told apart by their fields (see kind_of).
CONNECTION_TYPES = (
    "api_key", "azure_ai_search", "azure_ai_services", "azure_blob", "azure_content_safety",
    "azure_data_lake_gen2", "azure_my_sql_db", "azure_one_lake", "azure_open_ai", "azure_postgres_db",
    "azure_speech_services", "azure_sql_db", "azure_synapse_analytics", "container_registry", "custom",
    "git", "open_ai", "python_feed", "s3", "serp", "serverless", "snowflake")
DATASTORE_TYPES = ("azure_blob", "azure_file", "azure_data_lake_gen1", "azure_data_lake_gen2", "one_lake", "hdfs")
_TYPE_TO_KIND = {
    **dict.fromkeys(("command", "pipeline", "sweep", "spark", "automl", "parallel", "finetuning",
                     "distillation"), "job"),
    **dict.fromkeys(("amlcompute", "computeinstance", "kubernetes", "virtualmachine", "synapsespark"), "compute"),
    **dict.fromkeys(CONNECTION_TYPES, "connection"),
    **dict.fromkeys(("uri_file", "uri_folder", "mltable"), "data"),
    **dict.fromkeys(("mlflow_model", "custom_model", "triton_model"), "model"),
    **dict.fromkeys(DATASTORE_TYPES, "datastore"),
}
_BOTH_STORE_TYPES = set(CONNECTION_TYPES) & set(DATASTORE_TYPES)
_CONNECTION_TARGETS = ("url", "target", "endpoint", "api_base")  # a connection says where it points
_WORKSPACE_KINDS = {"default": "workspace", "hub": "workspace", "project": "workspace", "featurestore": "feature_store"}
# `load_model` without a `type` makes a custom_model: a file of a model's fields and nothing else.
_MODEL_KEYS = {"$schema", "name", "version", "path", "description", "tags", "properties", "stage",
               "flavors", "job_name", "utc_time_created", "datastore", "system_metadata", "intellectual_property"}
_CONDA_KEYS = {"name", "channels", "dependencies", "prefix", "variables"}
_PACKAGE_KEYS = {"base_environment_source", "inferencing_server", "target_environment"}
_PROMPTFLOW_FILES = ("flow.dag.yaml", "flow.dag.yml", "flow.flex.yaml", "flow.flex.yml")

# Kinds lint recognises and does not check: what they are, said plainly.
ROLLOUT = "rollout"  # a rollout plan: `type: rollout`, amlops's own schema under specs/rollouts/

NOT_CHECKED = {
    "promptflow": "a promptflow file (read by `pf`, not by azure-ai-ml): not an Azure ML asset spec",
    "model_package": "a model package spec (`az ml model package`): not an Azure ML asset spec",
}


def kind_of(doc: Document) -> str | None:
    """The spec's kind (`job`, `compute`, `online_deployment`, ...), `conda` for a conda
    environment file, `mltable` for an MLTable file, one of NOT_CHECKED, or None when the file
    does not say what it is (`unknown_kind` says why)."""
    data = doc.data
    if Path(doc.path).name == "MLTable":
        return "mltable"
    schema = data.get("$schema")
    if isinstance(schema, str):
        if "/promptflow/" in schema.lower():
            return "promptflow"
        stem = schema.strip().rstrip("/").rsplit("/", 1)[-1].lower().removesuffix(".json").removesuffix(".schema")
        if stem in _SCHEMA_TO_KIND:
            return _SCHEMA_TO_KIND[stem]
    if Path(doc.path).name.lower() in _PROMPTFLOW_FILES:
        return "promptflow"
    if _PACKAGE_KEYS <= set(data):
        return "model_package"
    kind_type = str(data.get("type", "")).lower()
    # A component carries a version and no compute; a job of the same type does not.
    if kind_type in ("command", "pipeline", "parallel", "spark") and "version" in data and "compute" not in data:
        return "component"
    if kind_type in _BOTH_STORE_TYPES:
        # azure-ai-ml's blob and ADLS Gen2 connections point at a `url`/`target`; the datastores
        # of the same type name an `account_name` and a container or filesystem instead.
        return "connection" if any(key in data for key in _CONNECTION_TARGETS) else "datastore"
    if kind_type in _TYPE_TO_KIND:
        return _TYPE_TO_KIND[kind_type]
    if kind_type == ROLLOUT:  # the project's own schema (console/rollout_plan.py), not Azure's
        return ROLLOUT
    if isinstance(data.get("kind"), str) and data["kind"].lower() in _WORKSPACE_KINDS:
        return _WORKSPACE_KINDS[data["kind"].lower()]
    if "dependencies" in data and set(data) <= _CONDA_KEYS:
        return "conda"
    if "create_monitor" in data or ("trigger" in data and ("create_job" in data or "create_monitor" in data)):
        return "schedule"
    if "endpoint_name" in data:
        return "batch_deployment" if "mini_batch_size" in data or "compute" in data else "online_deployment"
    if "model_id" in data:  # `az ml serverless-endpoint create`: a model catalog id, nothing to host
        return "serverless_endpoint"
    if "auth_mode" in data:
        return "online_endpoint"
    if "replication_locations" in data:
        return "registry"
    if "managed_network" in data or "hub_id" in data:
        return "workspace"
    if {"image", "build", "conda_file"} & set(data):
        return "environment"
    if "jobs" in data:
        return "job"
    if "command" in data:
        return "job"
    if "flow" in data and "type" not in data:  # a promptflow run: `flow: ./basic`
        return "promptflow"
    if "path" in data and "name" in data and "type" not in data and set(data) <= _MODEL_KEYS:
        return "model"
    return None


def unknown_kind(doc: Document) -> str:
    """Why kind_of() gave None, in the file's own words: the $schema or type it does not know."""
    schema, kind_type = doc.data.get("$schema"), doc.data.get("type")
    if isinstance(schema, str) and schema.strip():
        return f"$schema {schema.strip()} is not an Azure ML spec schema amlops knows"
    if kind_type is not None:
        return f"type '{kind_type}' is not an Azure ML spec type amlops knows"
    return "no $schema or type, and no fields that say what it is"


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
    _parse_checked_text_with_libyaml()
    return aml


class CheckedText(io.StringIO):
    """The text of a spec `read()` has parsed and checked, as the stream a loader reads."""


def _parse_checked_text_with_libyaml() -> None:
    """azure-ai-ml's loaders parse their source with PyYAML's pure-Python parser (`load_yaml`),
    a third of lint's time on a big file. For text `read()` already parsed (a CheckedText) they
    get the same data through libyaml; any other source goes to azure-ai-ml's own load_yaml,
    untouched. If azure-ai-ml moves load_yaml, this does nothing and loading is only slower."""
    from azure.ai.ml.entities import _load_functions

    original = getattr(_load_functions, "load_yaml", None)
    if original is None or getattr(original, "amlops_checked_text", False):
        return

    def load_yaml(source: Any) -> Any:
        if isinstance(source, CheckedText):
            return safe_load(source.getvalue())
        return original(source)

    load_yaml.amlops_checked_text = True  # type: ignore[attr-defined]
    _load_functions.load_yaml = load_yaml


# `az ml batch-deployment create` picks the loader by the file's `type`, exactly as spelled.
_BATCH_LOADERS = {"model": "load_model_batch_deployment", "pipeline": "load_pipeline_component_batch_deployment"}


def loader_for(kind: str, data: Mapping[str, Any] | None = None):
    """The azure-ai-ml load function `az ml <noun> create -f` uses for this kind of spec.
    Raises AttributeError when azure-ai-ml has none."""
    aml = import_azure_ml()
    if kind == "schedule":
        from azure.ai.ml.entities._load_functions import load_schedule

        return load_schedule
    if kind == "batch_deployment" and isinstance((data or {}).get("type"), str):
        name = _BATCH_LOADERS.get(data["type"])
        if name:
            from azure.ai.ml.entities import _load_functions

            return getattr(_load_functions, name)
    if kind == "datastore" and is_preview_datastore(data or {}):
        return _load_hdfs_datastore
    if kind in NOT_CHECKED or kind == "mltable":
        raise AttributeError(kind)
    name = {"online_endpoint": "load_online_endpoint", "online_deployment": "load_online_deployment",
            "batch_endpoint": "load_batch_endpoint", "batch_deployment": "load_batch_deployment",
            "connection": "load_connection"}.get(kind, f"load_{kind}")
    return getattr(aml, name)


def is_preview_datastore(data: Mapping[str, Any]) -> bool:
    """An hdfs datastore: azure-ai-ml has its schema and entity, but its load_datastore (and so
    `az ml datastore create`) refuses the type until the preview ships."""
    return str(data.get("type", "")).lower() == "hdfs"


def _load_hdfs_datastore(source: io.StringIO, *, relative_origin: str, params_override: list | None = None):
    """An hdfs datastore through azure-ai-ml's own HdfsDatastore schema, the one its
    load_datastore would use once the preview ships."""
    from azure.ai.ml.constants._common import BASE_PATH_CONTEXT_KEY, PARAMS_OVERRIDE_KEY
    from azure.ai.ml.entities._datastore._on_prem import HdfsDatastore

    context = {BASE_PATH_CONTEXT_KEY: Path(relative_origin).parent, PARAMS_OVERRIDE_KEY: params_override or []}
    return HdfsDatastore._load_from_dict(data=safe_load(source.getvalue()), context=context,
                                         additional_message="")


def load_entity(doc: Document, kind: str, overrides: Mapping[str, Any] | None = None) -> Any:
    """The azure-ai-ml entity of a parsed spec. The loader gets the text already checked by
    `read()`, not the path, so it never parses a file that was not checked (or that changed
    since); YAML files the spec points at (components, conda files), which the loader reads
    itself, are checked first. Raises whatever the loader raises."""
    check_references(doc)
    loader = loader_for(kind, doc.data)
    params = [{k: v} for k, v in (overrides or {}).items()]
    extra = {"params_override": params} if params else {}
    return loader(CheckedText(doc.text), relative_origin=doc.path, **extra)


# The fields whose local .yml file azure-ai-ml reads and parses while it loads the spec.
_YAML_REFERENCES = ("component", "conda_file", "trial", "environment")


def check_references(doc: Document, _seen: set[Path] | None = None) -> None:
    """Refuse hostile YAML in the local files a spec points at (`component: ./train.yml`,
    `conda_file: conda.yaml`), and in the files those point at, before a loader reads them.
    The SpecError names the spec's own field and line, and the referenced file's line."""
    seen = _seen if _seen is not None else {Path(doc.path).resolve()}
    for field_path, value in _strings(doc.data, ()):
        if not field_path or field_path[-1] not in _YAML_REFERENCES:
            continue  # a data asset's `path: big.yaml` is uploaded, never parsed
        ref = value.removeprefix("file:").strip()
        if not ref.endswith((".yml", ".yaml")) or "://" in ref or ref.startswith("azureml:"):
            continue
        target = Path(doc.path).parent / ref
        try:
            if target.resolve() in seen or not target.is_file():
                continue
        except OSError:  # a value that only looks like a file name (too long, a loop of links)
            continue
        seen.add(target.resolve())
        try:
            text = read_text(target)
            check_expansion(str(target), text)
            data = safe_load(text)
            if isinstance(data, dict):
                check_references(Document(str(target), data, {}, text), seen)
        except yaml.YAMLError:
            continue  # not hostile, only broken: the loader says what is wrong with it
        except SpecError as err:
            where = f"{err.file}:{err.line}" if err.line else err.file
            dotted = ".".join(map(str, field_path))
            raise SpecError(doc.path, doc.line_of(field_path), dotted, f"{ref} ({where}): {err.message}") from None


def _strings(node: Any, path: FieldPath) -> Iterator[tuple[FieldPath, str]]:
    if isinstance(node, str):
        yield path, node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _strings(value, (*path, str(key)))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _strings(value, (*path, i))


DEPLOYMENT_KINDS = ("online_deployment", "batch_deployment")
# What `create -f` makes, on every backend (a backend may build fewer and say so).
CREATABLE = ("compute", "data", "environment", "online_endpoint", "online_deployment", "schedule")
# Fields `az ml online-deployment/batch-deployment create` also takes from its command line, and how.
COMMAND_LINE_FIELDS = {"endpoint_name": "--endpoint-name NAME", "name": "--set name=NAME",
                       "compute": "--set compute=NAME"}


def command_line_fields(kind: str, data: Mapping[str, Any]) -> tuple[str, ...]:
    """The required fields a spec of this kind may leave to `az ml ... create`'s command line."""
    if kind == "online_deployment":
        return ("endpoint_name", "name")
    if kind == "batch_deployment":
        # A model batch deployment needs a cluster (the docs' scripts give it with --set compute=...);
        # a pipeline one names its compute in settings.default_compute instead.
        return ("endpoint_name", "name") + (() if data.get("type") == "pipeline" else ("compute",))
    return ()


def from_command_line(doc: Document, kind: str, overrides: Mapping[str, Any] | None = None) -> list[str]:
    """The fields a deployment spec leaves to the command line (`az ml online-deployment create
    -f X --endpoint-name E`, `az ml batch-deployment create -f X --set compute=C`, as the Azure
    docs and examples do) that neither the file nor `overrides` give."""
    given = overrides or {}
    return [key for key in command_line_fields(kind, doc.data)
            if doc.data.get(key) in (None, "") and key not in given]


@dataclass(frozen=True)
class Spec:
    """A loaded spec: the parsed document, its kind, the azure-ai-ml entity and the overrides
    it was loaded with (`--set` and `--endpoint-name`)."""

    doc: Document
    kind: str
    entity: Any
    overrides: Mapping[str, Any] = field(default_factory=dict)

    @property
    def path(self) -> str:
        return self.doc.path

    @property
    def data(self) -> dict[str, Any]:
        """The document's data as the entity saw it: overrides applied, a fresh copy."""
        return apply_overrides(self.doc.data, self.overrides)


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
         *, expect: str | Sequence[str] | None = None, endpoint_name: str | None = None) -> Spec:
    """Read and load one spec with its azure-ai-ml loader. `expect` restricts the kind;
    `endpoint_name` is `--endpoint-name`, for a deployment whose file has none (it wins over the
    file and `--set`, as in `az ml`). Raises SpecError with the file, the line and the field of
    the first problem, a field left to the command line, or a template placeholder left in."""
    doc = read(path)
    kind = kind_of(doc)
    if kind in NOT_CHECKED:
        raise SpecError(doc.path, 1, "$schema", f"{NOT_CHECKED[kind]}: amlops does not create it")
    if kind == ROLLOUT:
        raise SpecError(doc.path, doc.line_of("type"), "type", "a rollout plan (amlops's own schema), not an "
                        "Azure ML asset: nothing to create; `amlops lint` checks it")
    if kind is None or kind in ("conda", "mltable"):
        raise SpecError(doc.path, 1, "$schema",
                        "cannot tell what kind of Azure ML spec this is: add its $schema line")
    if expect is not None and kind not in ((expect,) if isinstance(expect, str) else expect):
        raise SpecError(doc.path, doc.line_of("$schema"), "$schema",
                        f"expected a {expect if isinstance(expect, str) else ' or '.join(expect)} spec, got {kind}")
    overrides = dict(overrides or {})
    if endpoint_name is not None:
        if kind not in DEPLOYMENT_KINDS:
            raise SpecError(doc.path, doc.line_of("$schema"), "--endpoint-name",
                            f"applies to online and batch deployments only, and this is a {kind} spec")
        overrides["endpoint_name"] = endpoint_name
    missing = from_command_line(doc, kind, overrides)
    if missing:
        raise SpecError(doc.path, 1, missing[0],
                        f"not in the file: give it on the command line ({COMMAND_LINE_FIELDS[missing[0]]})")
    holes = placeholders(doc, kind, overrides)
    if holes:  # create would send it to Azure as the literal name, id or version
        raise SpecError(doc.path, holes[0].line, holes[0].field, holes[0].message)
    check_given(doc, kind, overrides)
    try:
        entity = load_entity(doc, kind, overrides)
    except SpecError:
        raise
    except Exception as exc:  # the loaders raise marshmallow, azure and plain errors alike
        raise to_spec_error(doc, exc) from None
    return Spec(doc, kind, entity, overrides)


# The names `create` and `job submit` hold to Azure's rules (console/naming.py): field, rule.
# specs.load checks them, with file:line, in every backend (the daemon audits the refusal).
NAMED_FIELDS: dict[str, tuple[tuple[str, str], ...]] = {
    "compute": (("name", "compute"),), "online_endpoint": (("name", "endpoint"),),
    "online_deployment": (("name", "deployment"), ("endpoint_name", "endpoint")),
    "data": (("name", "asset"),), "environment": (("name", "asset"),), "schedule": (("name", "asset"),),
    "job": (("name", "job"),),
}
_INPUT_BINDING = re.compile(r"\$\{\{\s*(?:parent\.)?inputs\.([A-Za-z0-9_]+)")


def check_given(doc: Document, kind: str, overrides: Mapping[str, Any] | None = None) -> None:
    """SpecError with the file, line and field of a name Azure would refuse, or of a `--set
    inputs.NAME` that is no input of the job (it would run with the default in silence)."""
    from console.errors import InvalidField
    from console.naming import check_name

    given = overrides or {}
    for key, rule in NAMED_FIELDS.get(kind, ()):
        value = given[key] if key in given else doc.data.get(key)
        if value is None:
            continue  # left out: the loader says it is required, where it is
        try:
            check_name(rule, value, key)
        except InvalidField as err:
            if key in given:
                raise SpecError(doc.path, None, key, f"{err.message} (given on the command line)") from None
            raise SpecError(doc.path, doc.line_of(key), key, err.message) from None
    if kind == "job":
        inputs = doc.data.get("inputs")
        known = set(inputs) if isinstance(inputs, dict) else set()
        known |= set(_INPUT_BINDING.findall(doc.text))  # bound in the command, given only by --set
        for key in given:
            parts = key.split(".")
            if parts[0] == "inputs" and len(parts) > 1 and parts[1] not in known:
                have = ", ".join(sorted(map(str, known))) or "none"
                raise SpecError(doc.path, doc.lines.get(("inputs",)), key,
                                f"this job has no input '{parts[1]}' (its inputs: {have}): the --set would change nothing")


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
            return _flatten(_intended(node), prefix)  # alternatives of a union
        out = []
        for item in node:
            out += _flatten(item, prefix)
        return out[:1] if out else []
    return [(prefix, str(node))]


def _intended(alternatives: list[dict]) -> dict:
    """The union alternative the file meant: the first whose `type` matched (a monitoring signal
    of type generation_safety_quality is not meant as a data_drift one), else the first."""
    return next((alt for alt in alternatives if "type" not in alt), alternatives[0])


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
