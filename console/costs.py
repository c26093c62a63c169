"""The VM size catalog, the quota defaults and the money math of the compute and quota views.

Owns two package data files: `data/vm_sizes.json` (each size's quota family, shape and hourly
list price, with where the prices come from) and `data/quotas.json` (the per-family vCPU limits a
new pay-as-you-go subscription starts with: the local workspace's defaults). Quota checks follow
Azure ML: vCPUs per VM family per region, and an online deployment reserves 20 % extra instances
for upgrades. Pure: stdlib, `console.domain` and `console.errors` only.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from functools import cache
from importlib.resources import files
from typing import Any

from console.domain import Compute, VmSize
from console.errors import InvalidField, QuotaExceeded

# Azure ML reserves ceil(1.2 x instances) for managed online deployments, except on the sizes its
# SKU list marks "Skip 20% Reservation" (see online_reserve).
ONLINE_RESERVE = 1.2
# The states in which a compute instance's VM is billed; a cluster bills its current nodes.
BILLED_INSTANCE_STATES = frozenset({"Running", "JobRunning", "Starting", "Stopping"})
# The states in which an online deployment's instances are billed: from the moment they are
# allocated, whether or not they take traffic.
BILLED_DEPLOYMENT_STATES = frozenset({"Creating", "Updating", "Succeeded"})
# The Azure pricing calculator's month.
HOURS_PER_MONTH = 730
# How Azure ML names the regional total in its usages, and the override key for it in config.json.
REGIONAL_TOTAL = "Total Cluster Dedicated Regional vCPUs"
REGIONAL_KEY = "total_regional_vcpus"


def _load(name: str) -> dict[str, Any]:
    return json.loads(files("console").joinpath(f"data/{name}").read_text(encoding="utf-8"))


@cache
def _catalog() -> tuple[dict[str, VmSize], dict[str, VmSize], frozenset[str], dict[str, Any]]:
    data = _load("vm_sizes.json")
    by_name = {
        row["name"]: VmSize.from_dict({"price_date": data.get("price_date"), **row}) for row in data["sizes"]
    }
    lower = {name.lower(): s for name, s in by_name.items()}
    exempt = frozenset(row["name"] for row in data["sizes"] if row.get("skip_upgrade_reserve"))
    meta = {k: v for k, v in data.items() if k != "sizes"}
    return by_name, lower, exempt, meta


@cache
def _quotas() -> dict[str, Any]:
    return _load("quotas.json")


def catalog() -> dict[str, VmSize]:
    """Every known size by its exact name (a fresh dict: callers may filter it freely)."""
    return dict(_catalog()[0])


def catalog_info() -> dict[str, Any]:
    """The catalog's provenance: region, price_source, price_date and notes."""
    return dict(_catalog()[3])


def size(name: str) -> VmSize | None:
    """The size called `name`, any case (Azure accepts STANDARD_DS3_V2 as well as Standard_DS3_v2)."""
    return _catalog()[1].get(name.strip().lower()) if isinstance(name, str) else None


_EXAMPLE = "Standard_DS3_v2, Standard_D4s_v3, Standard_NC6s_v3"


def _require(name: str, field: str = "size") -> VmSize:
    found = size(name)
    if found is None:
        import difflib  # only for a suggestion on a typo
        near = difflib.get_close_matches(str(name), list(_catalog()[0]), n=1, cutoff=0.6)
        hint = f"; did you mean {near[0]}?" if near else f" (known sizes include {_EXAMPLE})"
        raise InvalidField(field, f"unknown VM size '{name}'{hint}")
    return found


# --- quota families ---------------------------------------------------------------------------

_NOISE = re.compile(r"[^a-z0-9]")
_SUFFIX = re.compile(r"(clusterdedicated)?vcpus$")


def family_key(name: str) -> str:
    """A spelling-proof key for a quota family.

    Azure spells one family several ways across its APIs ("standardNCASv3_T4Family",
    "Standard NCASv3_T4 Family", "Standard NCASv3_T4 Family Cluster Dedicated vCPUs"), so joins
    between usages, quotas and the catalog go through this key. Low-priority names keep their
    "lowpriority" and so never collide with the dedicated family.
    """
    return _SUFFIX.sub("", _NOISE.sub("", name.lower()))


def _get(mapping: Mapping[str, int], family: str) -> int | None:
    if family in mapping:
        return mapping[family]
    key = family_key(family)
    return next((v for k, v in mapping.items() if family_key(k) == key), None)


def family_of(size_name: str) -> str | None:
    found = size(size_name)
    return found.family if found else None


def default_quotas() -> dict[str, int]:
    """Family -> dedicated vCPU limit of a new pay-as-you-go subscription (GPU families at 0)."""
    return dict(_quotas()["families"])


def regional_limit(overrides: Mapping[str, int] | None = None) -> int:
    """The regional total of dedicated vCPUs, with a `total_regional_vcpus` override applied."""
    if overrides and REGIONAL_KEY in overrides:
        return _vcpus(f"quotas.{REGIONAL_KEY}", overrides[REGIONAL_KEY])
    return int(_quotas()[REGIONAL_KEY])


def _vcpus(field: str, value: Any) -> int:
    # bool is an int in Python; `true` in config.json is a mistake, not one vCPU.
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidField(field, f"must be a whole number of vCPUs, 0 or more (got {value!r})")
    return value


