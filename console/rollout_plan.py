"""A rollout plan: the project's own small YAML schema under `specs/rollouts/`, read into a
frozen `Plan` with one clear problem per bad field (file, line, field), as pure logic.

    type: rollout                  # what makes the file a rollout plan
    endpoint: churn-ep
    stable: blue                   # stays at full size; rollback lands here
    candidate: green
    mirror: {percent: 20, duration: 2m}       # optional, before the first live step
    steps: [10, 25, 50, 100]       # or mappings: {weight, hold, on_failure, approve}
    hold: 2m                       # each step's, unless the step says otherwise
    on_failure: rollback           # or pause; each step's, unless the step says otherwise
    approve_promotion: false       # a person approves before the candidate takes 100 %
    analysis:
      interval: 30s                # one analysis per interval
      failure_threshold: 3         # failed analyses in a row before on_failure
      min_requests: 50             # fewer in a window: the check is inconclusive
      inconclusive_timeout: 10m    # inconclusive that long: pause for a person
      success_rate: 99%            # 408, 424, 429 and 5xx count as failures
      p99: 500ms                   # or "1.5x": a multiple of the stable's p99

Durations are seconds, or a number with s, m or h ("90s", "2m", "1h"). What the controller does
with a plan, and the analysis of a window, live beside it (console/canary.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from console import naming
from console.errors import InvalidField, SpecError
from console.rollout import MAX_MIRROR

KIND = "rollout"
DEFAULT_STEPS = (10, 25, 50, 100)
ON_FAILURE = ("rollback", "pause")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}
_TOP = {"type", "name", "description", "endpoint", "stable", "candidate", "mirror", "steps", "hold",
        "on_failure", "approve_promotion", "analysis"}
_STEP = {"weight", "hold", "on_failure", "approve"}
_ANALYSIS = {"interval", "failure_threshold", "min_requests", "inconclusive_timeout", "success_rate", "p99"}


@dataclass(frozen=True)
class Step:
    weight: int  # the candidate's live share, %
    hold_s: float  # how long the step holds, analysed every interval, before the next
    on_failure: str  # "rollback" or "pause"
    approve: bool = False  # a person approves before this step is applied


@dataclass(frozen=True)
class Mirror:
    percent: int
    duration_s: float


@dataclass(frozen=True)
class Checks:
    """What an analysis checks, over one interval's window of the candidate's requests."""

    success_rate: float = 0.99  # at least; 408, 424, 429 and 5xx are failures
    p99_ms: float | None = 500.0  # at most (absolute), or
    p99_vs_stable: float | None = None  # at most this multiple of the stable's p99
    min_requests: int = 50  # fewer in the window: inconclusive, never pass or fail


@dataclass(frozen=True)
class Plan:
    name: str
    endpoint: str
    stable: str
    candidate: str
    steps: tuple[Step, ...]
    interval_s: float = 30.0
    failure_threshold: int = 3
    inconclusive_timeout_s: float = 600.0
    checks: Checks = field(default_factory=Checks)
    mirror: Mirror | None = None
    approve_promotion: bool = False
    path: str | None = None


@dataclass(frozen=True)
class Problem:
    field: str
    message: str


def parse_duration(value: Any) -> float:
    """Seconds from `30`, `"90s"`, `"2m"`, `"1h"`, `"250ms"`; ValueError for anything else."""
    if isinstance(value, bool):
        raise ValueError(f"expected a duration such as 30s, 2m or 1h, got {value!r}")
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValueError(f"expected a duration such as 30s, 2m or 1h, got {value!r}")
        seconds = float(match.group(1)) * _UNIT_S[match.group(2)]
    if seconds <= 0:
        raise ValueError(f"a duration must be above 0, got {value!r}")
    return seconds


def is_plan(data: Any) -> bool:
    return isinstance(data, Mapping) and str(data.get("type", "")).strip().lower() == KIND


def problems(data: Mapping[str, Any], name: str = "rollout") -> tuple[Plan | None, list[Problem]]:
    """The plan `data` describes, or None, with every problem found (one per bad field)."""
    found: list[Problem] = []
    reader = _Reader(data, found)
    plan = reader.plan(name)
    return (plan if not found else None), found


def load(doc: Any) -> Plan:
    """A `specs.Document` as a Plan; SpecError (file, line, field) for its first problem."""
    from pathlib import Path

    plan, found = problems(doc.data, Path(doc.path).stem)
    if found:
        first = found[0]
        raise SpecError(doc.path, doc.line_of(first.field), first.field, first.message)
    assert plan is not None
    return Plan(**{**plan.__dict__, "path": doc.path})


class _Reader:
    """Reads each field once, noting a problem instead of raising, so one pass says them all."""

    def __init__(self, data: Mapping[str, Any], found: list[Problem]) -> None:
        self.data = data
        self.found = found

    def bad(self, where: str, message: str) -> None:
        self.found.append(Problem(where, message))

    def unknown(self, node: Mapping[str, Any], allowed: set[str], prefix: str) -> None:
        for key in node:
            if key not in allowed:
                self.bad(f"{prefix}{key}", f"unknown field (expected one of {', '.join(sorted(allowed))})")

    def plan(self, default_name: str) -> Plan | None:
        data = self.data
        self.unknown(data, _TOP, "")
        endpoint = self.name("endpoint")
        stable, candidate = self.name("stable"), self.name("candidate")
        if stable and candidate and stable == candidate:
            self.bad("candidate", f"the candidate must differ from the stable deployment ({stable})")
        hold = self.duration(data, "hold", "hold", 120.0)
        on_failure = self.choice(data, "on_failure", "on_failure", ON_FAILURE, "rollback")
        steps = tuple(self.steps(hold, on_failure))
        analysis = data.get("analysis", {})
        if not isinstance(analysis, Mapping):
            self.bad("analysis", "expected a mapping of interval, failure_threshold, min_requests, "
                                 "inconclusive_timeout, success_rate, p99")
            analysis = {}
        self.unknown(analysis, _ANALYSIS, "analysis.")
        interval = self.duration(analysis, "interval", "analysis.interval", 30.0)
        threshold = self.integer(analysis, "failure_threshold", "analysis.failure_threshold", 3, least=1)
        minimum = self.integer(analysis, "min_requests", "analysis.min_requests", 50, least=0)
        timeout = self.duration(analysis, "inconclusive_timeout", "analysis.inconclusive_timeout", 600.0)
        if timeout < interval:
            self.bad("analysis.inconclusive_timeout",
                     f"{_s(timeout)} is shorter than the analysis interval ({_s(interval)}): no analysis could end it")
        rate = self.rate(analysis)
        p99_ms, p99_vs = self.p99(analysis)
        for i, step in enumerate(steps):
            if step.hold_s < interval:
                self.bad(f"steps.{i}.hold" if "hold" in self.step_keys(i) else "hold",
                         f"step {step.weight} % holds {_s(step.hold_s)}, shorter than the analysis interval "
                         f"({_s(interval)}): it would never be analysed")
        mirror = self.mirror()
        approve = data.get("approve_promotion", False)
        if not isinstance(approve, bool):
            self.bad("approve_promotion", f"expected true or false, got {approve!r}")
        name = data.get("name", default_name)
        if self.found:
            return None
        return Plan(str(name), endpoint, stable, candidate, steps, interval, threshold, timeout,
                    Checks(rate, p99_ms, p99_vs, minimum), mirror, bool(approve))

    def name(self, key: str) -> str:
        value = self.data.get(key)
        if value is None:
            self.bad(key, "required")
            return ""
        try:
            return naming.check_name("endpoint" if key == "endpoint" else "deployment", value, key)
        except InvalidField as err:
            self.bad(key, err.message)
            return str(value)

    def step_keys(self, i: int) -> set[str]:
        steps = self.data.get("steps")
        step = steps[i] if isinstance(steps, list) and i < len(steps) else None
        return set(step) if isinstance(step, Mapping) else set()

    def steps(self, hold: float, on_failure: str) -> Iterator[Step]:
        raw = self.data.get("steps", list(DEFAULT_STEPS))
        if not isinstance(raw, list) or not raw:
            self.bad("steps", "expected a list of weights (10, 25, 50, 100) or of {weight, hold, on_failure, approve}")
            return
        last = 0
        for i, item in enumerate(raw):
            where = f"steps.{i}"
            node = item if isinstance(item, Mapping) else {"weight": item}
            if isinstance(item, Mapping):
                self.unknown(item, _STEP, f"{where}.")
            weight = node.get("weight")
            if isinstance(weight, bool) or not isinstance(weight, int) or not 1 <= weight <= 100:
                self.bad(f"{where}.weight" if isinstance(item, Mapping) else where,
                         f"a step's weight is an integer percentage from 1 to 100, got {weight!r}")
                continue
            if weight <= last:
                self.bad(f"{where}.weight" if isinstance(item, Mapping) else where,
                         f"weights must increase: {weight} % comes after {last} %")
            last = max(last, weight)
            approve = node.get("approve", False)
            if not isinstance(approve, bool):
                self.bad(f"{where}.approve", f"expected true or false, got {approve!r}")
            yield Step(weight, self.duration(node, "hold", f"{where}.hold", hold),
                       self.choice(node, "on_failure", f"{where}.on_failure", ON_FAILURE, on_failure), bool(approve))
        if last != 100 and last:
            self.bad(f"steps.{len(raw) - 1}", f"the last step must take the candidate to 100 %, not {last} %: "
                                              "a rollout ends promoted or rolled back")

    def mirror(self) -> Mirror | None:
        node = self.data.get("mirror")
        if node is None:
            return None
        if not isinstance(node, Mapping):
            self.bad("mirror", "expected a mapping of percent and duration")
            return None
        self.unknown(node, {"percent", "duration"}, "mirror.")
        percent = node.get("percent")
        if isinstance(percent, bool) or not isinstance(percent, int) or not 1 <= percent <= MAX_MIRROR:
            self.bad("mirror.percent", f"mirror traffic is an integer from 1 to {MAX_MIRROR} % (Azure's limit), "
                                       f"got {percent!r}")
            percent = 0
        if "duration" not in node:
            self.bad("mirror.duration", "required: how long the candidate is mirrored before its first live step")
        return Mirror(percent, self.duration(node, "duration", "mirror.duration", 0.0))

    def duration(self, node: Mapping[str, Any], key: str, where: str, default: float) -> float:
        if key not in node:
            return default
        try:
            return parse_duration(node[key])
        except ValueError as err:
            self.bad(where, str(err))
            return default

    def integer(self, node: Mapping[str, Any], key: str, where: str, default: int, least: int) -> int:
        value = node.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            self.bad(where, f"expected a whole number of at least {least}, got {value!r}")
            return default
        return value

    def choice(self, node: Mapping[str, Any], key: str, where: str, options: tuple[str, ...], default: str) -> str:
        value = node.get(key, default)
        if value not in options:
            self.bad(where, f"expected {' or '.join(options)}, got {value!r}")
            return default
        return str(value)

    def rate(self, analysis: Mapping[str, Any]) -> float:
        value = analysis.get("success_rate", 0.99)
        text = str(value).strip()
        try:
            rate = float(text.removesuffix("%")) / 100 if text.endswith("%") else float(text)
        except ValueError:
            rate = -1.0
        if isinstance(value, bool) or not 0 < rate <= 1:
            self.bad("analysis.success_rate", f"expected a share such as 0.99 or 99%, got {value!r}")
            return 0.99
        return rate

    def p99(self, analysis: Mapping[str, Any]) -> tuple[float | None, float | None]:
        value = analysis.get("p99", "500ms")
        text = str(value).strip().lower()
        if text.endswith("x") and not isinstance(value, (int, float)):
            try:
                multiple = float(text[:-1])
            except ValueError:
                multiple = 0.0
            if multiple < 1:
                self.bad("analysis.p99", f"a multiple of the stable's p99 is at least 1x, got {value!r}")
                return 500.0, None
            return None, multiple
        try:  # a bare number is milliseconds; with a unit, as any duration
            bare = isinstance(value, (int, float)) or text.replace(".", "", 1).isdigit()
            ms = parse_duration(value) if bare else parse_duration(value) * 1000
        except ValueError:
            self.bad("analysis.p99", f"expected milliseconds (500 or 500ms) or a multiple of the stable's "
                                     f"p99 (1.5x), got {value!r}")
            return 500.0, None
        return ms, None


def _s(seconds: float) -> str:
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:g}m"
    return f"{seconds:g}s"
