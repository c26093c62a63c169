"""Canary analysis and capacity, as pure logic: what a rollout decides from the numbers.

`analyse` turns one window of the candidate's requests (and the stable's, for a p99 relative to
it) into a verdict, pass, fail or inconclusive, with every check's value, threshold and reason:
what a person reads in `rollout status` and the audit log. Fewer requests than the plan's
minimum is inconclusive, never a pass and never a failure. `capacity` is Little's law against
Azure's 429 rule: the requests a share brings into flight (requests/s x share x p99) against
what the deployment admits (instances x max_concurrent_requests_per_instance x 2).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from console.rollout_plan import Checks

PASS, FAIL, INCONCLUSIVE = "pass", "fail", "inconclusive"
# Azure's 429 rule: a deployment admits 2 x max_concurrent_requests_per_instance per instance.
ADMITTED_PER_CONCURRENT = 2


def failed(status: int) -> bool:
    """Whether a response counts against the success rate: timeouts (408), model errors (424),
    throttling (429) and every 5xx. A 4xx the client caused (400, 401, 404, 413) does not."""
    return status in (408, 424, 429) or 500 <= status <= 599


@dataclass(frozen=True)
class Window:
    """One deployment's requests over an analysis window."""

    requests: int
    failed: int
    p99_ms: float | None
    seconds: float

    @property
    def success_rate(self) -> float | None:
        return None if not self.requests else 1 - self.failed / self.requests

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class Check:
    name: str  # "success_rate" or "p99_ms"
    value: float | None
    threshold: float | None
    verdict: str
    reason: str


@dataclass(frozen=True)
class Analysis:
    verdict: str
    reason: str
    checks: tuple[Check, ...]
    requests: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def analyse(checks: Checks, candidate: Window, stable: Window | None = None) -> Analysis:
    """The verdict on one window: fail if any check failed, else inconclusive if any could not
    be decided, else pass."""
    if candidate.requests < checks.min_requests:
        why = (f"{candidate.requests} requests in {candidate.seconds:g}s, fewer than the "
               f"{checks.min_requests} the checks need")
        results = (Check("success_rate", candidate.success_rate, checks.success_rate, INCONCLUSIVE, why),
                   Check("p99_ms", candidate.p99_ms, checks.p99_ms, INCONCLUSIVE, why))
        return Analysis(INCONCLUSIVE, why, results, candidate.requests)
    results = (_success(checks, candidate), _p99(checks, candidate, stable))
    failing = [c for c in results if c.verdict == FAIL]
    undecided = [c for c in results if c.verdict == INCONCLUSIVE]
    verdict = FAIL if failing else INCONCLUSIVE if undecided else PASS
    reason = "; ".join(c.reason for c in (failing or undecided or results))
    return Analysis(verdict, reason, results, candidate.requests)


def _success(checks: Checks, window: Window) -> Check:
    rate = window.success_rate
    assert rate is not None  # the window has requests: analyse checked the minimum (at least 0)
    ok = rate >= checks.success_rate
    return Check("success_rate", rate, checks.success_rate, PASS if ok else FAIL,
                 f"success {rate:.2%} {'>=' if ok else '<'} {checks.success_rate:.2%} "
                 f"({window.failed} of {window.requests} failed)")


def _p99(checks: Checks, window: Window, stable: Window | None) -> Check:
    threshold = checks.p99_ms
    what = f"{threshold:g} ms" if threshold is not None else ""
    if checks.p99_vs_stable is not None:
        if stable is None or stable.p99_ms is None or stable.requests < checks.min_requests:
            return Check("p99_ms", window.p99_ms, None, INCONCLUSIVE,
                         f"the stable's p99 is not measured (needs {checks.min_requests} requests in the window)")
        threshold = stable.p99_ms * checks.p99_vs_stable
        what = f"{checks.p99_vs_stable:g}x the stable's {stable.p99_ms:.0f} ms = {threshold:.0f} ms"
    if window.p99_ms is None or threshold is None:
        return Check("p99_ms", window.p99_ms, threshold, INCONCLUSIVE, "the candidate's p99 is not measured")
    ok = window.p99_ms <= threshold
    return Check("p99_ms", window.p99_ms, threshold, PASS if ok else FAIL,
                 f"p99 {window.p99_ms:.0f} ms {'<=' if ok else '>'} {what}")


@dataclass(frozen=True)
class Capacity:
    fits: bool | None  # None: no traffic measured to judge by
    admitted: int  # requests the deployment takes in flight before it answers 429
    in_flight: float | None  # what the share brings, by Little's law
    reason: str


def capacity(deployment: str, share: int, instances: int, max_concurrent: int, rps: float | None,
             p99_ms: float | None) -> Capacity:
    """Whether `deployment` can carry `share` % of the endpoint's `rps` at a latency of `p99_ms`."""
    admitted = instances * max_concurrent * ADMITTED_PER_CONCURRENT
    limit = (f"{instances} instance{'s' if instances != 1 else ''} x {max_concurrent} concurrent "
             f"x {ADMITTED_PER_CONCURRENT} = {admitted} in flight")
    if not rps or p99_ms is None:
        return Capacity(None, admitted, None, f"{deployment} admits {limit}; no traffic measured to size {share} % by")
    in_flight = rps * share / 100 * p99_ms / 1000
    fits = in_flight <= admitted
    return Capacity(fits, admitted, in_flight,
                    f"{deployment} at {share} %: {rps:.1f} req/s x {share} % x {p99_ms:.0f} ms p99 = "
                    f"{in_flight:.1f} in flight, {'within' if fits else 'more than'} {limit}"
                    + ("" if fits else f": add instances to {deployment} before this step"))


def capacity_of_split(deployments: Iterable[Any], metrics: Iterable[Any], split: Mapping[str, int],
                      before: Mapping[str, int] | None = None) -> dict[str, Capacity]:
    """The capacity check of each deployment that `split` gives more live traffic than `before`
    (all of them without `before`), from the endpoint's records (`Deployment`) and its live
    figures (`DeploymentMetrics`): the endpoint's whole rate, and the deployment's p99, else the
    slowest one measured. The rollout controller and the traffic sliders use this one rule."""
    figures = {m.deployment: m for m in metrics}
    rps = sum(m.rps for m in figures.values()) or None
    measured = [m.p99_ms for m in figures.values() if m.p99_ms is not None]
    found = {}
    for d in deployments:
        share = split.get(d.name, 0)
        if not share or (before is not None and share <= before.get(d.name, 0)):
            continue
        own = figures.get(d.name)
        p99 = own.p99_ms if own is not None and own.p99_ms is not None else (max(measured) if measured else None)
        found[d.name] = capacity(d.name, share, d.instance_count, d.max_concurrent_requests_per_instance, rps, p99)
    return found
