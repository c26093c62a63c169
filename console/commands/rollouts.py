"""`amlops rollout ...`: start a plan from specs/rollouts/, watch it, and steer it (pause, resume,
approve, promote, abort, fail); `rollout run` hosts the rollouts of an Azure workspace in the
foreground (the local daemon hosts the local workspace's). Abort and fail ask first."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from console import format as fmt
from console.commands.output import confirm, details, emit_json, table
from console.commands.selection import backend_of, workspace

if TYPE_CHECKING:
    from console.domain import Rollout

VERBS = {
    "pause": "hold the rollout where it is (traffic stays at the last step applied)",
    "resume": "go on from a pause: the current step is applied again",
    "approve": "let a step (or the promotion) that waits for a person go ahead",
    "promote": "skip the steps left: the candidate takes all live traffic now",
    "abort": "roll back to the stable now and end the rollout (asks first)",
    "fail": "mark the candidate failed: roll back to the stable now (asks first)",
}


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("rollout", help="safe rollouts by plan: start, status, steer, run",
                            description="A rollout ramps a candidate deployment by a plan in specs/rollouts/, "
                                        "checking success rate and p99 at every step, and rolls itself back. "
                                        "The local daemon hosts local rollouts; for an Azure workspace, "
                                        "`amlops rollout run` hosts them.")
    verbs = parser.add_subparsers(dest="rollout_command", metavar="ACTION", required=True)
    start = verbs.add_parser("start", help="start the plan in a specs/rollouts/ file")
    start.add_argument("-f", "--file", required=True, metavar="PLAN", help="the rollout plan (type: rollout)")
    start.add_argument("--json", action="store_true")
    start.set_defaults(handler=_start)
    status = verbs.add_parser("status", help="every rollout, or one endpoint's with its history")
    status.add_argument("endpoint", nargs="?")
    status.add_argument("--json", action="store_true", help="every step and analysis, with its numbers")
    status.set_defaults(handler=_status)
    for verb, help_text in VERBS.items():
        command = verbs.add_parser(verb, help=help_text)
        command.add_argument("endpoint")
        command.add_argument("--reason", default="", help="why, for the rollout's history and the audit log")
        if verb in ("abort", "fail"):
            command.add_argument("--yes", action="store_true", help="do not ask")
        command.add_argument("--json", action="store_true")
        command.set_defaults(handler=_command, verb=verb)
    run = verbs.add_parser("run", help="host an Azure workspace's rollouts in the foreground (CI, systemd)",
                           description="Tick every rollout under way once a second until stopped (SIGTERM, "
                                       "ctrl-c). Its state is on disk: a restart resumes each rollout at its step.")
    run.add_argument("--once", action="store_true", help="one pass, then exit (for cron or a CI step)")
    run.add_argument("--interval", type=float, default=1.0, metavar="SECONDS", help="between passes (default 1)")
    run.set_defaults(handler=_run)


def _start(args: argparse.Namespace) -> int:
    ws = workspace(args)
    started = ws.rollouts.start(args.file)
    if args.json:
        emit_json(started)
        return 0
    host = ("the daemon runs it" if ws.backend == "local"
            else "run `amlops rollout run` to drive it (it keeps running: see the README)")
    print(f"started the rollout of {started.candidate} on {started.endpoint} "
          f"({' → '.join(f'{w} %' for w in started.weights)}); {host}")
    return 0


def _status(args: argparse.Namespace) -> int:
    ws = workspace(args)
    if args.endpoint is None:
        rollouts = ws.rollouts.list()
        if args.json:
            emit_json(rollouts)
            return 0
        table(rollouts, [("ENDPOINT", lambda r: r.endpoint), ("CANDIDATE", lambda r: r.candidate),
                         ("PHASE", lambda r: r.phase), ("STEP", _step), ("NEXT", _next),
                         ("LAST ANALYSIS", _analysis), ("REASON", lambda r: r.reason or "-")],
              empty="no rollouts: start one with `amlops rollout start -f specs/rollouts/...`")
        return 0
    one = ws.rollouts.get(args.endpoint)
    if args.json:
        emit_json(one)
        return 0
    _show(one)
    return 0


def _command(args: argparse.Namespace) -> int:
    ws = workspace(args)
    if args.verb in ("abort", "fail"):
        from console.workspace import refuse_if_read_only

        refuse_if_read_only(ws, f"rollout {args.verb}")
        if not confirm(f"{args.verb} the rollout of {args.endpoint} and send all live traffic to its stable?", args):
            return 1
    after = ws.rollouts.command(args.endpoint, args.verb, args.reason)
    if args.json:
        emit_json(after)
        return 0
    said = after.history[-1]["detail"] if after.history else ""
    print(f"{after.endpoint}: {after.phase}: {said}")
    return 0


def _run(args: argparse.Namespace) -> int:
    if backend_of(args) == "local":
        print("amlops: the local daemon hosts the local workspace's rollouts: nothing to run "
              "(`amlops rollout status` shows them)", file=sys.stderr)
        return 2
    ws = workspace(args)
    from console.rollout_controller import Controller
    from console.workspace import refuse_if_read_only

    refuse_if_read_only(ws, "rollout run")  # it moves traffic
    controller = Controller(ws, ws.rollouts.folder, audit=ws.rollouts.audit)
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    print(f"hosting the rollouts of {ws.name} in {ws.rollouts.folder} (ctrl-c stops; state stays on disk)",
          file=sys.stderr)
    def moved(state: Any) -> None:
        if state.history:
            print(f"{datetime.now(timezone.utc):%H:%M:%S} {state.plan.endpoint}: {state.phase}: "
                  f"{state.history[-1]['detail']}", flush=True)

    def failed(endpoint: str, err: Exception) -> None:  # Azure unreachable a moment: the next pass tries again
        from console.errors import describe

        print(f"{endpoint}: {describe(err)}", file=sys.stderr, flush=True)

    while True:
        controller.tick_all(moved, failed)
        if args.once or stopping.wait(args.interval):
            return 0


# --- what a person reads ---------------------------------------------------------------------------


def _step(r: Rollout) -> str:
    return fmt.rollout_step(r)


def _next(r: Rollout) -> str:
    return fmt.rollout_next(r, datetime.now(timezone.utc)) or "-"


def _analysis(r: Rollout) -> str:
    return fmt.rollout_analysis(r) if r.last_analysis else "-"


def _show(r: Rollout) -> None:
    details([("endpoint", r.endpoint), ("candidate", f"{r.candidate} (stable {r.stable})"), ("phase", r.phase),
             ("step", _step(r)), ("steps", " → ".join(f"{w} %" for w in r.weights)), ("next", _next(r)),
             ("reason", r.reason or "-"), ("last analysis", _analysis(r)), ("plan", r.plan or "-")])
    if r.history:
        print()
        table(r.history[-15:], [("AT", lambda h: f"{datetime.fromtimestamp(h['at'], timezone.utc):%H:%M:%S}"),
                                ("STEP", lambda h: "mirror" if h["step"] < 0 else str(h["step"] + 1)),
                                ("EVENT", lambda h: h["event"]), ("DETAIL", lambda h: h["detail"])])
