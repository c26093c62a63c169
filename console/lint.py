"""`amlops lint`: validate specs with azure-ai-ml's loaders, then flag what hurts in production.

Each rule reads the parsed document (not the SDK entity), so it runs on any YAML the loader
accepts or rejects and points at the exact line. Rules and their ids:

  invalid-spec                 error    the loader rejects the file (one finding per problem), or
                                        it is hostile (huge, an alias bomb, nested past reason)
  lint-failed                  error    lint itself failed on the file (a bug: the run goes on)
  template-placeholder         error    `<ENDPOINT_NAME>`, `{{ENDPOINT_NAME}}`, `$ENDPOINT_NAME` in a
                                        name...: a template to fill in before create
  from-command-line            warning  a deployment without endpoint_name or name, a batch
                                        deployment without compute: it must come from the command
                                        line (`--endpoint-name`, `--set`), as in the docs
  duplicate-key                warning  a key given twice in one mapping: the last silently wins
  component-name               warning  a component name `az ml component create` refuses, in a
                                        component another linted spec uses by reference (it loads)
  preview-only                 warning  a spec azure-ai-ml checks but does not create yet (hdfs)
  unknown-kind                 warning  not a spec amlops recognises (names the $schema or type)
  not-checked                  info     a promptflow file or a model package spec: not an Azure ML
                                        asset spec, so only scanned for secrets and placeholders
  unpinned-version             warning  a data asset, model or environment without a pinned version
  unpinned-image               warning  an environment image without a tag or digest, or `:latest`
  cluster-min-instances        warning  a cluster that never scales to zero
  instance-no-idle-shutdown    warning  a compute instance with no idle shutdown
  deployment-no-probes         warning  an online deployment without liveness or readiness probe
  deployment-no-data-collection warning an online deployment that collects no model inputs/outputs
  traffic-to-new-deployment    error    an endpoint that sends traffic to a deployment not yet there
  secret-in-spec               error    keys, connection strings, SAS tokens, client secrets, PATs
  gpu-no-quota                 error    a GPU size whose family has no quota (with a workspace)
  invalid-name                 error    an endpoint or deployment name Azure rejects

A placeholder is an error, not a warning: `create` would send it to Azure as the literal name
or version (or not parse the file at all), so a template must not pass the gate `make run` and
the console's submit key put in front of create. The loader's own complaints about a field that
holds a placeholder are the placeholder's, and reported as such.
"""

from __future__ import annotations

import gc
import re
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from console import naming, specs
from console.domain import VmSize
from console.errors import SpecError

SEVERITIES = ("error", "warning", "info")


@dataclass(frozen=True, order=True)
class Finding:
    file: str
    line: int
    severity: str
    rule: str
    message: str
    field: str | None = None

    def format(self) -> str:
        return f"{self.file}:{self.line}: {self.severity} {self.rule} {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class LintContext:
    """What a known workspace adds: quota limits per VM family, the size catalog, and the
    deployments that already exist per endpoint. Rules needing a missing piece stay silent."""

    quota_limits: Mapping[str, int] | None = None
    sizes: Mapping[str, VmSize] | None = None
    existing_deployments: Mapping[str, frozenset[str]] | None = None
    region: str | None = None
    how_to_raise: Callable[[str], str] | None = None  # the workspace's own advice for a family


@dataclass
class LintResult:
    findings: list[Finding] = field(default_factory=list)
    files: int = 0

    @property
    def exit_code(self) -> int:
        """0 clean (warnings allowed), 1 error findings, 2 unreadable or invalid input."""
        if any(f.rule in ("invalid-spec", "lint-failed") for f in self.findings):
            return 2
        return 1 if any(f.severity == "error" for f in self.findings) else 0


MLTABLE = "MLTable"  # an MLTable file has that name and no extension


