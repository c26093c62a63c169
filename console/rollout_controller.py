"""The rollout controller: drives a plan (console/rollout_plan.py) against any workspace through
the Workspace protocol, one traffic update at a time, and keeps everything it knows in a JSON
file per endpoint, so the process that hosts it (the local daemon, or `amlops rollout run` for
an Azure workspace) can die at any moment and a restart resumes where the file says.

Each `tick` does at most one traffic write, then waits for the endpoint to report the split it
set before it counts the step as applied. Every analysis is recorded with its numbers and
verdict. A split the controller did not set (a person moved the sliders, or rolled back) pauses
the rollout and is recorded; it never writes over a person. The commands people give (pause,
resume, approve, promote, abort, fail) change the same file under the same lock.

Phases: Progressing, Paused, AwaitingApproval; ended: Succeeded, RolledBack, Aborted, Failed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import os
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from console import canary, rollout
from console.errors import BadInput, NotFound
from console.rollout_plan import Checks, Mirror, Plan, Step
from console.workspace import OperationGroup, RolloutOperations

if TYPE_CHECKING:
    from console.domain import Endpoint, Rollout
    from console.workspace import Workspace

PROGRESSING, PAUSED, AWAITING = "Progressing", "Paused", "AwaitingApproval"
SUCCEEDED, ROLLED_BACK, ABORTED, FAILED = "Succeeded", "RolledBack", "Aborted", "Failed"
ENDED = (SUCCEEDED, ROLLED_BACK, ABORTED, FAILED)
MIRROR_STEP = -1  # the step index of the optional mirror step, before the first live one
# Windows every backend reads (the local router keeps 10 s, 60 s and 300 s; Azure Monitor 60 s to
# 30 minutes): an analysis every interval under a minute reads the backend's live window (None:
# the router's last 10 s, Azure's newest complete minute), a longer one the shortest that covers it.
WINDOWS_S = (60, 300)
WRITE_WAIT_S = 120.0  # how long one traffic update may take before the rollout pauses on it
HISTORY_MAX = 500


@dataclass
class State:
    """A rollout as its file holds it."""

    plan: Plan
    phase: str = PROGRESSING
    step: int = 0
    applied: dict[str, dict[str, int]] | None = None  # {"live", "mirror"}: what the rollout last saw itself set
    pending: dict[str, Any] | None = None  # {"want", "since", "operation"}: a write not yet reported by the endpoint
    step_started_at: float | None = None  # None: the step is not applied yet
    last_analysis_at: float | None = None
    last_verdict: str | None = None
    failures: int = 0  # failed analyses in a row
    inconclusive_since: float | None = None
    approved: list[int] = field(default_factory=list)  # steps a person approved (len(steps): promotion)
    promote: bool = False  # a person asked to skip to 100 %
    reason: str = ""
    started_at: float = 0.0
    updated_at: float = 0.0
    history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ended(self) -> bool:
        return self.phase in ENDED

    def note(self, now: float, event: str, detail: str, **extra: Any) -> None:
        self.history.append({"at": now, "event": event, "step": self.step, "detail": detail, **extra})
        del self.history[:-HISTORY_MAX]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> State:
        raw = dict(data["plan"])
        plan = Plan(**{**raw, "steps": tuple(Step(**s) for s in raw["steps"]), "checks": Checks(**raw["checks"]),
                       "mirror": Mirror(**raw["mirror"]) if raw.get("mirror") else None})
        return cls(**{**data, "plan": plan})


class RolloutFile:
    """One endpoint's rollout, on disk: written whole (a temporary file renamed over it), read
    and changed under an exclusive lock, so the host and a person's command never interleave."""

    def __init__(self, folder: Path, endpoint: str) -> None:
        self.path = Path(folder) / f"{endpoint}.json"
        self.lock_path = Path(folder) / f".{endpoint}.lock"

    def exists(self) -> bool:
        return self.path.is_file()

    def read(self) -> State:
        try:
            return State.from_dict(json.loads(self.path.read_text()))
        except FileNotFoundError:
            raise NotFound("rollout", self.path.stem) from None

    def write(self, state: State) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(state.to_dict(), indent=1))
        os.replace(tmp, self.path)

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)


def rollouts(folder: Path) -> list[RolloutFile]:
    return [RolloutFile(folder, p.stem) for p in sorted(Path(folder).glob("*.json"))]


