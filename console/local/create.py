"""`create -f` in the local workspace, as `az ml X create -f`: load the spec with azure-ai-ml's
loader, apply the overrides, and hand it to the service that owns its kind (compute, data and
environment assets, online endpoints and deployments, monitor schedules). Answers a `Created`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from console import specs
from console.domain import Created, Operation
from console.errors import InvalidField

if TYPE_CHECKING:
    from console.local.assets import AssetService
    from console.local.compute import ComputeService
    from console.local.endpoints import EndpointService
    from console.local.monitor import MonitorService
    from console.local.rpc import Request

CREATABLE = specs.CREATABLE


class CreateService:
    def __init__(self, assets: AssetService, compute: ComputeService, endpoints: EndpointService,
                 monitors: MonitorService) -> None:
        self.assets, self.compute, self.endpoints, self.monitors = assets, compute, endpoints, monitors

    def rpc_methods(self) -> dict[str, tuple[Any, bool]]:
        return {"create": (self.create, True)}

    def create(self, req: Request, spec_path: str, overrides: dict[str, Any] | None = None,
               endpoint_name: str | None = None, expect: str | None = None) -> dict[str, Any]:
        """Load the spec (`endpoint_name`: `--endpoint-name`, for a deployment whose file has none;
        `expect`: refuse any other kind before anything is created) and create what it describes."""
        if expect is not None and expect not in CREATABLE:
            raise InvalidField("expect", f"{expect!r}: one of {', '.join(CREATABLE)}")
        spec = specs.load(spec_path, overrides, expect=expect or CREATABLE, endpoint_name=endpoint_name)
        data = spec.data
        data.pop("$schema", None)
        if spec.kind == "compute":
            made = self.compute.create(req, data, spec.path)
            return Created("compute", made["name"]).to_dict()
        if spec.kind == "schedule":
            made = self.monitors.create(req, spec, data)
            return Created("schedule", made["name"]).to_dict()
        if spec.kind == "online_endpoint":
            made = self.endpoints.create(req, spec, data)
            return Created("online_endpoint", made["name"], operation=Operation.from_dict(made["operation"])).to_dict()
        if spec.kind == "online_deployment":
            op = self.endpoints.create_deployment(req, spec, data)
            return Created("online_deployment", data["name"], endpoint_name=data["endpoint_name"],
                           operation=Operation.from_dict(op)).to_dict()
        made = self.assets.create(req, spec, data)
        return Created(made["kind"], made["name"], version=made["version"], note=made.get("note")).to_dict()