def collect(paths: Iterable[str | Path]) -> list[Path]:
    """The YAML files named, with folders walked recursively in a stable order: `.yml`, `.yaml`
    and MLTable files."""
    out: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            out += sorted(p for p in path.rglob("*")
                          if (p.suffix in (".yml", ".yaml") or p.name == MLTABLE) and p.is_file())
        else:
            out.append(path)
    return out


def lint(paths: Iterable[str | Path], context: LintContext | None = None,
         *, endpoint_name: str | None = None, overrides: Mapping[str, Any] | None = None) -> LintResult:
    """Lint every YAML file under `paths`. Never raises for bad input: it becomes findings.
    `endpoint_name` is `--endpoint-name`: the endpoint of every deployment spec linted;
    `overrides` are `--set KEY=VALUE` pairs (parsed), applied to every spec linted, as
    `az ml ... create --set` applies them."""
    context = context or LintContext()
    run = _Run(context, endpoint_name, dict(overrides or {}))
    result = LintResult()
    with _fewer_collections():
        for path in collect(paths):
            result.files += 1
            try:
                result.findings += run.file(path)
            except Exception as exc:  # noqa: BLE001 - one file's surprise must not hide the others' findings
                detail = specs._first_line(str(exc))
                result.findings.append(Finding(str(path), 1, "error", "lint-failed",
                                               f"amlops lint failed on this file ({type(exc).__name__}"
                                               f"{': ' + detail if detail else ''}): please report it"))
    result.findings += _traffic_rules(run.loaded, context, endpoint_name)
    result.findings = _by_reference(result.findings, run)
    result.findings.sort(key=lambda f: (f.file, f.line, f.rule))
    return result


# azure-ai-ml's loaders build (and drop) hundreds of thousands of marshmallow objects per spec,
# many in cycles: at Python's default threshold (700 allocations) the cyclic collector runs
# over 1,600 times on azureml-examples' cli/ tree, and each full pass walks azure-ai-ml's whole
# import graph: 2.3 s of its 7.5 s. At 20,000 it runs 60 times, about 1 s, for ~20 MB more.
_GC_THRESHOLD = 20_000


