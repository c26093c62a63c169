"""The local workspace's daemon: the control plane process that owns a workspace folder.

It serves the Workspace protocol's calls on a Unix socket (`rpc.py`), runs the scheduler that
starts queued jobs, reaps finished ones and applies compute idle rules, and records every
mutation in the audit log with the calling OS user as the actor. A lock file guarantees one
daemon per folder. Jobs run in their own process groups, so stopping or killing the daemon
never stops them; a restarted daemon adopts what is still running (`JobRunner.reconcile`).

Run: `python -m console.local.daemon --workspace-dir DIR` (the client starts it on demand).
"""

from __future__ import annotations

import argparse
import fcntl
import getpass
import json
import logging
import os
import pwd
import signal
import socket
import socketserver
import struct
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from console.errors import AmlopsError, BadInput, OperationFailed, describe
from console.local import rpc
from console.local.rpc import Request
from console.local.context import Clock, Context
from console.local.folder import WorkspaceFolder
from console.local.store import Store

log = logging.getLogger("amlops.daemon")

TICK_S = 0.25  # scheduler period: bounds the time from submit to Running


class Daemon:
    """The wiring: one Context, the tracking client and the capacity ledger, each service with
    the collaborators it uses, and the dispatch table of every RPC method."""

    def __init__(self, folder: WorkspaceFolder, clock: Clock | None = None) -> None:
        from console.local.assets import AssetService
        from console.local.compute import ComputeService
        from console.local.create import CreateService
        from console.local.endpoints import EndpointService
        from console.local.jobs import JobPlanner, JobRunner, JobService
        from console.local.ledger import Ledger
        from console.local.models import ModelService
        from console.local.monitor import MonitorService
        from console.local.rollouts import RolloutService
        from console.local.tracking import Tracking

        self.folder = folder.create()
        self.ctx = Context(folder, Store(folder.db), clock or Clock())
        self.store, self.clock = self.ctx.store, self.ctx.clock
        self.read_only = bool(folder.config.get("read_only", False))
        self.tracking = Tracking(folder)
        ledger = Ledger(self.store, folder)
        self.assets = AssetService(self.ctx)
        self.compute = ComputeService(self.ctx, ledger)
        self.runner = JobRunner(self.ctx, ledger, self.compute, self.tracking)
        self.jobs = JobService(self.ctx, JobPlanner(self.ctx, self.compute, self.assets), self.runner, self.tracking)
        self.models = ModelService(self.ctx, self.jobs, self.tracking)
        self.endpoints = EndpointService(self.ctx, ledger, self.tracking)
        self.monitors = MonitorService(self.ctx, self.assets, self.models)
        self.rollouts = RolloutService(self.ctx)
        create = CreateService(self.assets, self.compute, self.endpoints, self.monitors)
        self.methods: dict[str, tuple[Callable[..., Any], bool]] = {}
        for service, prefix in ((self.assets, "assets"), (create, "assets"), (self.compute, "compute"),
                                (self.jobs, "jobs"), (self.models, "models"), (self.endpoints, "endpoints"),
                                (self.monitors, "monitors"), (self.rollouts, "rollouts")):
            for name, (fn, mutating) in service.rpc_methods().items():
                self.methods[f"{prefix}.{name}"] = (fn, mutating)
        self.methods["audit.list"] = (self.ctx.audit_list, False)
        self.methods["operations.get"] = (self.ctx.operation_get, False)
        self.methods["operations.list"] = (self.operations_list, False)
        self.methods["daemon.status"] = (self.status, False)
        self.methods["daemon.processes"] = (self.processes, False)
        if os.environ.get("AMLOPS_TEST_CLOCK") == "1":
            self.methods["debug.advance_clock"] = (self.advance_clock, False)
        self.started_at = time.time()
        self.code = rpc.code_stamp()  # the code this daemon runs; clients with other code are told

    @property
    def stopping(self) -> threading.Event:
        return self.ctx.stopping

    @property
    def wake(self) -> threading.Event:
        return self.ctx.wake

    def status(self, req: Request) -> dict[str, Any]:
        return {"pid": os.getpid(), "workspace": str(self.folder.root), "uptime_s": time.time() - self.started_at,
                "rss_kb": _rss_kb(), "jobs_running": self.jobs.running_count(), "read_only": self.read_only,
                "processes": self.processes()}

    def operations_list(self, req: Request, limit: int | None = None) -> list[dict[str, Any]]:
        """Long-running writes, newest first: how the id of one left running is found again."""
        sql = "SELECT * FROM operations ORDER BY started_at DESC, rowid DESC"
        if limit:
            sql += f" LIMIT {int(limit)}"
        return self.store.rows(sql)

    def processes(self, req: Request | None = None) -> list[dict[str, Any]]:
        """Every process the workspace runs besides the daemon: jobs, routers, scoring instances
        (they outlive the daemon by design), one {"kind", "name", "pid"} each."""
        return self.runner.processes() + self.endpoints.supervisor.processes()

    def stop_all(self, req: Request) -> list[dict[str, Any]]:
        """Cancel every job and stop every router and scoring instance, and audit it: the
        workspace's part of `amlops local down --all`. Endpoints and deployments stay defined;
        the next daemon start serves them again."""
        stopped = self.jobs.stop_all(req) + self.endpoints.supervisor.stop_all()
        self.ctx.audit(req, "daemon.stop_all", str(self.folder.root),
                   after={"stopped": [f"{p['kind']} {p['name']} (pid {p['pid']})" for p in stopped]},
                   detail="amlops local down --all: jobs canceled, routers and scoring instances stopped")
        return stopped

    def advance_clock(self, req: Request, seconds: float) -> dict[str, Any]:
        self.clock.offset_s += float(seconds)
        self.wake.set()
        return {"now": self.clock.now().isoformat()}

    # --- dispatch ----------------------------------------------------------------------------

    def dispatch(self, req: Request, method: str, params: dict[str, Any]) -> Any:
        entry = self.methods.get(method)
        if entry is None:
            raise BadInput(f"unknown method {method!r}")
        fn, mutating = entry
        if mutating and self.read_only:
            from console.errors import ReadOnlyError

            raise ReadOnlyError(method)
        try:
            result = fn(req, **params)
        except AmlopsError as err:
            if mutating:
                # Rejected and failed requests are audited too: who tried what, and why it did not
                # happen. When the audit itself cannot be written (the store refused the write
                # that failed), the daemon's log keeps the attempt.
                result = "Rejected" if isinstance(err, BadInput) else "Failed"
                try:
                    self.ctx.audit(req, method, _target_of(params), after=params, result=result, detail=describe(err))
                except AmlopsError as audit_err:
                    log.error("%s by %s on %s (%s: %s) could not be audited: %s", method, req.actor,
                              _target_of(params), result, err.message, audit_err.message)
            raise
        except TypeError as err:
            raise BadInput(f"{method}: {err}") from None
        if mutating:
            self.wake.set()
        return result

    # --- the scheduler -----------------------------------------------------------------------

    def tick(self) -> None:
        now = self.clock.now()
        self.runner.tick(now)
        self.compute.tick(now)
        self.endpoints.billing.accrue(now)
        self.monitors.tick(now)

    def run_scheduler(self) -> None:
        while not self.stopping.is_set():
            try:
                self.tick()
            except Exception:  # a bad tick must not kill the control plane
                log.exception("scheduler tick failed")
            self.wake.wait(TICK_S)
            self.wake.clear()


