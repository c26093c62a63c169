"""azure-ai-ml entities (and, where the entity leaves a field empty, the REST object behind it)
as the project's records. Nothing here calls Azure.

Where Azure has no figure the record leaves it empty rather than guessing: a job's start and end
come from its run's properties when Azure put them there; a compute instance has no activity
timestamp in ARM, so its idle time is unknown; a deployment's cost today needs Azure Cost
Management, so it is None, while its $/hour is the catalog's list price x instances.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

from console import costs
from console.domain import (
    AssetVersion,
    Compute,
    ComputeOperation,
    Deployment,
    Endpoint,
    EndpointKeys,
    Job,
    ModelVersion,
    Monitor,
    QuotaUsage,
    Traffic,
    VmSize,
)

_JOB_TYPES = {"command": "command", "pipeline": "pipeline", "sweep": "sweep", "automl": "automl",
              "spark": "spark", "finetuning": "finetuning"}


def text(value: Any, default: str = "") -> str:
    """An SDK value as Azure spells it: an enum's value ("Running", not "JobStatus.RUNNING")."""
    if value is None:
        return default
    return str(getattr(value, "value", value))


def last_segment(ref: Any) -> str | None:
    """`azureml:cpu-cluster`, an ARM id or a bare name, as the bare name."""
    if not ref:
        return None
    text = str(ref).rstrip("/")
    return text.rsplit("/", 1)[-1].removeprefix("azureml:")


def _time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
    return None


def job(entity: Any) -> Job:
    created = getattr(getattr(entity, "creation_context", None), "created_at", None)
    props = getattr(entity, "properties", None) or {}
    return Job(
        name=entity.name, status=text(getattr(entity, "status", None), "Unknown"),
        job_type=_JOB_TYPES.get(text(getattr(entity, "type", None), "command").lower(),
                                text(getattr(entity, "type", None), "command")),
        display_name=getattr(entity, "display_name", None), experiment_name=getattr(entity, "experiment_name", None),
        compute=last_segment(getattr(entity, "compute", None)), created_at=_time(created),
        started_at=_time(props.get("StartTimeUtc")), ended_at=_time(props.get("EndTimeUtc")),
        # An Azure ML job's MLflow run id is the job's name.
        mlflow_run_id=entity.name, tags={str(k): str(v) for k, v in (getattr(entity, "tags", None) or {}).items()},
    )


def compute(entity: Any, rest: Any = None) -> Compute:
    """`rest` is the REST ComputeResource, for what the entity drops (a cluster's node count)."""
    kind = text(getattr(entity, "type", None)).lower()
    size = str(getattr(entity, "size", None) or "")
    found = costs.size(size)
    name = found.name if found else size
    if kind == "amlcompute":
        inner = getattr(getattr(rest, "properties", None), "properties", None)
        nodes = getattr(inner, "current_node_count", None) or 0
        allocation = text(getattr(inner, "allocation_state", None), "Steady")
        return Compute(name=entity.name, type="amlcompute", size=name, state=allocation.title() if allocation else "Steady",
                       location=getattr(entity, "location", None), min_instances=int(entity.min_instances or 0),
                       max_instances=int(entity.max_instances or 1), current_nodes=int(nodes),
                       idle_time_before_scale_down_s=int(entity.idle_time_before_scale_down or 0) or None)
    state = text(getattr(entity, "state", None), "Unknown")
    last = getattr(entity, "last_operation", None) or {}
    operation = None
    if last:
        operation = ComputeOperation(name=str(last.get("operation_name") or last.get("operationName") or "?"),
                                     trigger=str(last.get("operation_trigger") or last.get("operationTrigger") or "User"),
                                     status=str(last.get("operation_status") or last.get("operationStatus") or "?"),
                                     time=_time(last.get("operation_time") or last.get("operationTime")))
    idle = getattr(entity, "idle_time_before_shutdown_minutes", None)
    return Compute(name=entity.name, type="computeinstance" if kind == "computeinstance" else kind or "unknown",
                   size=name, state=state, location=getattr(entity, "location", None), min_instances=0,
                   max_instances=1, current_nodes=1 if costs.instance_billed(state) else 0,
                   idle_time_before_shutdown_minutes=int(idle) if idle else None, last_operation=operation)


# What a row of Azure's Usages list counts, by the middle of its type; its other rows (the count
# of clusters, each workspace's and compute's share of a family) are left out.
_USAGE_KINDS = {"vmFamily": QuotaUsage.DEDICATED, "dedicatedCores": QuotaUsage.REGIONAL_DEDICATED,
                "lowPriorityCores": QuotaUsage.REGIONAL_LOW_PRIORITY}
