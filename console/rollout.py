"""Blue/green rules and plans, as pure logic shared by every backend and the UI.

Azure's traffic rules: integer percentages per deployment summing to 0 or 100; mirror traffic to
at most one deployment, at most 50 %, and only to a deployment with 0 live traffic; a deployment
with traffic cannot be deleted; at most 20 deployments an endpoint. `check_*` raise
`TrafficRuleError` naming the broken rule, before anything changes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from console.errors import TrafficRuleError

MAX_DEPLOYMENTS = 20
MAX_MIRROR = 50


def parse_split(pairs: Iterable[str]) -> dict[str, int]:
    """`["blue=90", "green=10"]` to `{"blue": 90, "green": 10}`; rejects non-integers."""
    split: dict[str, int] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise TrafficRuleError(f"expected DEPLOYMENT=PERCENT, got {pair!r}")
        split[name] = _percent(name, value)
    return split


def _percent(name: str, value: object) -> int:
    if isinstance(value, bool):
        raise TrafficRuleError(f"{name}: traffic must be an integer percentage, got {value!r}")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.strip().lstrip("-").isdigit():
        number = int(value)
    else:
        raise TrafficRuleError(f"{name}: traffic must be an integer percentage, got {value!r}")
    if not 0 <= number <= 100:
        raise TrafficRuleError(f"{name}: traffic must be between 0 and 100, got {number}")
    return number


def check_traffic(split: Mapping[str, object], deployments: Iterable[str],
                  mirror: Mapping[str, int] | None = None) -> dict[str, int]:
    """The full live split (unnamed deployments at 0) if it obeys Azure's rules."""
    known = list(deployments)
    clean = {name: _percent(name, value) for name, value in split.items()}
    unknown = sorted(set(clean) - set(known))
    if unknown:
        raise TrafficRuleError(f"no deployment named {', '.join(unknown)} (deployments: {', '.join(known) or 'none'})")
    total = sum(clean.values())
    if total not in (0, 100):
        raise TrafficRuleError(f"traffic must sum to 0 or 100, got {total}")
    full = {name: clean.get(name, 0) for name in known}
    for name, share in (mirror or {}).items():
        if share and full.get(name, 0) > 0:
            raise TrafficRuleError(f"{name} receives mirror traffic, so it cannot take live traffic; "
                                   "turn mirroring off first")
    return full


def check_mirror(mirror: Mapping[str, object], live: Mapping[str, int], deployments: Iterable[str]) -> dict[str, int]:
    """The mirror split if it obeys Azure's rules; `{}` (or all zeros) turns mirroring off."""
    known = set(deployments)
    clean = {name: _percent(name, value) for name, value in mirror.items()}
    clean = {name: share for name, share in clean.items() if share}
    unknown = sorted(set(clean) - known)
    if unknown:
        raise TrafficRuleError(f"no deployment named {', '.join(unknown)}")
    if len(clean) > 1:
        raise TrafficRuleError("mirror traffic goes to one deployment at most")
    for name, share in clean.items():
        if share > MAX_MIRROR:
            raise TrafficRuleError(f"mirror traffic is at most {MAX_MIRROR} %, got {share} for {name}")
        if live.get(name, 0) > 0:
            raise TrafficRuleError(f"{name} has {live[name]} % live traffic; only a deployment with 0 % "
                                   "live traffic can receive mirror traffic")
    return clean


def check_unchanged(endpoint: str, live: Mapping[str, int], expected: Mapping[str, object] | None) -> None:
    """A write made from a read refuses to replace a split that changed since the read: two
    operators moving the same sliders do not overwrite each other in silence. `expected` is the
    live split the writer read (None: the writer read nothing, as a one-shot CLI command)."""
    if expected is None:
        return
    if {k: v for k, v in live.items() if v} != {k: _percent(k, v) for k, v in expected.items() if _percent(k, v)}:
        raise TrafficRuleError(f"the traffic of '{endpoint}' changed since it was read: it is now {describe(live)}, "
                               f"not {describe(expected)}; nothing was changed: read it again and retry")


def describe(split: Mapping[str, object]) -> str:
    """`blue=90 green=10`, as the CLI takes it."""
    return " ".join(f"{k}={int(v)}" for k, v in sorted(split.items())) or "no traffic"  # type: ignore[call-overload]


def split_detail(before: Mapping[str, Any], after: Mapping[str, Any]) -> str:
    """A traffic write's audit DETAIL on every backend, from its `{"traffic", "mirror"}` before
    and after: `live blue=50 green=50 → blue=100 green=0`, then the mirror's when it changes
    (`mirror green=10 → off`)."""
    def full(split: Mapping[str, Any], names: list[str]) -> dict[str, int]:
        return {n: int(split.get(n, 0)) for n in names}

    def mirror(split: Mapping[str, Any]) -> str:
        return describe({k: v for k, v in split.items() if int(v)}) if any(map(int, split.values())) else "off"

    names = list(dict.fromkeys([*before.get("traffic", {}), *after.get("traffic", {})]))
    said = f"live {describe(full(before.get('traffic', {}), names))} → {describe(full(after.get('traffic', {}), names))}"
    if mirror(before.get("mirror") or {}) != mirror(after.get("mirror") or {}):
        said += f"; mirror {mirror(before.get('mirror') or {})} → {mirror(after.get('mirror') or {})}"
    return said


def check_delete(name: str, live: Mapping[str, int], mirror: Mapping[str, int]) -> None:
    if live.get(name, 0) > 0:
        raise TrafficRuleError(f"{name} has {live[name]} % live traffic; move its traffic before deleting it")
    if mirror.get(name, 0) > 0:
        raise TrafficRuleError(f"{name} receives {mirror[name]} % mirror traffic; turn mirroring off first")


def check_new_deployment(name: str, existing: Iterable[str]) -> None:
    existing = list(existing)
    if name not in existing and len(existing) >= MAX_DEPLOYMENTS:
        raise TrafficRuleError(f"an endpoint holds at most {MAX_DEPLOYMENTS} deployments")


def record_full(history: list[str], split: Mapping[str, int]) -> list[str]:
    """The history of deployments that held 100 %, with the one `split` gives 100 % appended."""
    full = next((name for name, share in split.items() if share == 100), None)
    if full is None or (history and history[-1] == full):
        return list(history)
    return [*history, full][-10:]


def rollback_split(deployments: Iterable[str], history: list[str], live: Mapping[str, int]) -> dict[str, int]:
    """All live traffic back to the stable deployment: the last one that held 100 % before the
    current rollout began (if the new one already holds 100 %, the one before it)."""
    known = list(deployments)
    candidates = [name for name in history if name in known]
    if candidates and live.get(candidates[-1], 0) == 100:
        candidates = candidates[:-1]  # the rollout finished: go back to what it replaced
    if not candidates:
        raise TrafficRuleError("nothing to roll back to: no other deployment of this endpoint has had 100 % traffic")
    target = candidates[-1]
    return {name: 100 if name == target else 0 for name in known}
