"""The VM size catalog, the quota defaults and the money math of the compute and quota views.

Owns two package data files: `data/vm_sizes.json` (each size's quota family, shape and hourly
list price, with where the prices come from) and `data/quotas.json` (the per-family vCPU limits a
new pay-as-you-go subscription starts with: the local workspace's defaults). Quota checks follow
Azure ML: vCPUs per VM family per region, and an online deployment reserves 20 % extra instances
for upgrades. The one place that says what a compute bills, how long it has sat idle and what
the whole bill is: the CLI, the console, the local daemon and the Azure conversion all ask here.
Pure: stdlib, `console.domain` and `console.errors` only.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cache
from importlib.resources import files
from typing import Any

from console.domain import Compute, ComputeCost, Endpoint, VmSize
from console.errors import InvalidField, QuotaExceeded

# Azure ML reserves ceil(1.2 x instances) for managed online deployments, except on the sizes its
# SKU list marks "Skip 20% Reservation" (see online_reserve).
ONLINE_RESERVE = 1.2
# A compute instance's VM bills from allocation to deallocation: while it starts, runs (a job or
# none), restarts, runs its setup scripts and shuts down...
BILLED_INSTANCE_STATES = frozenset({"Running", "JobRunning", "Starting", "Stopping", "Restarting", "SettingUp",
                                    "UserSettingUp"})
# ...and not once it is stopped (deallocated: its disk bills on, which the VM's price leaves out).
# Its other states (Creating, Deleting, Resizing, a failed create or setup, Unusable, Unknown) do
# not say whether a VM is held: its price is unknown, not zero. A cluster's state is its
# allocation state (Steady, or Resizing while nodes are added or removed), which says nothing of
# the bill: its current nodes bill, in either.
UNBILLED_INSTANCE_STATES = frozenset({"Stopped"})
# Running with no job (JobRunning is busy): what idle shutdown and "stop idle instances" act on.
IDLE_INSTANCE_STATE = "Running"
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


def known_sum(values: Iterable[float | None]) -> float | None:
    """The sum of the known values; None when none is known (not 0: nothing says it is free)."""
    known = [v for v in values if v is not None]
    return sum(known) if known else None


# --- what a compute bills, and its idle time ----------------------------------------------------

def instance_billed(state: str) -> bool | None:
    """Whether a compute instance in `state` is paying for its VM; None when the state does not say."""
    if state in BILLED_INSTANCE_STATES:
        return True
    return False if state in UNBILLED_INSTANCE_STATES else None


def billed_nodes(compute: Compute) -> int | None:
    """Nodes being paid for now: a cluster's current nodes, an instance's one VM while it is billed
    (0 once stopped); None when the instance's state does not say."""
    if not compute.is_instance:
        return compute.current_nodes
    billed = instance_billed(compute.state)
    return None if billed is None else int(billed)


def cost_per_hour(compute: Compute) -> float | None:
    """What `compute` costs per hour right now: 0 when nothing of it bills, None when that is not
    known (its state does not say, or its size has no price)."""
    nodes = billed_nodes(compute)
    if nodes is None:
        return None
    return 0.0 if nodes == 0 else hourly_cost(compute.size, nodes)


def is_idle(compute: Compute) -> bool:
    """An instance running with no job on it (a cluster's idle nodes scale down on their own)."""
    return compute.is_instance and compute.state == IDLE_INSTANCE_STATE


def idle_minutes(compute: Compute, now: datetime) -> float | None:
    """Minutes an idle instance has gone without activity; None for clusters, busy or stopped
    instances and an instance with no recorded activity. A naive time is UTC."""
    if not is_idle(compute) or compute.last_activity is None:
        return None
    last = compute.last_activity
    last = last if last.tzinfo is not None else last.replace(tzinfo=timezone.utc)
    now = now if now.tzinfo is not None else now.replace(tzinfo=timezone.utc)
    return max((now - last).total_seconds() / 60, 0.0)  # negative: clock skew, not the future


@dataclass(frozen=True)
class Bill:
    """What runs up the bill now and what it cost today, compute beside the online deployments,
    whose instances bill around the clock whether they serve or not. A part that was not read is
    None (unknown, not nothing); what bills without a known price is counted in `unpriced`, never
    guessed into a total."""

    compute_hour: float
    compute_today: float | None  # None: today's compute costs were not read
    idle_today: float | None
    deployments_hour: float | None  # None: the endpoints were not read
    deployments_today: float | None
    unpriced: int  # what may bill at a price not known (no price, or a state that does not say): not counted

    @property
    def hour(self) -> float:
        return self.compute_hour + (self.deployments_hour or 0.0)

    @property
    def today(self) -> float | None:
        return known_sum((self.compute_today, self.deployments_today))

    @classmethod
    def of(cls, computes: Iterable[Compute], costs_today: Mapping[str, ComputeCost] | None,
           endpoints: Iterable[Endpoint] | None):
        """The bill of `computes`, what they cost today by name (None: not read) and `endpoints`
        (None: not read)."""
        hourly = [cost_per_hour(c) for c in computes]
        deployments = [d for e in endpoints or () for d in e.deployments]
        priced = [d.cost_per_hour for d in deployments if d.cost_per_hour is not None]
        rows = None if costs_today is None else costs_today.values()
        return cls(
            compute_hour=sum(h for h in hourly if h is not None),
            compute_today=None if rows is None else sum(r.cost for r in rows),
            idle_today=None if rows is None else sum(r.idle_cost for r in rows),
            deployments_hour=None if endpoints is None else sum(priced),
            deployments_today=None if endpoints is None else
            known_sum(d.cost_today for d in deployments) if deployments else 0.0,
            unpriced=hourly.count(None) + len(deployments) - len(priced),
        )