@contextmanager
def _fewer_collections() -> Iterator[None]:
    before = gc.get_threshold()
    gc.set_threshold(max(before[0], _GC_THRESHOLD), *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


@dataclass
class _Run:
    """What one lint run learns as it goes: the specs loaded (for the rules across files) and
    the local component files other specs use by reference."""

    context: LintContext
    endpoint_name: str | None
    overrides: dict[str, Any]
    loaded: list[tuple[specs.Document, str]] = field(default_factory=list)
    components: set[Path] = field(default_factory=set)
    references: dict[Path, tuple[str, int]] = field(default_factory=dict)

    def file(self, path: Path) -> list[Finding]:
        doc, findings = _read(path)
        if doc is None:
            return findings
        findings += _duplicates(doc)
        kind = specs.kind_of(doc)
        if kind == "conda":
            return findings
        findings += _secrets(doc)
        given = {**self.overrides}
        if self.endpoint_name and kind in specs.DEPLOYMENT_KINDS:
            given["endpoint_name"] = self.endpoint_name
        holes = specs.placeholders(doc, kind, given)
        findings += [Finding(doc.path, h.line, "error", "template-placeholder", h.message, h.field) for h in holes]
        self._note_references(doc)
        if kind is None:
            return [*findings, Finding(doc.path, 1, "warning", "unknown-kind",
                                       f"not recognised as an Azure ML spec ({specs.unknown_kind(doc)}): "
                                       "only scanned for secrets and template placeholders")]
        if kind in specs.NOT_CHECKED:
            return [*findings, Finding(doc.path, 1, "info", "not-checked",
                                       f"{specs.NOT_CHECKED[kind]}, so not checked "
                                       "(only scanned for secrets and template placeholders)")]
        if kind == "mltable":
            return [*findings, *_mltable(doc)]
        if kind == specs.ROLLOUT:
            self.loaded.append((doc, kind))
            return [*findings, *_rollout_plan(doc)]
        if kind == "component":
            self.components.add(_resolved(doc.path))
        checked = [*_validate(doc, kind, given), *_rules(_with(doc, self.overrides), kind, self.context, given,
                                                          self.endpoint_name)]
        self.loaded.append((doc, kind))
        return [*findings, *(f for f in checked if not _from_placeholder(f, holes))]

    def _note_references(self, doc: specs.Document) -> None:
        for field_path, value in specs._strings(doc.data, ()):
            if not field_path or field_path[-1] not in _COMPONENT_KEYS:
                continue
            ref = value.removeprefix("file:").strip()
            if ref.endswith((".yml", ".yaml")) and "://" not in ref and not ref.startswith("azureml:"):
                target = _resolved(Path(doc.path).parent / ref)
                self.references.setdefault(target, (doc.path, doc.line_of(field_path)))


# Fields whose value may be a local component file: a pipeline step's, a batch deployment's, a sweep's trial.
_COMPONENT_KEYS = ("component", "trial")
_COMPONENT_NAME = "Component name should only contain"  # azure-ai-ml's words for a name create refuses


def _resolved(path: str | Path) -> Path:
    try:
        return Path(path).resolve()
    except OSError:
        return Path(path)


def _by_reference(findings: list[Finding], run: _Run) -> list[Finding]:
    """A component whose only fault is a name `az ml component create` refuses, linted beside a
    spec that uses it by reference (where azure-ai-ml takes the name as it is), gets a warning."""
    out = []
    for f in findings:
        where = run.references.get(_resolved(f.file)) if f.rule == "invalid-spec" and f.field == "name" else None
        if where is None or _COMPONENT_NAME not in f.message or _resolved(f.file) not in run.components:
            out.append(f)
            continue
        name = f.message.rsplit("Currently got ", 1)[-1].rstrip(".")
        out.append(Finding(f.file, f.line, "warning", "component-name",
                           f"name '{name}' is taken as it is where {where[0]}:{where[1]} uses this component; "
                           "`az ml component create` would refuse it (lower-case letters, digits, underscores)",
                           "name"))
    return out


def _with(doc: specs.Document, overrides: Mapping[str, Any]) -> specs.Document:
    """The document as the rules should see it: `--set` applied, lines unchanged."""
    if not overrides:
        return doc
    try:
        return replace(doc, data=specs.apply_overrides(doc.data, overrides))
    except SpecError:
        return doc  # the loader says what is wrong with the override


def _rollout_plan(doc: specs.Document) -> list[Finding]:
    """A rollout plan's problems, one per field, from its own reader (console/rollout_plan.py)."""
    from console import rollout_plan

    _, problems = rollout_plan.problems(doc.data, Path(doc.path).stem)
    return [Finding(doc.path, doc.line_of(p.field), "error", "invalid-rollout", f"{p.field}: {p.message}", p.field)
            for p in problems]


def _duplicates(doc: specs.Document) -> list[Finding]:
    return [Finding(doc.path, d.line, "warning", "duplicate-key",
                    f"{d.field} is given twice, on lines {d.first_line} and {d.line}: YAML keeps the last "
                    f"and drops line {d.first_line} without a word", d.field)
            for d in doc.duplicates]


def _mltable(doc: specs.Document) -> list[Finding]:
    """An MLTable file: azure-ai-ml has no loader for it (the mltable package reads it), so only
    its shape is checked: each of `paths` is one `file`, `folder` or `pattern`."""
    paths = doc.data.get("paths")
    if paths is None:
        return []
    if not isinstance(paths, list):
        return [Finding(doc.path, doc.line_of("paths"), "error", "invalid-spec",
                        "paths: expected a list of file, folder or pattern entries", "paths")]
    out = []
    for i, entry in enumerate(paths):
        if not (isinstance(entry, dict) and len(entry) == 1 and next(iter(entry)) in ("file", "folder", "pattern")):
            out.append(Finding(doc.path, doc.line_of(("paths", i)), "error", "invalid-spec",
                               f"paths.{i}: expected one of file, folder or pattern", f"paths.{i}"))
    return out


def _read(path: Path) -> tuple[specs.Document | None, list[Finding]]:
    """The parsed file, or the findings that stop it here: unreadable, hostile, not YAML (and
    then one finding per placeholder when it is only a template waiting for sed)."""
    try:
        text = specs.read_text(path)
    except SpecError as err:
        return None, [_invalid(err)]
    try:
        return specs.parse(str(path), text), []
    except SpecError as err:
        holes = specs.unfilled_template(text)
        return None, ([Finding(str(path), h.line, "error", "template-placeholder", h.message) for h in holes]
                      or [_invalid(err)])


def _invalid(err: SpecError) -> Finding:
    message = f"{err.field}: {err.message}" if err.field else err.message
    return Finding(err.file, err.line or 1, "error", "invalid-spec", message, err.field)


def _from_placeholder(finding: Finding, holes: list[specs.Placeholder]) -> bool:
    """Whether a loader or name finding is about a field that holds a placeholder, or holds one
    inside it (`{insert GUID}` makes `model` a mapping the loader rejects as a whole)."""
    if finding.rule not in ("invalid-spec", "invalid-name"):
        return False
    if not finding.field:
        return any(h.line == finding.line for h in holes)
    return any(h.field and (h.field == finding.field or h.field.startswith(finding.field + ".")) for h in holes)


def _validate(doc: specs.Document, kind: str, given: Mapping[str, Any]) -> list[Finding]:
    """The loader's verdict, one finding per problem, with what `given` (--set, --endpoint-name)
    fills in."""
    try:
        specs.loader_for(kind, doc.data)
    except AttributeError:
        return [Finding(doc.path, 1, "warning", "unknown-kind", f"azure-ai-ml has no loader for {kind} specs")]
    # A field left to the command line is a warning; a stand-in lets the loader check the rest.
    missing = specs.from_command_line(doc, kind, given)
    noun = kind.replace("_", "-")
    findings = [Finding(doc.path, 1, "warning", "from-command-line",
                        f"{key} is not in the file: it must come from the command line "
                        f"({specs.COMMAND_LINE_FIELDS[key]}), as `az ml {noun} create` takes it", key)
                for key in missing]
    if kind == "datastore" and specs.is_preview_datastore(doc.data):
        findings.append(Finding(doc.path, doc.line_of("type"), "warning", "preview-only",
                                "type hdfs: checked against azure-ai-ml's own hdfs schema, but its "
                                "load_datastore (and so `az ml datastore create`) refuses hdfs until "
                                "the preview ships", "type"))
    try:
        with warnings.catch_warnings():  # the SDK's deprecation notes are not findings; keep the terminal clean
            warnings.simplefilter("ignore")
            specs.load_entity(doc, kind, {**given, **dict.fromkeys(missing, "from-command-line")})
    except SpecError as err:  # a hostile file the spec points at
        return [*findings, _invalid(err)]
    except Exception as exc:  # the loaders raise marshmallow, azure and plain errors alike
        problems = specs.validation_problems(exc) or [("", specs._first_line(str(exc)) or type(exc).__name__)]
        findings += [Finding(doc.path, doc.line_of(f) if f else 1, "error", "invalid-spec",
                             f"{f}: {m}" if f else m, f or None) for f, m in _unique(problems)]
    return findings


def _unique(items: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return list(dict.fromkeys(items))


# --- per-document rules ----------------------------------------------------------------------


def _rules(doc: specs.Document, kind: str, context: LintContext, given: Mapping[str, Any],
           endpoint_name: str | None = None) -> Iterator[Finding]:
    yield from _unpinned(doc)
    data = doc.data
    if kind == "environment":
        yield from _unpinned_image(doc, ("image",))
    if kind == "compute":
        ctype = str(data.get("type", "")).lower()
        if ctype == "amlcompute" and _int(data.get("min_instances")) > 0:
            yield Finding(doc.path, doc.line_of("min_instances"), "warning", "cluster-min-instances",
                          f"min_instances is {data['min_instances']}: those nodes bill while idle; "
                          "set min_instances: 0 so the cluster scales to zero", "min_instances")
        if ctype == "computeinstance" and not (data.get("idle_time_before_shutdown_minutes")
                                               or data.get("idle_time_before_shutdown")):
            yield Finding(doc.path, doc.line_of("name"), "warning", "instance-no-idle-shutdown",
                          "compute instance has no idle shutdown: set idle_time_before_shutdown_minutes "
                          "so a forgotten instance stops billing", "idle_time_before_shutdown_minutes")
        yield from _gpu_quota(doc, "size", context)
    if kind in ("online_endpoint", "online_deployment"):
        yield from _name_rule(doc, kind, given, endpoint_name)
    if kind == "online_deployment":
        for probe in ("liveness_probe", "readiness_probe"):
            if not isinstance(data.get(probe), dict):
                yield Finding(doc.path, doc.line_of("name"), "warning", "deployment-no-probes",
                              f"no {probe}: without it a stuck model keeps receiving traffic", probe)
        collections = doc.get("data_collector", "collections", default={}) or {}
        enabled = [name for name in ("model_inputs", "model_outputs")
                   if _enabled(collections.get(name) if isinstance(collections, dict) else None)]
        if not enabled:
            at = "data_collector" if "data_collector" in data else "name"
            yield Finding(doc.path, doc.line_of(at), "warning", "deployment-no-data-collection",
                          "no data_collector with model_inputs/model_outputs: drift cannot be monitored",
                          "data_collector")
        yield from _gpu_quota(doc, "instance_type", context)


def _enabled(collection: Any) -> bool:
    if not isinstance(collection, dict):
        return False
    return str(collection.get("enabled", "true")).lower() == "true"


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _name_rule(doc: specs.Document, kind: str, given: Mapping[str, Any],
               endpoint_name: str | None = None) -> Iterator[Finding]:
    keys = ("name", "endpoint_name") if kind == "online_deployment" else ("name",)
    for key in keys:
        value = given.get(key, doc.data.get(key))
        if isinstance(value, str) and not naming.ENDPOINT_NAME.match(value):
            flag = "--endpoint-name" if key == "endpoint_name" and endpoint_name else "--set"
            source = f" (from {flag})" if key in given else ""
            yield Finding(doc.path, doc.line_of(key), "error", "invalid-name",
                          f"{key} '{value}'{source}: Azure needs 3 to 32 characters, a letter first, "
                          "then letters, digits or dashes", key)


# Keys whose string values are asset references: the key names the asset type.
_REF_KEYS = {"environment": "environment", "model": "model", "path": "data asset"}


def _unpinned(doc: specs.Document) -> Iterator[Finding]:
    for path, value in _walk(doc.data, ()):
        if not isinstance(value, str) or not path or not isinstance(path[-1], str):
            continue
        asset = _REF_KEYS.get(path[-1])
        if asset is None:
            continue
        why = _unpinned_reason(value)
        if why:
            dotted = ".".join(str(p) for p in path)
            form = ".../versions/VERSION" if value.startswith("azureml://") else "azureml:NAME:VERSION"
            yield Finding(doc.path, doc.line_of(path), "warning", "unpinned-version",
                          f"{asset} '{value}' {why}: pin a version ({form}) so reruns "
                          "and rollbacks use the same thing", dotted)


def _unpinned_reason(ref: str) -> str | None:
    if ref.startswith("azureml://"):
        parts = ref[len("azureml://"):].split("/")
        if parts[0] not in ("registries", "subscriptions"):
            return None  # datastore paths, job outputs: not versioned assets
        if "labels" in parts:
            return "follows a label"
        kinds = {"models", "environments", "data", "components"}
        if any(p in kinds for p in parts) and "versions" not in parts:
            return "has no version"
        return None
    if not ref.startswith("azureml:"):
        return None  # a local path or URL
    body = ref[len("azureml:"):]
    if "@" in body:
        return "follows @latest" if body.rsplit("@", 1)[1] == "latest" else None
    return None if ":" in body else "has no version"


def _unpinned_image(doc: specs.Document, path: tuple[str, ...]) -> Iterator[Finding]:
    image = doc.get(*path)
    if not isinstance(image, str) or "@sha256:" in image:
        return
    last = image.rsplit("/", 1)[-1]
    tag = last.split(":", 1)[1] if ":" in last else None
    if tag in (None, "latest"):
        yield Finding(doc.path, doc.line_of(path), "warning", "unpinned-image",
                      f"image '{image}' is not pinned: use a dated tag or a digest", ".".join(path))


def _gpu_quota(doc: specs.Document, key: str, context: LintContext) -> Iterator[Finding]:
    size_name = doc.data.get(key)
    if context.quota_limits is None or context.sizes is None or not isinstance(size_name, str):
        return
    size = context.sizes.get(size_name) or next(
        (s for n, s in context.sizes.items() if n.lower() == size_name.lower()), None)
    if size is None or size.gpus == 0:
        return
    limit = context.quota_limits.get(size.family, 0)
    if limit < size.vcpus:
        where = f" in {context.region}" if context.region else ""
        yield Finding(doc.path, doc.line_of(key), "error", "gpu-no-quota",
                      f"{size_name} needs {size.vcpus} vCPUs of {size.family}, whose quota{where} is {limit}; "
                      "pick a size with quota, or " + _raise(context, size.family), key)


def _raise(context: LintContext, family: str) -> str:
    if context.how_to_raise is None:
        return "request a quota increase for that family"
    advice = context.how_to_raise(family)
    return advice[:1].lower() + advice[1:]


# --- secrets ---------------------------------------------------------------------------------

_SECRET_KEYS = {
    "account_key": "a storage account key", "sas_token": "a SAS token",
    "client_secret": "a client secret", "password": "a password",
    "connection_string": "a connection string", "primary_key": "a key",
    "secondary_key": "a key", "api_key": "an API key", "access_key": "an access key",
    "secret": "a secret", "shared_access_key": "a shared access key",
    "kerberos_password": "a Kerberos password", "secret_access_key": "an access key secret",
    "pat": "a personal access token",
}
# Keys too common to flag anywhere, that hold a secret under `credentials:` (a connection's
# `credentials: {type: api_key, key: ...}`).
_CREDENTIAL_KEYS = {"key": "a key"}
_SECRET_PATTERNS = [
    (re.compile(r"(?i)(AccountKey|SharedAccessKey)=[A-Za-z0-9+/=]{8,}"), "a connection string with a key"),
    (re.compile(r"(?i)DefaultEndpointsProtocol=https?;"), "a storage connection string"),
    (re.compile(r"(?i)[?&]sig=[A-Za-z0-9%+/=]{16,}"), "a SAS token"),
    (re.compile(r"(?i)\bsv=\d{4}-\d{2}-\d{2}&.*\bsig="), "a SAS token"),
    (re.compile(r"(?<![A-Za-z0-9_~.-])[A-Za-z0-9_~.-]{3}\dQ~[A-Za-z0-9_~.-]{31,34}"), "an Entra ID client secret"),
    (re.compile(r"(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{86}==(?![A-Za-z0-9+/=])"), "a storage account key"),
    (re.compile(r"-----BEGIN (RSA |EC |OPENSSH )?PRIVATE KEY-----"), "a private key"),
]
_FIX = "use a managed identity (identity: type: system_assigned/user_assigned) or federated credentials, never keys"


def _secrets(doc: specs.Document) -> Iterator[Finding]:
    flagged: set[int] = set()
    for path, value in _walk(doc.data, ()):
        if not path or not isinstance(path[-1], str):
            continue
        what = _SECRET_KEYS.get(path[-1].lower())
        if what is None and len(path) >= 2 and str(path[-2]).lower() == "credentials":
            what = _CREDENTIAL_KEYS.get(path[-1].lower())
        if what and isinstance(value, (str, int)) and _is_literal(str(value)):
            line = doc.line_of(path)
            flagged.add(line)
            yield Finding(doc.path, line, "error", "secret-in-spec",
                          f"{'.'.join(map(str, path))} holds {what}: {_FIX}", ".".join(map(str, path)))
    # Raw lines catch secrets under innocent keys and in comments.
    for number, line in enumerate(doc.text.splitlines(), start=1):
        if number in flagged:
            continue
        for pattern, what in _SECRET_PATTERNS:
            if pattern.search(line):
                flagged.add(number)
                yield Finding(doc.path, number, "error", "secret-in-spec", f"line holds {what}: {_FIX}")
                break


def _is_literal(value: str) -> bool:
    value = value.strip()
    if not value or value.startswith(("${{", "${", "$(", "azureml:", "@Microsoft.KeyVault", "<", "{{")):
        return False
    return value.lower() not in ("none", "null", "***", "xxx", "redacted")


def _walk(node: Any, path: tuple[str | int, ...]) -> Iterator[tuple[tuple[str | int, ...], Any]]:
    yield path, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _walk(value, (*path, str(key)))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _walk(value, (*path, i))


# --- rules across files ----------------------------------------------------------------------


def _traffic_rules(loaded: list[tuple[specs.Document, str]], context: LintContext,
                   endpoint_name: str | None = None) -> Iterator[Finding]:
    """An endpoint spec that puts traffic on a deployment that does not exist yet fails in Azure:
    create the endpoint without traffic, create the deployment, then move traffic."""
    being_created: dict[str, set[str]] = {}
    for doc, kind in loaded:
        if kind == "online_deployment":
            endpoint, name = endpoint_name or doc.data.get("endpoint_name"), doc.data.get("name")
            if isinstance(endpoint, str) and isinstance(name, str):
                being_created.setdefault(endpoint, set()).add(name)
    for doc, kind in loaded:  # a plan whose endpoint's deployments are linted beside it names one of them
        if kind == specs.ROLLOUT and doc.data.get("endpoint") in being_created:
            known = being_created[doc.data["endpoint"]]
            for role in ("stable", "candidate"):
                name = doc.data.get(role)
                if isinstance(name, str) and name not in known:
                    yield Finding(doc.path, doc.line_of(role), "warning", "rollout-unknown-deployment",
                                  f"{role} '{name}' is not among the deployment specs of {doc.data['endpoint']} "
                                  f"linted beside it ({', '.join(sorted(known))})", role)
    for doc, kind in loaded:
        if kind != "online_endpoint":
            continue
        endpoint = str(doc.data.get("name", ""))
        existing = (context.existing_deployments or {}).get(endpoint)
        for key in ("traffic", "mirror_traffic"):
            split = doc.data.get(key)
            if not isinstance(split, dict):
                continue
            for deployment, share in split.items():
                if _int(share) <= 0:
                    continue
                new = deployment in being_created.get(endpoint, set())
                missing = existing is not None and deployment not in existing
                if new or missing:
                    state = "is created by a spec beside it" if new else "does not exist in the workspace"
                    yield Finding(doc.path, doc.line_of((key, deployment)), "error", "traffic-to-new-deployment",
                                  f"{key} sends {share} % to '{deployment}', which {state}: create the endpoint "
                                  "with no traffic, then set traffic once the deployment is ready",
                                  f"{key}.{deployment}")