_TIER = re.compile(r"\s+Cluster\s+(Dedicated|LowPriority)\s+vCPUs$", re.IGNORECASE)


def usage(entity: Any, location: str) -> QuotaUsage | None:
    """One row of Azure's Usages list as a record: a VM family's dedicated or low-priority vCPUs
    in the region, or the region's total of either tier. None for the rest: the count of
    clusters, and the workspace- and compute-scoped rows, which are shares of the subscription's
    family rows and would count them twice. Azure's -1 (each family's low-priority limit: only
    the regional total caps it) is no limit, None."""
    parts = text(getattr(entity, "type", None)).split("/")
    kind = _USAGE_KINDS.get(parts[1]) if len(parts) == 3 and parts[2] == "usages" else None
    name = getattr(entity, "name", None) or {}
    spelled = name.get("value") if isinstance(name, dict) else getattr(name, "value", None)
    if kind is None or not spelled:
        return None
    spelled = str(spelled)
    if kind == QuotaUsage.DEDICATED:
        tier = _TIER.search(spelled)
        if tier and tier.group(1).lower() == "lowpriority":
            kind = QuotaUsage.LOW_PRIORITY
        spelled = family_name(spelled)
    # azure-ai-ml's Usage leaves current_value empty: the REST object's camelCase key has it.
    used = getattr(entity, "current_value", None)
    if used is None:
        used = getattr(entity, "currentValue", 0)
    limit = int(getattr(entity, "limit", 0) or 0)
    return QuotaUsage(family=spelled, used=int(used or 0), limit=None if limit < 0 else limit,
                      location=location, kind=kind)


def family_name(spelled: str) -> str:
    """Azure's "Standard DSv2 Family Cluster Dedicated vCPUs" (or "... Cluster LowPriority vCPUs")
    as the catalog spells the family (standardDSv2Family), so quotas join sizes and prices; a
    family the catalog lacks keeps Azure's words without the suffix ("Standard NV Family")."""
    bare = _TIER.sub("", spelled).strip()
    key = costs.family_key(bare)
    known = {costs.family_key(f): f for f in [*costs.default_quotas(), *(s.family for s in costs.catalog().values())]}
    return known.get(key, bare)


def vm_size(entity: Any) -> VmSize:
    known = costs.size(entity.name)
    vcpus = getattr(entity, "v_cp_us", None) or getattr(entity, "vCPUs", None) or (known.vcpus if known else 0)
    memory = getattr(entity, "memory_gb", None) or getattr(entity, "memoryGB", None) or (known.memory_gb if known else 0)
    price = _linux_price(getattr(entity, "estimatedVMPrices", None))
    return VmSize(name=entity.name, family=str(getattr(entity, "family", None) or (known.family if known else "")),
                  vcpus=int(vcpus or 0), gpus=int(getattr(entity, "gpus", 0) or 0), memory_gb=float(memory or 0),
                  price_per_hour=price if price is not None else (known.price_per_hour if known else None),
                  price_date=None if price is not None else (known.price_date if known else None))


def _linux_price(prices: Any) -> float | None:
    for value in (prices or {}).get("values", []) if isinstance(prices, dict) else []:
        if value.get("osType") == "Linux" and value.get("vmTier") == "Standard":
            return float(value["retailPrice"])
    return None


def deployment(entity: Any, endpoint: str) -> Deployment:
    size = str(getattr(entity, "instance_type", None) or "")
    found = costs.size(size)
    count = int(getattr(entity, "instance_count", None) or 1)
    state = text(getattr(entity, "provisioning_state", None), "Unknown")
    settings = getattr(entity, "request_settings", None)
    collector = getattr(entity, "data_collector", None)
    collections = getattr(collector, "collections", None) or {}
    enabled = tuple(c for c in ("model_inputs", "model_outputs")
                    if str(getattr(collections.get(c), "enabled", "false")).lower() == "true")
    hourly = costs.hourly_cost(found.name, count) if found and state in costs.BILLED_DEPLOYMENT_STATES else (
        0.0 if found else None)
    return Deployment(
        endpoint_name=endpoint, name=entity.name, model=_model_ref(getattr(entity, "model", None)),
        instance_type=found.name if found else size, instance_count=count, provisioning_state=state,
        # Azure reports no per-instance readiness: a deployment only Succeeds once every instance
        # passed its readiness probe, and it is not Succeeded while one is being replaced.
        ready_instances=count if state == "Succeeded" else 0,
        request_timeout_ms=int(getattr(settings, "request_timeout_ms", None) or 5000),
        max_concurrent_requests_per_instance=int(getattr(settings, "max_concurrent_requests_per_instance", None) or 1),
        data_collection=enabled, cost_per_hour=hourly, cost_today=None)