def _target_of(params: dict[str, Any]) -> str:
    for key in ("name", "spec_path", "path", "job"):
        if params.get(key):
            return str(params[key])
    return "-"


def _rss_kb() -> int:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _peer_user(sock: socket.socket) -> str:
    try:
        creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        _pid, uid, _gid = struct.unpack("3i", creds)
        return pwd.getpwuid(uid).pw_name
    except (OSError, KeyError):
        return getpass.getuser()


class _Handler(socketserver.StreamRequestHandler):
    daemon_ref: Daemon

    def handle(self) -> None:
        line = self.rfile.readline()
        if not line:
            return
        try:
            request = json.loads(line)
            code = request.get("code")
            if code and code != self.daemon_ref.code:
                # Old code answering a newer client (or the other way round): the client decides.
                self.wfile.write(rpc.encode({"ok": False, "error": {
                    "type": rpc.STALE, "message": "the daemon runs other code than the client",
                    "fields": {"code": self.daemon_ref.code}}}))
                return
            req = Request(actor=_peer_user(self.connection))
            result = self.daemon_ref.dispatch(req, request["method"], request.get("params") or {})
            if isinstance(result, rpc.RawJSON):
                self.wfile.write(rpc.RAW_HEADER + result)
                return
            reply = {"ok": True, "result": result}
        except AmlopsError as err:
            reply = {"ok": False, "error": rpc.error_payload(err)}
        except (ValueError, KeyError) as err:
            reply = {"ok": False, "error": rpc.error_payload(BadInput(f"malformed request: {err}"))}
        except Exception as err:  # report, never crash the server thread silently
            log.exception("request failed")
            reply = {"ok": False, "error": rpc.error_payload(OperationFailed(f"daemon error: {err}"))}
        self.wfile.write(rpc.encode(reply))


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    request_queue_size = 128  # a console and several CLI calls may connect at once