# --- what each step sets -------------------------------------------------------------------------


def target(plan: Plan, step: int) -> dict[str, dict[str, int]]:
    """The split `step` sets: the mirror step mirrors the candidate with the stable at 100; a live
    step gives the candidate its weight, the stable the rest, and mirrors nothing."""
    if step == MIRROR_STEP:
        assert plan.mirror is not None
        return {"live": {plan.stable: 100, plan.candidate: 0}, "mirror": {plan.candidate: plan.mirror.percent}}
    weight = plan.steps[step].weight
    return {"live": {plan.stable: 100 - weight, plan.candidate: weight}, "mirror": {}}


def window_for(plan: Plan) -> int | None:
    """The metrics window an analysis reads: the backend's live one for an interval under a
    minute, else the shortest every backend keeps that covers it."""
    if plan.interval_s < WINDOWS_S[0]:
        return None
    return next((w for w in WINDOWS_S if w >= plan.interval_s), WINDOWS_S[-1])


def _clean(split: Mapping[str, int]) -> dict[str, int]:
    return {k: int(v) for k, v in split.items() if v}


def seen(endpoint: Endpoint) -> dict[str, dict[str, int]]:
    return {"live": _clean(endpoint.traffic.live), "mirror": _clean(endpoint.traffic.mirror)}


def _same(a: Mapping[str, Mapping[str, int]], b: Mapping[str, Mapping[str, int]]) -> bool:
    return _clean(a["live"]) == _clean(b["live"]) and _clean(a["mirror"]) == _clean(b["mirror"])


def _say(split: Mapping[str, Mapping[str, int]]) -> str:
    mirror = _clean(split["mirror"])
    return rollout.describe(_clean(split["live"])) + (f", mirror {rollout.describe(mirror)}" if mirror else "")


def _step_name(plan: Plan, step: int) -> str:
    if step == MIRROR_STEP:
        assert plan.mirror is not None
        return f"mirror {plan.mirror.percent} %"
    return f"step {step + 1} of {len(plan.steps)} ({plan.candidate} {plan.steps[step].weight} %)"


def _hold(plan: Plan, step: int) -> float:
    if step == MIRROR_STEP:
        assert plan.mirror is not None
        return plan.mirror.duration_s
    return plan.steps[step].hold_s


def _on_failure(plan: Plan, step: int) -> str:
    return plan.steps[max(step, 0)].on_failure


# --- the controller ------------------------------------------------------------------------------


