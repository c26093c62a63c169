"""`create -f` on an Azure workspace, as `az ml X create -f`: the spec is loaded with azure-ai-ml's
own loader (and refused with its file, line and field) before any request is sent, the names it
refers to are checked, then azure-ai-ml's `begin_create_or_update` sends it.

Built here: online endpoints, online deployments (a new one takes no traffic: Azure gives it 0 %,
as the console's deploy-green expects) and data assets that point at storage already in Azure.
What needs files uploaded from this machine (a data asset's local `path`, a build context) or a
spec kind not built yet is refused, naming the `az ml` command that does it, before any request.

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

BUILT = ("online_endpoint", "online_deployment", "data")
AZ_ML = {"compute": "az ml compute create -f", "environment": "az ml environment create -f",
         "schedule": "az ml schedule create -f", "data": "az ml data create -f"}


def create(ws: AzureWorkspace, spec_path: str, overrides: Mapping[str, Any] | None = None, *,
           endpoint_name: str | None = None, expect: str | None = None) -> Created:
    """Load the spec and create what it describes. Raises SpecError, NotFound, NotSupported,
    BadInput; nothing is sent when it raises before Azure answers."""
    from console.domain import Created

    spec = specs.load(spec_path, overrides, expect=expect or specs.CREATABLE, endpoint_name=endpoint_name)
    if spec.kind not in BUILT:
        raise NotSupported("azure", "assets.create", f"creating a {spec.kind} is not built yet for the azure "
                           f"workspace: run `{AZ_ML.get(spec.kind, 'az ml ... create -f')} {spec.path}`")
    ml = ws.session.client()
    entity = spec.entity
    if spec.kind == "data":
        return _data(ws, ml, spec, entity)
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
    return ws.begin("endpoints.create", entity.name, poller.result, {"endpoint_state": "Succeeded"},
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
    return ws.begin("endpoints.create_deployment", target, poller.result,
                    {"deployment_state": [endpoint, entity.name, "Succeeded"]},
                    before={"model": str(existing.model)} if existing is not None else None,
                    after={"model": str(model) if model is not None else None, "instance_type": entity.instance_type,
                           "instance_count": entity.instance_count},
                    detail="updated" if existing is not None else "created at 0 % traffic")


def _data(ws: AzureWorkspace, ml: Any, spec: Any, entity: Any) -> Created:
    from console.domain import Created

    path = str(entity.path or "")
    if "://" not in path and not path.startswith("azureml:"):
        raise NotSupported("azure", "assets.create", f"{spec.path}: `path: {spec.data.get('path')}` is on this "
                           "machine and uploading it is not built yet for the azure workspace: run "
                           f"`az ml data create -f {spec.path}`, or point `path` at an azureml:// or https:// URI")
    if not entity.version:
        raise BadInput(f"{spec.path}: give the data asset a version (`version: 1`, or --set version=1)")
    made = ml.data.create_or_update(entity)
    ws.audit_log.append("assets.create", f"data/{made.name}:{made.version}", after={"path": path},
                        result="Succeeded", detail=spec.path)
    return Created("data", made.name, version=str(made.version))
