"""The one place the console reads under azure-ai-ml's public API (pinned to azure-ai-ml 1.35.2
by tests/unit/test_azure_rest.py): a cluster's current node count, which the public `Compute`
entity drops, read from the REST objects of the same `computes` listing the public
`compute.list()` makes, so it costs no extra request."""

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