class Controller:
    """Drives the rollouts of one workspace. `clock` gives seconds (time.time; tests pass their own)."""

    def __init__(self, ws: Workspace, folder: Path, clock: Callable[[], float] = time.time,
                 audit: Callable[..., None] | None = None) -> None:
        """`audit(operation, target, after=, result=, detail=)`: where each step and analysis the
        controller records goes besides the rollout's own history (the workspace's audit log)."""
        self.ws = ws
        self.folder = Path(folder)
        self.clock = clock
        self.audit = audit

    def _audit_since(self, state: State, seen_before: int) -> None:
        """The history entries added since `seen_before`, to the audit log: every step, traffic
        write, analysis (with its numbers) and decision the controller made on its own."""
        if self.audit is None:
            return
        for entry in state.history[seen_before:]:
            extra = {k: v for k, v in entry.items() if k in ("analysis", "figures")}
            self.audit(f"rollouts.{entry['event'].replace(' ', '_')}", state.plan.endpoint, after=extra or None,
                       result="Failed" if entry["event"] == "failed" else "Succeeded",
                       detail=f"{_step_name(state.plan, entry['step'])}: {entry['detail']}")

    # --- what people ask for -----------------------------------------------------------------

    def start(self, plan: Plan) -> State:
        """Begin `plan` on its endpoint: refused while another rollout of it is under way, or when
        its deployments are missing or the stable does not hold all live traffic."""
        file = RolloutFile(self.folder, plan.endpoint)
        with file.locked():
            if file.exists() and not file.read().ended:
                raise BadInput(f"a rollout of {plan.endpoint} is under way: `amlops rollout status {plan.endpoint}`; "
                               "abort it first")
            endpoint = self.ws.endpoints.get(plan.endpoint)
            names = {d.name for d in endpoint.deployments}
            missing = [n for n in (plan.stable, plan.candidate) if n not in names]
            if missing:
                raise BadInput(f"{plan.endpoint} has no deployment {' or '.join(missing)} "
                               f"(it has {', '.join(sorted(names)) or 'none'}): deploy it first")
            if _clean(endpoint.traffic.live) != {plan.stable: 100}:
                # Rollback lands on the stable: it must be the one carrying everything when the ramp begins.
                raise BadInput(f"{plan.stable} must hold all live traffic to start a rollout; {plan.endpoint} "
                               f"is at {rollout.describe(_clean(endpoint.traffic.live))}")
            now = self.clock()
            state = State(plan, step=MIRROR_STEP if plan.mirror else 0, applied=seen(endpoint), started_at=now,
                          updated_at=now)
            state.note(now, "started", f"from {_say(state.applied)}; {len(plan.steps)} steps to {plan.candidate} 100 %")
            file.write(state)
            return state

    def command(self, endpoint: str, verb: str, reason: str = "") -> State:
        """pause, resume, approve, promote, abort or fail the rollout of `endpoint`."""
        file = RolloutFile(self.folder, endpoint)
        with file.locked():
            state = file.read()
            now = self.clock()
            if state.ended:
                raise BadInput(f"the rollout of {endpoint} already ended: {state.phase}")
            said = f": {reason}" if reason else ""
            if verb == "pause":
                self._pause(state, now, f"paused by a person{said}")
            elif verb == "resume":
                if state.phase == PROGRESSING:
                    raise BadInput(f"the rollout of {endpoint} is not paused")
                state.phase, state.reason = PROGRESSING, ""
                state.failures, state.inconclusive_since = 0, None
                state.step_started_at = None  # the step is applied again: the split may have moved meanwhile
                state.applied = seen(self.ws.endpoints.get(endpoint))
                state.note(now, "resumed", f"by a person{said}; {_step_name(state.plan, state.step)} applied again")
            elif verb == "approve":
                gate = self._gate(state)
                if state.phase != AWAITING or gate is None:
                    raise BadInput(f"the rollout of {endpoint} waits for no approval ({state.phase})")
                state.approved.append(gate)
                state.phase, state.reason = PROGRESSING, ""
                state.note(now, "approved", f"{_step_name(state.plan, state.step)} approved by a person{said}")
            elif verb == "promote":
                state.promote, state.phase, state.reason = True, PROGRESSING, ""
                state.step, state.step_started_at = len(state.plan.steps) - 1, None
                state.note(now, "promote", f"a person promoted {state.plan.candidate} to 100 %, skipping the steps "
                                           f"left{said}")
            elif verb in ("abort", "fail"):
                why = "aborted by a person" if verb == "abort" else "failed by a person"
                self._roll_back(state, now, f"{why}{said}", ABORTED if verb == "abort" else ROLLED_BACK)
            else:
                raise BadInput(f"unknown rollout command {verb!r}")
            state.updated_at = now
            file.write(state)
            return state

    def status(self, endpoint: str) -> State:
        return RolloutFile(self.folder, endpoint).read()

    # --- the loop --------------------------------------------------------------------------

    def tick_all(self, on_change: Callable[[State], None], on_error: Callable[[str, Exception], None]) -> None:
        """One pass of a host (the daemon's thread, `amlops rollout run`) over every rollout under
        way: `on_change(state)` for each that moved (its phase, step or history), `on_error(endpoint,
        error)` for each whose tick failed, so that one rollout's trouble never stops the others."""
        for file in rollouts(self.folder):
            endpoint = file.path.stem
            try:
                before = file.read()
                if before.ended:
                    continue
                after = self.tick(endpoint)
            except Exception as err:  # the endpoint unreachable a moment, or a bug: the next pass tries again
                on_error(endpoint, err)
                continue
            if (after.phase, after.step, len(after.history)) != (before.phase, before.step, len(before.history)):
                on_change(after)

    def tick(self, endpoint: str) -> State:
        """One pass over one rollout: at most one traffic write, or one analysis."""
        file = RolloutFile(self.folder, endpoint)
        with file.locked():
            state = file.read()
            if state.ended:
                return state
            before, entries = json.dumps(state.to_dict(), sort_keys=True), len(state.history)
            self._advance(state, self.clock())
            if json.dumps(state.to_dict(), sort_keys=True) != before:
                state.updated_at = self.clock()
                file.write(state)
                self._audit_since(state, entries)
            return state

    def _advance(self, state: State, now: float) -> None:
        plan = state.plan
        endpoint = self.ws.endpoints.get(plan.endpoint)
        live = seen(endpoint)
        if state.pending is not None:
            if _same(live, state.pending["want"]):
                state.applied, state.pending = live, None
                state.note(now, "reported", f"the endpoint reports {_say(live)}")
            elif now - state.pending["since"] >= WRITE_WAIT_S:
                pending = state.pending
                self._pause(state, now, f"the endpoint still reports {_say(live)}, {now - pending['since']:.0f}s "
                                        f"after operation {pending['operation']} set {_say(pending['want'])}")
                state.applied, state.pending = live, None
                return
            elif state.applied is None or _same(live, state.applied):
                return  # not applied yet: one update at a time, so nothing else happens meanwhile
        if state.applied is not None and not _same(live, state.applied):
            if state.phase != PAUSED or not state.reason.startswith("traffic changed"):
                self._pause(state, now, f"traffic changed outside the rollout: it is {_say(live)}, the rollout set "
                                        f"{_say(state.applied)}; resume to apply {_step_name(plan, state.step)} again")
            return
        if state.phase != PROGRESSING:
            return
        if state.step_started_at is None:
            self._apply_step(state, endpoint, now)
            return
        interval_due = state.last_analysis_at is None or now - state.last_analysis_at >= plan.interval_s
        if interval_due and now - state.step_started_at >= plan.interval_s:
            self._analyse(state, endpoint, now)
            if state.phase != PROGRESSING:
                return
        if state.promote or (now - state.step_started_at >= _hold(plan, state.step)
                             and state.last_verdict == canary.PASS):
            self._next(state, endpoint, now)

    def _gate(self, state: State) -> int | None:
        """The approval the current step waits for, if any (len(steps): the promotion's)."""
        plan, step = state.plan, state.step
        if step == MIRROR_STEP or state.promote:
            return None
        if plan.steps[step].approve and step not in state.approved:
            return step
        last = step == len(plan.steps) - 1
        if last and plan.approve_promotion and len(plan.steps) not in state.approved:
            return len(plan.steps)
        return None

    def _apply_step(self, state: State, endpoint: Endpoint, now: float) -> None:
        plan = state.plan
        gate = self._gate(state)
        if gate is not None:
            state.phase = AWAITING
            state.reason = (f"{_step_name(plan, state.step)} waits for a person: "
                            f"`amlops rollout approve {plan.endpoint}`")
            state.note(now, "awaiting approval", state.reason)
            return
        want = target(plan, state.step)
        candidate = next((d for d in endpoint.deployments if d.name == plan.candidate), None)
        if candidate is not None and candidate.ready_instances < candidate.instance_count:
            # Never traffic to instances that cannot answer it (argo-rollouts #3372): wait, and say so.
            waiting = (f"waiting for {plan.candidate}: {candidate.ready_instances} of {candidate.instance_count} "
                       "instances ready")
            if state.reason != waiting:
                state.reason = waiting
                state.note(now, "waiting", f"{_step_name(plan, state.step)}: {waiting}")
            return
        state.reason = ""
        if state.step != MIRROR_STEP and not state.promote:
            fits = self._capacity(plan, endpoint, plan.steps[state.step].weight)
            if fits is not None and fits.fits is False:
                self._pause(state, now, f"{_step_name(plan, state.step)} refused: {fits.reason}")
                return
        current = seen(endpoint)
        ops = self.ws.endpoints
        # One update at a time: mirroring goes off on its own before live traffic moves (a mirrored
        # deployment cannot take live traffic), and comes on only over an unchanged live split.
        if _clean(current["mirror"]) and not want["mirror"]:
            step = {"live": current["live"], "mirror": {}}
            op = ops.set_mirror(plan.endpoint, {}, expected=current["live"])
        elif _clean(current["live"]) != _clean(want["live"]):
            step = {"live": want["live"], "mirror": current["mirror"]}
            op = ops.set_traffic(plan.endpoint, want["live"], expected=current["live"])
        elif _clean(current["mirror"]) != _clean(want["mirror"]):
            step = want
            op = ops.set_mirror(plan.endpoint, want["mirror"], expected=current["live"])
        else:
            state.step_started_at, state.last_analysis_at, state.last_verdict = now, None, None
            state.failures, state.inconclusive_since = 0, None
            state.note(now, "step applied", f"{_step_name(plan, state.step)}: the endpoint reports {_say(current)}")
            return
        done = self.ws.operations.wait(op.id, timeout_s=WRITE_WAIT_S)
        if done.status != "Succeeded":
            state.applied = seen(self.ws.endpoints.get(plan.endpoint))
            self._pause(state, now, f"the traffic update for {_step_name(plan, state.step)} did not succeed: "
                                    f"{done.status}{': ' + done.error if done.error else ''}")
            return
        # Counted as applied only once the endpoint reports it (Azure applies updates eventually).
        state.pending = {"want": {"live": _clean(step["live"]), "mirror": _clean(step["mirror"])}, "since": now,
                         "operation": done.id}
        state.note(now, "traffic", f"asked for {_say(step)} for {_step_name(plan, state.step)} (operation {done.id})")

    def _capacity(self, plan: Plan, endpoint: Endpoint, weight: int) -> canary.Capacity | None:
        split = {plan.stable: 100 - weight, plan.candidate: weight}
        figures = self.ws.endpoints.metrics(plan.endpoint, window_s=window_for(plan))
        return canary.capacity_of_split(endpoint.deployments, figures, split).get(plan.candidate)

    def _analyse(self, state: State, endpoint: Endpoint, now: float) -> None:
        plan = state.plan
        windows = {m.deployment: canary.Window(m.requests, round(m.requests * (1 - (m.success_rate or 0)))
                                               if m.requests else 0, m.p99_ms, m.window_s)
                   for m in self.ws.endpoints.metrics(plan.endpoint, window_s=window_for(plan))}
        empty = canary.Window(0, 0, None, plan.interval_s)
        result = canary.analyse(plan.checks, windows.get(plan.candidate, empty), windows.get(plan.stable))
        state.last_analysis_at, state.last_verdict = now, result.verdict
        figures = {role: {"requests": w.requests, "success_rate": w.success_rate, "p99_ms": w.p99_ms}
                   for role, w in (("candidate", windows.get(plan.candidate)), ("stable", windows.get(plan.stable)))
                   if w is not None}  # both sides, for the chart of the rollout
        state.note(now, "analysis", f"{result.verdict}: {result.reason}", analysis=result.to_dict(), figures=figures)
        if result.verdict == canary.FAIL:
            state.failures += 1
            state.inconclusive_since = None
            if state.failures >= plan.failure_threshold:
                why = f"{state.failures} failed analyses in a row at {_step_name(plan, state.step)}: {result.reason}"
                if _on_failure(plan, state.step) == "pause":
                    self._pause(state, now, why)
                else:
                    self._roll_back(state, now, why, ROLLED_BACK)
        elif result.verdict == canary.INCONCLUSIVE:
            state.inconclusive_since = state.inconclusive_since or now
            if now - state.inconclusive_since >= plan.inconclusive_timeout_s:
                self._pause(state, now, f"inconclusive for {now - state.inconclusive_since:.0f}s at "
                                        f"{_step_name(plan, state.step)} ({result.reason}): a person decides")
        else:
            state.failures, state.inconclusive_since = 0, None

    def _next(self, state: State, endpoint: Endpoint, now: float) -> None:
        plan = state.plan
        if state.step < len(plan.steps) - 1:
            state.step += 1
            state.step_started_at = None
            return
        # The last step held (or a person promoted): the split is read back, and only the split
        # the rollout set counts as success.
        final = seen(self.ws.endpoints.get(plan.endpoint))
        want = target(plan, len(plan.steps) - 1)
        if _same(final, want):
            state.phase, state.reason = SUCCEEDED, ""
            state.note(now, "succeeded", f"{plan.candidate} holds all live traffic: the endpoint reports {_say(final)}")
        else:
            state.phase = FAILED
            state.reason = f"the final split read back is {_say(final)}, not {_say(want)}"
            state.note(now, "failed", state.reason)

    def _pause(self, state: State, now: float, why: str) -> None:
        state.phase, state.reason = PAUSED, why
        state.note(now, "paused", why)

    def _roll_back(self, state: State, now: float, why: str, phase: str) -> None:
        """Stable 100, candidate 0, mirror off, in one update: the backend's rollback, which goes
        back to the last deployment that held all traffic (the stable: a rollout starts only from
        it). Should it land elsewhere, the split is set to the stable's."""
        plan = state.plan
        ops = self.ws.endpoints
        want = {"live": {plan.stable: 100}, "mirror": {}}
        current = seen(ops.get(plan.endpoint))
        if _clean(current["live"]) == want["live"] and _clean(current["mirror"]):
            # The stable already holds all live traffic (the mirror step): mirroring off is all there is.
            self.ws.operations.wait(ops.set_mirror(plan.endpoint, {}, expected=current["live"]).id,
                                    timeout_s=WRITE_WAIT_S)
        elif not _same(current, want):
            self.ws.operations.wait(ops.rollback(plan.endpoint, expected=current["live"]).id, timeout_s=WRITE_WAIT_S)
            landed = ops.get(plan.endpoint)
            if not _same(seen(landed), want) and not _clean(landed.traffic.mirror):
                split = {d.name: 100 if d.name == plan.stable else 0 for d in landed.deployments}
                self.ws.operations.wait(ops.set_traffic(plan.endpoint, split, expected=seen(landed)["live"]).id,
                                        timeout_s=WRITE_WAIT_S)
        after = seen(ops.get(plan.endpoint))
        state.applied = after
        if _same(after, want):
            state.phase, state.reason = phase, why
            state.note(now, "rolled back", f"{why}; the endpoint reports {_say(after)}")
        else:
            self._pause(state, now, f"{why}; the rollback did not land: the endpoint reports {_say(after)}")


