"""`create -f` on an Azure workspace, as `az ml X create -f`: the spec is loaded with azure-ai-ml's
own loader (and refused with its file, line and field) before any request is sent, the names it
refers to are checked, then azure-ai-ml's `begin_create_or_update` sends it.

Every kind `create -f` takes: compute (clusters and instances), environments (image and conda
file), data assets (a local file or folder is uploaded first, by content, through the workspace's
own pipeline: upload.py), online endpoints, online deployments (a new one takes no traffic: Azure
gives it 0 %, as the console's deploy-green expects) and monitor schedules. What azure-ai-ml would
upload with a blob client of its own (an environment's local build context) is refused, naming
the `az ml` command that does it, before any request.

Re-applying an endpoint's YAML keeps the live split: a file without `traffic` would otherwise be
a PUT of no traffic at all, and the console would have taken every request off production.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from console import specs
from console.errors import BadInput, NotFound, NotSupported

if TYPE_CHECKING:
    from console.azure.workspace import AzureWorkspace
    from console.domain import Created

AZ_ML = {"compute": "az ml compute create -f", "environment": "az ml environment create -f",
         "schedule": "az ml schedule create -f", "data": "az ml data create -f"}


def create(ws: AzureWorkspace, spec_path: str, overrides: Mapping[str, Any] | None = None, *,
           endpoint_name: str | None = None, expect: str | None = None) -> Created:
    """Load the spec and create what it describes. Raises SpecError, NotFound, NotSupported,
    BadInput; nothing is sent when it raises before Azure answers."""
    from console.domain import Created

    spec = specs.load(spec_path, overrides, expect=expect or specs.CREATABLE, endpoint_name=endpoint_name)
    ml = ws.session.client()
    entity = spec.entity
    if spec.kind == "data":
        return _data(ws, ml, spec, entity)
    if spec.kind == "compute":
        return Created("compute", entity.name, operation=_compute(ws, ml, entity, spec.path))
    if spec.kind == "environment":
        return _environment(ws, ml, spec, entity)
    if spec.kind == "schedule":
        _refuse_schedule_uploads(spec.data, spec.path)
        return Created("schedule", entity.name, operation=_schedule(ws, ml, entity, spec.path))
    if spec.kind == "online_endpoint":
        return Created("online_endpoint", entity.name, operation=_endpoint(ws, ml, entity, spec.data))
    endpoint = entity.endpoint_name
    return Created("online_deployment", entity.name, endpoint_name=endpoint,
                   operation=_deployment(ws, ml, entity, endpoint, spec.path, spec.data))


def _endpoint(ws: AzureWorkspace, ml: Any, entity: Any, data: Mapping[str, Any]):
    from azure.core.exceptions import ResourceNotFoundError

    try:
        current = ml.online_endpoints.get(entity.name)
    except ResourceNotFoundError:
        current = None
    if current is not None:  # keep the split the file does not give (the loader makes it {})
        if "traffic" not in data:
            entity.traffic = dict(current.traffic or {})
        if "mirror_traffic" not in data:
            entity.mirror_traffic = dict(getattr(current, "mirror_traffic", None) or {})
    poller = ml.online_endpoints.begin_create_or_update(entity)
    return ws.writes.begin("endpoints.create", entity.name, poller.result, {"endpoint_state": "Succeeded"},
                    after={"auth_mode": str(entity.auth_mode or "key")},
                    detail="updated" if current is not None else "created")


def _deployment(ws: AzureWorkspace, ml: Any, entity: Any, endpoint: str, spec_path: str, data: Mapping[str, Any]):
    from azure.core.exceptions import ResourceNotFoundError

    try:
        ml.online_endpoints.get(endpoint)
    except ResourceNotFoundError:
        raise NotFound("online endpoint", endpoint) from None
    model = entity.model
    if isinstance(model, str):  # the loader gives a registered model as "name:version"
        ref = model.removeprefix("azureml:")
        if not ref.startswith("/") and ref.count(":") == 1:
            name, version = ref.split(":")
            try:
                ml.models.get(name=name, version=version)
            except ResourceNotFoundError:
                raise NotFound("model", ref) from None
    elif model is not None and "://" not in str(getattr(model, "path", "") or ""):
        raise NotSupported("azure", "assets.create", "a deployment of a model folder on this machine needs it "
                           "uploaded, which is not built yet: register it (`amlops model register`) and deploy "
                           "azureml:NAME:VERSION")
    from console.azure.upload import code_asset, is_local, refuse_other_uploads

    refuse_other_uploads(data, spec_path, "az ml online-deployment create -f", "assets.create")
    configuration = getattr(entity, "code_configuration", None)
    if configuration is not None and is_local(configuration.code):  # a scoring script: uploaded as jobs' code is
        from pathlib import Path

        configuration.code, _ = code_asset(ws.storage, ml, (Path(spec_path).parent / configuration.code).resolve())
    try:
        existing = ml.online_deployments.get(name=entity.name, endpoint_name=endpoint)
    except ResourceNotFoundError:
        existing = None
    poller = ml.online_deployments.begin_create_or_update(entity, skip_script_validation=True)
    target = f"{endpoint}/{entity.name}"
    return ws.writes.begin("endpoints.create_deployment", target, poller.result,
                    {"deployment_state": [endpoint, entity.name, "Succeeded"]},
                    before={"model": str(existing.model)} if existing is not None else None,
                    after={"model": str(model) if model is not None else None, "instance_type": entity.instance_type,
                           "instance_count": entity.instance_count},
                    detail="updated" if existing is not None else "created at 0 % traffic")


def _data(ws: AzureWorkspace, ml: Any, spec: Any, entity: Any) -> Created:
    from pathlib import Path

    from console.azure.upload import data_uri, is_local
    from console.domain import Created

    if not entity.version:
        raise BadInput(f"{spec.path}: give the data asset a version (`version: 1`, or --set version=1)")
    path = str(entity.path or "")
    uploaded = None
    if is_local(path):
        local = (Path(spec.path).parent / path).resolve()
        kind = str(getattr(entity, "type", "uri_folder"))
        if kind == "mltable":  # azure-ai-ml would read its MLTable back with a storage client of its own
            raise NotSupported("azure", "assets.create", f"uploading an mltable from this machine is not built yet "
                               f"for the azure workspace: run `{AZ_ML['data']} {spec.path}`")
        if kind == "uri_file" and not local.is_file() or kind == "uri_folder" and not local.is_dir():
            from console.errors import InvalidField

            raise InvalidField("path", f"{path} is {'a folder' if local.is_dir() else 'not a folder'}, and the "
                                       f"data asset's type is {kind}")
        entity.path = data_uri(ws.storage, local)
        uploaded = f"uploaded {local}"
    made = ml.data.create_or_update(entity)
    ws.audit_log.append("assets.create", f"data/{made.name}:{made.version}", after={"path": str(made.path)},
                        result="Succeeded", detail=uploaded or spec.path)
    return Created("data", made.name, version=str(made.version), note=uploaded)


def _compute(ws: AzureWorkspace, ml: Any, entity: Any, spec_path: str):
    from azure.core.exceptions import ResourceNotFoundError

    kind = str(getattr(entity, "type", "")).lower()
    try:  # ARM's create overwrites an existing compute, which cannot be undone: never here
        ml.compute.get(entity.name)
    except ResourceNotFoundError:
        pass
    else:
        raise BadInput(f"compute '{entity.name}' exists: `create -f` makes new compute only; change it with "
                       f"`az ml compute update --name {entity.name}`")
    ready = {"amlcompute": "Steady", "computeinstance": "Running"}.get(kind)
    if ready is None:
        raise NotSupported("azure", "assets.create", f"creating a {kind or 'compute'} is not built yet for the azure "
                           f"workspace: run `{AZ_ML['compute']} {spec_path}`")
    poller = ml.compute.begin_create_or_update(entity)
    return ws.writes.begin("compute.create", entity.name, poller.result, {"compute_state": ready},
                    after={"type": kind, "size": getattr(entity, "size", None)}, detail=spec_path)


def _environment(ws: AzureWorkspace, ml: Any, spec: Any, entity: Any) -> Created:
    from console.azure.upload import refuse_other_uploads
    from console.domain import Created

    refuse_other_uploads({"environment": spec.data}, spec.path, AZ_ML["environment"], "assets.create")
    if not entity.version:
        raise BadInput(f"{spec.path}: give the environment a version (`version: 1`, or --set version=1)")
    made = ml.environments.create_or_update(entity)
    ws.audit_log.append("assets.create", f"environment/{made.name}:{made.version}", after={"image": made.image},
                        result="Succeeded", detail=spec.path)
    return Created("environment", made.name, version=str(made.version))


def _refuse_schedule_uploads(data: Mapping[str, Any], spec_path: str) -> None:
    """A schedule azure-ai-ml would upload files for, with a blob client of its own: a job schedule
    whose job (a file, or inline with local code or inputs) is on this machine, a monitor whose
    signals read local data."""
    from console.azure.upload import is_local, refuse_other_uploads

    job = data.get("create_job")
    if isinstance(job, dict):
        refuse_other_uploads(job, spec_path, AZ_ML["schedule"], "assets.create")

    def paths(node: Any) -> list[Any]:
        if isinstance(node, dict):
            return [v for k, v in node.items() if k == "path"] + [p for v in node.values() for p in paths(v)]
        return [p for v in node for p in paths(v)] if isinstance(node, list) else []

    local_job = is_local(job) or isinstance(job, dict) and is_local(job.get("code"))
    if local_job or any(is_local(p) for p in paths(data.get("create_monitor") or {})):
        raise NotSupported("azure", "assets.create", "this schedule names files on this machine, which azure-ai-ml "
                           "would upload outside the workspace's pipeline; that is not built yet: register them "
                           f"(data assets, a job's code) and name them, or run `{AZ_ML['schedule']} {spec_path}`")


def _schedule(ws: AzureWorkspace, ml: Any, entity: Any, spec_path: str):
    """A monitor schedule: azure-ai-ml resolves its target deployment and data (the production data
    defaults to the deployment's collected model_inputs) and sends it."""
    poller = ml.schedules.begin_create_or_update(entity)
    return ws.writes.begin("monitors.create", entity.name, poller.result, {"schedule_exists": entity.name}, detail=spec_path)