def serve(folder: WorkspaceFolder) -> int:
    os.umask(0o077)  # everything the daemon writes (state.db, logs, keys) is the owner's alone
    # MLflow settings of whoever started us would point runs and the registry elsewhere; the
    # daemon sets its own, and jobs get theirs explicitly.
    for name in [n for n in os.environ if n.startswith("MLFLOW_")]:
        del os.environ[name]
    folder.create()
    lock = open(folder.lock_file, "a+")  # noqa: SIM115 - held for the daemon's lifetime
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        print(f"amlops daemon already running for {folder.root}", file=sys.stderr)
        return 3
    logging.basicConfig(filename=folder.logs_dir / "daemon.log", level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    clock = Clock()
    daemon = Daemon(folder, clock)
    daemon.runner.reconcile(clock.now())

    if folder.socket.exists():
        folder.socket.unlink()  # stale: we hold the lock, so no daemon owns it
    server = _Server(str(folder.socket), type("Handler", (_Handler,), {"daemon_ref": daemon}))
    os.chmod(folder.socket, 0o600)
    folder.pid_file.write_text(f"{os.getpid()}\n")

    def stop(signum: int, _frame: Any) -> None:
        daemon.stopping.set()
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # outlive the SSH session that started us
    threading.Thread(target=daemon.run_scheduler, name="scheduler", daemon=True).start()
    threading.Thread(target=daemon.endpoints.supervisor.run, name="serving", daemon=True).start()
    threading.Thread(target=daemon.rollouts.run, args=(daemon.stopping,), name="rollouts", daemon=True).start()
    threading.Thread(target=_warm_up, args=(daemon,), name="warm-up", daemon=True).start()
    log.info("daemon %s serving %s", os.getpid(), folder.root)
    try:
        server.serve_forever(poll_interval=0.5)
    finally:
        server.server_close()
        for path in (folder.socket, folder.pid_file):
            path.unlink(missing_ok=True)
        daemon.store.close()
        log.info("daemon %s stopped", os.getpid())
    return 0


def _warm_up(daemon: Daemon) -> None:
    """Import the heavy libraries and open MLflow's store (its first use creates the tables)
    in the background, so the first submit is fast."""
    try:
        from console.specs import import_azure_ml

        import_azure_ml()
        daemon.tracking.client().search_experiments(max_results=1)
        import mlflow.pyfunc.scoring_server  # noqa: F401 - what starting a scoring instance asks for
    except Exception:
        log.exception("warm-up import failed")


def stop_all_once(folder: WorkspaceFolder, lock_timeout_s: float = 15.0) -> int:
    """Without serving: take the folder's lock (once the daemon has stopped), settle what ended
    while no daemon ran, then stop every job, router and scoring instance, printing what was
    stopped as JSON. `amlops local down --all` runs this after stopping the daemon, so nothing
    can restart what it stops."""
    os.umask(0o077)
    for name in [n for n in os.environ if n.startswith("MLFLOW_")]:
        del os.environ[name]
    folder.create()
    lock = open(folder.lock_file, "a+")  # noqa: SIM115 - held until this process ends
    deadline = time.monotonic() + lock_timeout_s
    while True:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() > deadline:
                print(f"a daemon still holds {folder.lock_file}", file=sys.stderr)
                return 3
            time.sleep(0.05)
    logging.basicConfig(filename=folder.logs_dir / "daemon.log", level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    clock = Clock()
    daemon = Daemon(folder, clock)
    try:
        daemon.runner.reconcile(clock.now())
        stopped = daemon.stop_all(Request(actor=getpass.getuser()))
        json.dump({"stopped": stopped, "left": daemon.processes()}, sys.stdout)
    finally:
        daemon.store.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="amlops-daemon")
    parser.add_argument("--workspace-dir", required=True)
    parser.add_argument("--detach", action="store_true",
                        help="fork into the background; the starter reaps this process at once")
    parser.add_argument("--stop-all", action="store_true",
                        help="do not serve: stop every job, router and scoring instance, then exit")
    args = parser.parse_args(argv)
    folder = WorkspaceFolder(Path(args.workspace_dir).resolve())
    if args.stop_all:
        return stop_all_once(folder)
    if args.detach and os.fork() > 0:
        return 0  # the daemon is now nobody's child: no zombie in a long-lived console
    return serve(folder)


if __name__ == "__main__":
    sys.exit(main())