# --- the record the console shows, and the operation group on disk -------------------------------


def record(state: State) -> Rollout:
    """The console's record of a rollout: where it stands, and when its step has held its time."""
    from datetime import datetime, timezone

    from console.domain import Rollout

    def at(seconds: float | None) -> datetime | None:
        return None if seconds is None else datetime.fromtimestamp(seconds, timezone.utc)

    plan = state.plan
    held = None
    if state.step_started_at is not None and not state.ended:
        held = state.step_started_at + _hold(plan, state.step)
    analyses = [h["analysis"] for h in state.history if h.get("analysis")]
    return Rollout(plan.endpoint, plan.stable, plan.candidate, state.phase, state.step,
                   tuple(s.weight for s in plan.steps), state.reason, plan.path, at(state.started_at),
                   at(state.updated_at), at(held), analyses[-1] if analyses else None, tuple(state.history))


class RolloutsOnDisk(OperationGroup, of=RolloutOperations):
    """The rollouts of a workspace whose rollouts live in a folder on this machine (an Azure
    workspace's state folder; the canned workspace's): `start` and `command` go through the
    controller under the file lock and are audited with `audit(operation, target, result=,
    detail=)`; `amlops rollout run` ticks them."""

    def __init__(self, ws: Workspace, folder: Path, audit: Callable[..., None]) -> None:
        super().__init__(ws)
        self.folder = Path(folder)
        self.audit = audit

    @property
    def controller(self) -> Controller:
        return Controller(self.ws, self.folder, audit=self.audit)

    def list(self) -> list[Rollout]:
        found = []
        for file in rollouts(self.folder):
            with contextlib.suppress(NotFound):
                found.append(record(file.read()))
        return found

    def get(self, endpoint: str) -> Rollout:
        return record(RolloutFile(self.folder, endpoint).read())

    def start(self, plan_path: str) -> Rollout:
        from console import rollout_plan, specs

        plan = rollout_plan.load(specs.read(plan_path))
        try:
            state = self.controller.start(plan)
        except BadInput as err:
            self.audit("rollouts.start", plan.endpoint, result="Rejected", detail=err.message)
            raise
        self.audit("rollouts.start", plan.endpoint, detail=f"{plan_path}: {state.history[-1]['detail']}")
        return record(state)

    def command(self, endpoint: str, verb: str, reason: str = "") -> Rollout:
        try:
            state = self.controller.command(endpoint, verb, reason)
        except BadInput as err:
            self.audit(f"rollouts.{verb}", endpoint, result="Rejected", detail=err.message)
            raise
        self.audit(f"rollouts.{verb}", endpoint, detail=state.history[-1]["detail"])
        return record(state)