def quota_limits(overrides: Mapping[str, int] | None = None) -> dict[str, int]:
    """The default family limits with `overrides` applied.

    An override written in another of Azure's spellings replaces the catalog's entry rather than
    adding a twin; a family the catalog lacks is kept as given. `total_regional_vcpus` is not a
    family: read it with regional_limit().
    """
    limits = default_quotas()
    canonical = {family_key(f): f for f in limits}
    for family, value in (overrides or {}).items():
        if family == REGIONAL_KEY:
            continue
        limits[canonical.get(family_key(family), family)] = _vcpus(f"quotas.{family}", value)
    return limits


def how_to_raise(family: str, config_file: str | None = None) -> str:
    """Where to raise `family`'s limit: the local workspace's config file, named by its full path
    when there is one, else Azure's quota request."""
    key = REGIONAL_KEY if family == REGIONAL_TOTAL else family
    if config_file:
        return (f"Raise it: set \"quotas\": {{\"{key}\": N}} in {config_file} (read on the next check; "
                "Azure's own default is what the file leaves out).")
    return (f"Raise it: request more quota for {family} in the Azure portal (Quotas > Machine learning, "
            "your subscription and region); it takes effect when the request is granted.")


def online_reserve(size_name: str) -> float:
    """The reserve factor an online deployment of this size needs: 1.2, or 1.0 where Azure skips it."""
    return 1.0 if _require(size_name).name in _catalog()[2] else ONLINE_RESERVE


def vcpus_needed(size_name: str, nodes: int = 1, reserve: float = 1.0) -> int:
    """vCPUs of quota `nodes` instances take: ceil(reserve x nodes) instances x vCPUs each.

    Azure rounds up instances, not vCPUs: one DS3_v2 online instance holds quota for two (8 vCPUs),
    ten hold twelve (48). The factor goes through its decimal string so 1.2 x 10 is exactly 12.
    """
    found = _require(size_name)
    if isinstance(nodes, bool) or not isinstance(nodes, int) or nodes < 0:
        raise InvalidField("nodes", f"must be a whole number, 0 or more (got {nodes!r})")
    if not reserve >= 1:
        raise InvalidField("reserve", f"must be 1.0 or more (got {reserve!r})")
    from fractions import Fraction
    return math.ceil(Fraction(str(reserve)) * nodes) * found.vcpus


def check_quota(
    size_name: str,
    nodes: int,
    used_by_family: Mapping[str, int],
    limits: Mapping[str, int],
    reserve: float = 1.0,
    *,
    total_used: int | None = None,
    total_limit: int | None = None,
    advice: Callable[[str], str] | None = None,
) -> int:
    """Raise QuotaExceeded unless `nodes` more of `size_name` fit; return the vCPUs they take.

    Checked against the size's family limit (a family missing from `limits` has 0, as a new
    subscription's specialized families do) and, when `total_limit` is given, against the regional
    total; `total_used` defaults to the sum of `used_by_family`, so pass dedicated usage only.
    `advice(family)` says how to make room (by default, Azure's quota request).
    """
    found = _require(size_name)
    need = vcpus_needed(found.name, nodes, reserve)
    if need == 0:
        return 0
    advise = advice or how_to_raise
    used, limit = _get(used_by_family, found.family) or 0, _get(limits, found.family) or 0
    if used + need > limit:
        raise QuotaExceeded(found.family, need, used, limit, advise(found.family))
    if total_limit is not None:
        total = sum(used_by_family.values()) if total_used is None else total_used
        if total + need > total_limit:
            raise QuotaExceeded(REGIONAL_TOTAL, need, total, total_limit, advise(REGIONAL_TOTAL))
    return need


# --- money --------------------------------------------------------------------------------------

def hourly_cost(size_name: str, nodes: int = 1) -> float | None:
    """List price per hour of `nodes` instances; None for a size or price the catalog lacks."""
    found = size(size_name)
    if found is None or found.price_per_hour is None:
        return None
    if nodes < 0:
        raise InvalidField("nodes", f"must be 0 or more (got {nodes!r})")
    return found.price_per_hour * nodes


def monthly_cost(size_name: str, nodes: int = 1) -> float | None:
    """What leaving `nodes` running costs over a 730-hour month, the pricing calculator's month."""
    hourly = hourly_cost(size_name, nodes)
    return None if hourly is None else hourly * HOURS_PER_MONTH


def idle_cost(size_name: str, idle_seconds: float, nodes: int = 1) -> float | None:
    """Money spent on `idle_seconds` of running but idle time (Azure bills running VMs per second)."""
    hourly = hourly_cost(size_name, nodes)
    # A negative span is clock skew between the backend and this machine, not a refund.
    return None if hourly is None else hourly * max(idle_seconds, 0.0) / 3600


def compute_idle_cost(compute: Compute, now: datetime) -> float | None:
    """What a running compute has cost since its last activity; None when it is not running idle.

    An instance is one node; a cluster counts the nodes it holds right now (a cluster that does not
    scale to zero keeps paying for min_instances).
    """
    minutes = compute.idle_minutes(now)
    if minutes is None:
        return None
    nodes = 1 if compute.is_instance else compute.current_nodes
    return idle_cost(compute.size, minutes * 60, nodes)
