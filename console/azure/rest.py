"""The one place the console goes under azure-ai-ml's public API (pinned to azure-ai-ml 1.35.2
by tests/unit/test_azure_rest.py):

- a cluster's current node count, which the public `Compute` entity drops, read from the REST
  objects of the same `computes` listing the public `compute.list()` makes (no extra request);
- a code asset registered from files already in a datastore (upload.py put them there):
  MLClient keeps its code operations private (`_code`), and `jobs.create_or_update` would
  otherwise upload through a blob client of its own, outside the workspace's pipeline."""

from __future__ import annotations

from typing import Any

PINNED = "1.35.2"


def computes(ml: Any) -> list[tuple[Any, Any]]:
    """(entity, REST object) of every compute of the workspace, in one listing."""
    from azure.ai.ml.entities import Compute

    operations = ml.compute
    rest = operations._operation.list(operations._resource_group_name, operations._workspace_name,
                                      cls=lambda objs: list(objs))
    return [(Compute._from_rest_object(obj), obj) for obj in rest]


def code_version(ml: Any, name: str, uri: str) -> str:
    """The ARM id of code asset `name` version 1 at `uri` (the snapshot's https URL in the
    workspace's storage), registered unless it is already."""
    from azure.ai.ml.entities._assets import Code
    from azure.core.exceptions import ResourceNotFoundError

    try:
        return ml._code.get(name=name, version="1").id
    except ResourceNotFoundError:
        return ml._code.create_or_update(Code(name=name, version="1", path=uri)).id
