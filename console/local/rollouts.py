"""The local workspace's rollouts: the daemon hosts the controller (console/rollout_controller.py),
so a rollout goes on when the console closes or the SSH session drops.

Its state lives in `<workspace>/rollouts/<endpoint>.json`; the host thread ticks every rollout
under way once a second through a Workspace client of the daemon's own socket (the same calls
and audit as anyone's), and a restarted daemon resumes each one from its file. Starting and
commanding a rollout are RPC calls, audited with the caller as the actor.
"""

from __future__ import annotations

import logging
import threading
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from console.errors import AmlopsError, BadInput
from console.local.rpc import Request

if TYPE_CHECKING:
    from console.local.context import Context
    from console.rollout_controller import Controller

log = logging.getLogger("amlops.rollouts")
CONTROLLER = Request(actor="amlops-rollout")  # who the audit names for what the controller decides

TICK_S = 1.0  # how often the host looks at every rollout under way (plans hold seconds at least)


class RolloutService:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.folder = ctx.folder.root / "rollouts"
        self._controller: Controller | None = None

    def rpc_methods(self) -> dict[str, tuple[Any, bool]]:
        return {"list": (self.list, False), "get": (self.get, False), "start": (self.start, True),
                "command": (self.command, True)}

    @property
    def controller(self) -> Controller:
        """The controller over a client of this daemon's own socket, built on first use."""
        if self._controller is None:
            from console.local.client import LocalWorkspace
            from console.rollout_controller import Controller

            self._controller = Controller(LocalWorkspace(self.ctx.folder.root, autostart=False), self.folder,
                                          audit=partial(self.ctx.audit, CONTROLLER))
        return self._controller

    # --- the calls -------------------------------------------------------------------------

    def list(self, req: Request) -> list[dict[str, Any]]:
        from console.rollout_controller import record, rollouts

        return [record(file.read()).to_dict() for file in rollouts(self.folder)]

    def get(self, req: Request, endpoint: str) -> dict[str, Any]:
        from console.rollout_controller import RolloutFile, record

        return record(RolloutFile(self.folder, endpoint).read()).to_dict()

    def start(self, req: Request, plan_path: str) -> dict[str, Any]:
        from console import rollout_plan, specs
        from console.rollout_controller import record

        plan = rollout_plan.load(specs.read(plan_path))
        state = self.controller.start(plan)
        self.ctx.audit(req, "rollouts.start", plan.endpoint, after={"plan": plan_path},
                       detail=state.history[-1]["detail"])
        self.ctx.wake.set()
        return record(state).to_dict()

    def command(self, req: Request, endpoint: str, verb: str, reason: str = "") -> dict[str, Any]:
        from console.rollout_controller import record

        if verb not in ("pause", "resume", "approve", "promote", "abort", "fail"):
            raise BadInput(f"unknown rollout command {verb!r}: pause, resume, approve, promote, abort or fail")
        state = self.controller.command(endpoint, verb, reason)
        self.ctx.audit(req, f"rollouts.{verb}", endpoint, detail=state.history[-1]["detail"])
        return record(state).to_dict()

    # --- the host ----------------------------------------------------------------------------

    def run(self, stopping: threading.Event) -> None:
        """The host thread: tick every rollout under way until the daemon stops."""
        while not stopping.wait(TICK_S):
            if Path(self.folder).is_dir():
                self.controller.tick_all(_logged, _failed)


def _logged(state: Any) -> None:
    log.info("rollout of %s: %s at step %s: %s", state.plan.endpoint, state.phase, state.step,
             state.history[-1]["detail"] if state.history else "")


def _failed(endpoint: str, err: Exception) -> None:
    if isinstance(err, AmlopsError):  # the endpoint unreachable a moment: the next tick tries again
        log.warning("rollout of %s: %s", endpoint, err.message)
    else:
        log.error("rollout of %s failed a tick", endpoint, exc_info=err)