def _model_ref(model: Any) -> str | None:
    """`azureml:churn-classifier:1` or an ARM id .../models/churn-classifier/versions/1 as name:version."""
    if model is None:
        return None
    text = str(getattr(model, "id", None) or model)
    if "/models/" in text and "/versions/" in text:
        name = text.split("/models/", 1)[1].split("/", 1)[0]
        return f"{name}:{text.rsplit('/versions/', 1)[1]}"
    return text.removeprefix("azureml:")


def endpoint(entity: Any, deployments: list[Deployment]) -> Endpoint:
    names = [d.name for d in deployments]
    live = {str(k): int(v) for k, v in (getattr(entity, "traffic", None) or {}).items()}
    mirror = {str(k): int(v) for k, v in (getattr(entity, "mirror_traffic", None) or {}).items() if int(v)}
    return Endpoint(name=entity.name, auth_mode=text(getattr(entity, "auth_mode", None), "key"),
                    scoring_uri=getattr(entity, "scoring_uri", None),
                    provisioning_state=text(getattr(entity, "provisioning_state", None), "Succeeded"),
                    # Every deployment shows in the split, a new one at 0 %, as Azure reports it.
                    traffic=Traffic(live={n: live.get(n, 0) for n in names} if names else live, mirror=mirror),
                    deployments=tuple(deployments))


def keys(entity: Any) -> EndpointKeys:
    return EndpointKeys(primary=str(getattr(entity, "primary_key", "")), secondary=str(getattr(entity, "secondary_key", "")))


def model(entity: Any) -> ModelVersion:
    created = getattr(getattr(entity, "creation_context", None), "created_at", None)
    return ModelVersion(name=entity.name, version=str(entity.version), path=getattr(entity, "path", None),
                        job=getattr(entity, "job_name", None), created_at=_time(created),
                        description=getattr(entity, "description", None),
                        tags={str(k): str(v) for k, v in (getattr(entity, "tags", None) or {}).items()})


def asset(entity: Any, kind: str) -> AssetVersion:
    created = getattr(getattr(entity, "creation_context", None), "created_at", None)
    version = getattr(entity, "version", None) or getattr(entity, "latest_version", None) or "?"
    return AssetVersion(kind=kind, name=entity.name, version=str(version), path=getattr(entity, "path", None),
                        image=getattr(entity, "image", None), created_at=_time(created))


def monitor(entity: Any) -> Monitor | None:
    """A model monitor schedule; None for a schedule that creates no monitor."""
    definition = getattr(entity, "create_monitor", None)
    if definition is None:
        return None
    target = getattr(getattr(definition, "monitoring_target", None), "endpoint_deployment_id", None) or ""
    endpoint_name, deployment_name = _target(str(target))
    signals = getattr(definition, "monitoring_signals", None) or {}
    kinds = tuple(sorted({str(getattr(s, "type", name)) for name, s in signals.items()}))
    return Monitor(name=entity.name, endpoint_name=endpoint_name, deployment=deployment_name, signals=kinds,
                   trigger=_trigger(getattr(entity, "trigger", None)),
                   enabled=getattr(entity, "is_enabled", True) is not False)


def _target(target: str) -> tuple[str | None, str | None]:
    """`azureml:churn-ep:blue` or an ARM id .../onlineEndpoints/churn-ep/deployments/blue."""
    if "/onlineEndpoints/" in target:
        rest = target.split("/onlineEndpoints/", 1)[1].split("/")
        return rest[0], rest[2] if len(rest) > 2 else None
    parts = target.removeprefix("azureml:").split(":")
    return (parts[0] or None), (parts[1] if len(parts) > 1 else None)


def _trigger(trigger: Any) -> str | None:
    if trigger is None:
        return None
    expression = getattr(trigger, "expression", None)
    if expression:
        return f"cron {expression}"
    frequency, interval = getattr(trigger, "frequency", None), getattr(trigger, "interval", None)
    return f"every {interval} {frequency}" if frequency else None
