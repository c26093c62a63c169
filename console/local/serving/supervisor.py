"""The processes behind the local workspace's online endpoints, kept running: one router per
endpoint and `instance_count` `mlflow models serve` instances per deployment.

The daemon's serving loop calls `supervise()` twice a second, and at once when a router or an
instance this daemon started exits (a thread waits on each). A pass restarts a router that died
on the port it had (ports are kept in the store, outside the range the kernel hands out for
outgoing connections, so a scoring URI never changes while its endpoint exists), replaces a dead
instance at once (MLflow's scoring server, as `mlflow models serve` starts it), probes instances with their deployment's own liveness and readiness settings,
pushes changed readiness to the routers, pushes committed state a router has not taken yet, and
finishes a delete that was interrupted. Deaths and restarts go to the daemon's log, with why.

Routers and instances run in their own sessions: they outlive the daemon, and a restarted daemon
adopts what still runs.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any

from console.errors import OperationFailed
from console.local.procs import alive, service_port, signal_group, start_time, stop_group
from console.local.rpc import Request

if TYPE_CHECKING:
    from console.local.context import Context
    from console.local.serving.admin import RouterAdmin

log = logging.getLogger("amlops.serving")

PASS_S = 0.5  # the serving loop's period: bounds how long a dead router or instance goes unnoticed
ROUTER_START_TIMEOUT_S = 15
ROUTER_BACKOFF_S = (0.0, 1.0, 2.0, 5.0, 15.0, 30.0)  # between failed starts of one router
MAX_EARLY_EXITS = 3  # an instance that dies this often before it is ever ready fails the deployment
DAEMON = Request(actor="amlops-daemon")  # who the audit names for what the daemon finishes itself
# Why a process an earlier daemon started is gone: only its parent could have read its status.
ADOPTED_EXIT = "gone (started by an earlier daemon: its exit status is not ours to read)"


class Supervisor:
    def __init__(self, ctx: Context, admin: RouterAdmin, root: Path) -> None:
        self.ctx = ctx
        self.store = ctx.store
        self.admin = admin
        self.root = root
        self._procs: dict[tuple[str, str, int], subprocess.Popen[bytes]] = {}
        self._routers: dict[str, subprocess.Popen[bytes]] = {}
        self._probes: dict[tuple[str, str, int], dict[str, Any]] = {}
        self._router_failures: dict[str, tuple[int, float]] = {}  # name -> (failed starts, next try)
        # Held by each pass and around every start of a process and every mark of a delete: a
        # restart can then never race a delete and leave a server nobody knows about.
        self.lifecycle = threading.RLock()
        # Deletes a request is carrying out now; any other Deleting row was interrupted.
        self.deleting: set[tuple[str, str | None]] = set()
        self.suspended = False  # set by stop_all: nothing is started or restarted any more
        self.wake = threading.Event()  # set when a process of ours exits: the pass runs now

    # --- the pass ----------------------------------------------------------------------------

    def run(self) -> None:
        self.adopt()
        while not self.ctx.stopping.is_set():
            try:
                self.supervise()
            except Exception:
                log.exception("serving pass failed")
            self.wake.wait(PASS_S)
            self.wake.clear()

    def supervise(self) -> None:
        with self.lifecycle:
            if self.suspended:
                return
            self._finish_interrupted_deletes()
            changed = self._check_routers()
            changed |= self._check_instances()
            for endpoint in changed:
                try:
                    self.admin.push(endpoint)
                except Exception as err:
                    log.warning("pushing config to the router of %s: %s", endpoint, err)
            self._settle_provisioning()
            self._push_pending(exclude=changed)

    def adopt(self) -> None:
        """After a daemon start: keep the instances that still run, start the ones that do not
        (routers and interrupted deletes are the pass's)."""
        with self.lifecycle:
            for inst in self.store.rows("SELECT i.*, d.provisioning_state FROM instances i JOIN deployments d "
                                        "ON d.endpoint = i.endpoint AND d.name = i.deployment"):
                if inst["provisioning_state"] in ("Failed", "Deleting"):
                    continue
                if inst["pid"] and alive(inst["pid"], inst["pid_start"]):
                    continue  # adopted: its readiness stands until a probe says otherwise
                self.start_instance(inst)

    # --- routers -----------------------------------------------------------------------------

    def router_up(self, row: dict[str, Any]) -> bool:
        proc = self._routers.get(row["name"])
        if proc is not None and proc.pid == row["router_pid"]:
            return proc.poll() is None
        return bool(row["router_pid"]) and alive(row["router_pid"], row["router_pid_start"])

    def _check_routers(self) -> set[str]:
        restarted = set()
        now = time.monotonic()
        for row in self.store.rows("SELECT * FROM endpoints WHERE provisioning_state IN ('Succeeded', 'Updating')"):
            name = row["name"]
            if self.router_up(row):
                continue
            failures, next_try = self._router_failures.get(name, (0, 0.0))
            if now < next_try:
                continue
            if failures == 0:
                log.warning("router of %s (pid %s, port %s) is down: %s; restarting it on port %s", name,
                            row["router_pid"], row["port"], self._router_exit(row), row["port"])
            began = time.monotonic()
            try:
                self.start_router(name)
            except (OperationFailed, OSError) as err:
                failures += 1
                delay = ROUTER_BACKOFF_S[min(failures, len(ROUTER_BACKOFF_S) - 1)]
                self._router_failures[name] = (failures, time.monotonic() + delay)
                log.error("router of %s did not start (attempt %d, next in %.0f s): %s", name, failures, delay, err)
                continue
            self._router_failures.pop(name, None)
            log.info("router of %s restarted (pid %s, port %s) in %.2f s", name, self._routers[name].pid,
                     row["port"], time.monotonic() - began)
            restarted.add(name)
        return restarted

    def _router_exit(self, row: dict[str, Any]) -> str:
        proc = self._routers.get(row["name"])
        if proc is not None and proc.pid == row["router_pid"] and proc.returncode is not None:
            return exit_reason(proc.returncode)
        if not row["router_pid"]:
            return "not running (stopped, or never started)"
        return ADOPTED_EXIT

    def start_router(self, name: str) -> None:
        """Start the endpoint's router on the port the store keeps for it (chosen now if it has
        none) and wait until it listens."""
        row = self.store.row("SELECT * FROM endpoints WHERE name = ?", (name,))
        if row is None:
            raise OperationFailed(f"endpoint '{name}' is gone")
        folder = self.root / name
        port = row["port"] or service_port(self.kept_ports())
        config = self.admin.config(name)
        if config.get("port") != port:
            config["port"] = port
            self.admin.write_config(name, config)
        state = folder / "router.state.json"
        state.unlink(missing_ok=True)
        with open(folder / "router.log", "ab") as out:
            proc = subprocess.Popen([sys.executable, "-m", "console.local.serving.router", "--config",
                                     str(folder / "router.json")], cwd=folder, stdin=subprocess.DEVNULL,
                                    stdout=out, stderr=out, start_new_session=True, env=serving_env())
        self._routers[name] = proc
        self._watch(proc)
        deadline = time.monotonic() + ROUTER_START_TIMEOUT_S
        while time.monotonic() < deadline:
            if state.exists():
                try:
                    info = json.loads(state.read_text())
                except ValueError:
                    info = None  # being written
                if info and info.get("pid") == proc.pid:
                    self.store.update("endpoints", {"name": name}, {
                        "router_pid": proc.pid, "router_pid_start": start_time(proc.pid), "port": info["port"]})
                    return
            if proc.poll() is not None:
                break
            time.sleep(0.02)
        if proc.poll() is None:
            stop_group(proc.pid, None, proc=proc)
        lines = (folder / "router.log").read_text(errors="replace").strip().splitlines()
        raise OperationFailed(f"the router of '{name}' did not start on port {port}: "
                              f"{lines[-1] if lines else 'it wrote nothing'} (see {folder / 'router.log'})")

    def kept_ports(self) -> set[int]:
        """Every port the workspace keeps for a router or an instance, running or not."""
        return ({r["port"] for r in self.store.rows("SELECT port FROM endpoints WHERE port IS NOT NULL")}
                | {r["port"] for r in self.store.rows("SELECT port FROM instances")})

    def _push_pending(self, exclude: set[str]) -> None:
        """Finish commits whose push failed: hand the router what the store says."""
        for row in self.store.rows("SELECT * FROM endpoints WHERE applied_revision < revision "
                                   "AND provisioning_state != 'Deleting'"):
            if row["name"] in exclude or not self.router_up(row):
                continue
            try:
                self.admin.push(row["name"])
                log.info("router of %s took revision %s, which it had missed", row["name"], row["revision"])
            except Exception as err:
                log.warning("router of %s has not taken revision %s yet: %s", row["name"], row["revision"], err)

    # --- instances ---------------------------------------------------------------------------

    def _check_instances(self) -> set[str]:
        changed: set[str] = set()
        now = time.monotonic()
        for inst in self.store.rows("SELECT i.*, d.spec, d.provisioning_state FROM instances i JOIN deployments d "
                                    "ON d.endpoint = i.endpoint AND d.name = i.deployment"):
            if inst["provisioning_state"] in ("Failed", "Deleting") or not inst["pid"]:
                continue
            key = (inst["endpoint"], inst["deployment"], inst["idx"])
            proc = self._procs.get(key)
            dead = proc.poll() is not None if proc is not None else not alive(inst["pid"], inst["pid_start"])
            if dead:
                changed |= self._on_death(inst, key, proc)
                continue
            changed |= self._probe(inst, key, now)
        return changed

    def _on_death(self, inst: dict[str, Any], key: tuple[str, str, int],
                  proc: subprocess.Popen[bytes] | None) -> set[str]:
        self._procs.pop(key, None)
        reason = exit_reason(proc.returncode) if proc is not None and proc.returncode is not None else ADOPTED_EXIT
        # `mlflow models serve` runs uvicorn as a child: if only the parent died, the orphan would
        # keep the port (and answer probes for a process we no longer supervise). End the group.
        try:
            os.killpg(inst["pid"], signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        restarts = inst["restarts"] + 1
        self.store.update("instances", {"endpoint": key[0], "deployment": key[1], "idx": key[2]},
                          {"ready": 0, "restarts": restarts, "pid": None})
        name = f"{key[0]}/{key[1]} instance {key[2]}"
        if inst["provisioning_state"] == "Creating" and restarts >= MAX_EARLY_EXITS:
            log_path = self.root / key[0] / key[1] / f"instance-{key[2]}.log"
            tail = log_path.read_text(errors="replace").strip().splitlines()[-3:] if log_path.exists() else []
            log.error("%s (pid %s) died before it was ever ready, %d times: %s; the deployment failed",
                      name, inst["pid"], restarts, reason)
            self.fail(key[0], key[1], "instance exited before it was ready: " + " | ".join(tail))
            return {key[0]}
        log.warning("%s (pid %s, port %s) died: %s; starting it again (restart %d)", name, inst["pid"],
                    inst["port"], reason, restarts)
        self.start_instance({**inst, "restarts": restarts})
        return {key[0]} if inst["ready"] else set()

    def _probe(self, inst: dict[str, Any], key: tuple[str, str, int], now: float) -> set[str]:
        state = self._probes.setdefault(key, {"started": now - 3600, "ok": 0, "fail": 0, "live_fail": 0, "next": 0.0})
        readiness, liveness = inst["spec"]["readiness_probe"], inst["spec"]["liveness_probe"]
        if now - state["started"] < min(readiness["initial_delay"], liveness["initial_delay"]) or now < state["next"]:
            return set()
        state["next"] = now + min(readiness["period"], liveness["period"])
        ok = ping(inst["port"], readiness["timeout"])
        state["ok"], state["fail"] = (state["ok"] + 1, 0) if ok else (0, state["fail"] + 1)
        state["live_fail"] = 0 if ok else state["live_fail"] + 1
        if state["live_fail"] >= liveness["failure_threshold"]:
            log.warning("%s/%s instance %s failed its liveness probe %d times: killing it to restart it",
                        key[0], key[1], key[2], state["live_fail"])
            signal_group(inst["pid"], inst["pid_start"], signal.SIGKILL)
            return set()
        ready = inst["ready"]
        if not ready and state["ok"] >= readiness["success_threshold"]:
            ready = 1
            if inst["restarts"]:
                log.info("%s/%s instance %s is ready again (pid %s) %.1f s after it started", key[0], key[1],
                         key[2], inst["pid"], now - state["started"])
        elif ready and state["fail"] >= readiness["failure_threshold"]:
            ready = 0
            log.warning("%s/%s instance %s failed its readiness probe %d times: no traffic until it passes",
                        key[0], key[1], key[2], state["fail"])
        if ready != inst["ready"]:
            self.store.update("instances", {"endpoint": key[0], "deployment": key[1], "idx": key[2]}, {"ready": ready})
            return {key[0]}
        return set()

    def _settle_provisioning(self) -> None:
        for dep in self.store.rows("SELECT * FROM deployments WHERE provisioning_state = 'Creating'"):
            ready = self.store.scalar("SELECT COUNT(*) FROM instances WHERE endpoint = ? AND deployment = ? AND ready = 1",
                                      (dep["endpoint"], dep["name"]))
            if ready == dep["instance_count"]:
                with self.store.transaction():
                    self.store.update("deployments", {"endpoint": dep["endpoint"], "name": dep["name"]},
                                      {"provisioning_state": "Succeeded"})
                    if dep["operation_id"]:
                        self.ctx.finish_operation(dep["operation_id"])

    def start_instance(self, inst: dict[str, Any]) -> None:
        """Start one `mlflow models serve` instance, unless its deployment is being deleted, has
        failed or is gone, or the service is suspended (checked under the lifecycle lock)."""
        endpoint, name = inst["endpoint"], inst["deployment"]
        with self.lifecycle:
            state = self.store.scalar("SELECT provisioning_state FROM deployments WHERE endpoint = ? AND name = ?",
                                      (endpoint, name))
            if state is None or state in ("Deleting", "Failed") or self.suspended:
                return
            self._spawn_instance(inst)

    def _spawn_instance(self, inst: dict[str, Any]) -> None:
        endpoint, name, idx = inst["endpoint"], inst["deployment"], inst["idx"]
        folder = self.root / endpoint / name
        command, env = scoring_command(folder / "model", inst["port"])
        with open(folder / f"instance-{idx}.log", "ab") as out:
            proc = subprocess.Popen(command, cwd=folder, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                    start_new_session=True, env=env)
        key = (endpoint, name, idx)
        self._procs[key] = proc
        self._watch(proc)
        self._probes[key] = {"started": time.monotonic(), "ok": 0, "fail": 0, "live_fail": 0, "next": 0.0}
        self.store.update("instances", {"endpoint": endpoint, "deployment": name, "idx": idx},
                          {"pid": proc.pid, "pid_start": start_time(proc.pid), "ready": 0,
                           "started_at": self.ctx.clock.now().isoformat()})

    def stop_instances(self, endpoint: str, name: str) -> list[int]:
        """Stop every instance of a deployment and wait until each process group is gone;
        returns the pids that were running."""
        stopped = []
        for inst in self.store.rows("SELECT * FROM instances WHERE endpoint = ? AND deployment = ?", (endpoint, name)):
            key = (endpoint, name, inst["idx"])
            self._probes.pop(key, None)
            if stop_group(inst["pid"], inst["pid_start"], proc=self._procs.pop(key, None)):
                stopped.append(inst["pid"])
            self.store.update("instances", {"endpoint": endpoint, "deployment": name, "idx": inst["idx"]},
                              {"pid": None, "ready": 0})
        return stopped

    def fail(self, endpoint: str, name: str, error: str) -> None:
        row = self.store.row("SELECT operation_id FROM deployments WHERE endpoint = ? AND name = ?", (endpoint, name))
        with self.store.transaction():
            self.store.update("deployments", {"endpoint": endpoint, "name": name},
                              {"provisioning_state": "Failed", "error": error})
            if row and row["operation_id"]:
                self.ctx.finish_operation(row["operation_id"], "Failed", error)
        self.stop_instances(endpoint, name)

    def _watch(self, proc: subprocess.Popen[bytes]) -> None:
        """Wake the pass as soon as `proc` exits, so its replacement starts without waiting."""
        def wait() -> None:
            proc.wait()
            self.wake.set()

        threading.Thread(target=wait, name=f"watch-{proc.pid}", daemon=True).start()

    # --- deletes -----------------------------------------------------------------------------

    def finish_deployment_delete(self, endpoint: str, name: str) -> dict[str, Any] | None:
        """Stop a Deleting deployment's instances and forget it; returns its row as it was. Its
        router forgets it on the next push (it has no traffic: a rule of the delete)."""
        row = self.store.row("SELECT * FROM deployments WHERE endpoint = ? AND name = ?", (endpoint, name))
        if row is None:
            return None
        self.stop_instances(endpoint, name)
        with self.store.transaction():
            self.store.execute("DELETE FROM instances WHERE endpoint = ? AND deployment = ?", (endpoint, name))
            self.store.execute("DELETE FROM deployments WHERE endpoint = ? AND name = ?", (endpoint, name))
            self.store.execute("UPDATE endpoints SET revision = revision + 1 WHERE name = ?", (endpoint,))
        shutil.rmtree(self.root / endpoint / name, ignore_errors=True)
        return row

    def finish_endpoint_delete(self, name: str) -> None:
        """Stop what a Deleting endpoint still runs (instances first, then the router) and forget it."""
        row = self.store.row("SELECT * FROM endpoints WHERE name = ?", (name,))
        if row is None:
            return
        for dep in self.store.rows("SELECT name FROM deployments WHERE endpoint = ?", (name,)):
            self.stop_instances(name, dep["name"])
        stop_group(row["router_pid"], row["router_pid_start"], proc=self._routers.pop(name, None))
        with self.store.transaction():
            self.store.execute("DELETE FROM instances WHERE endpoint = ?", (name,))
            self.store.execute("DELETE FROM deployments WHERE endpoint = ?", (name,))
            self.store.execute("DELETE FROM endpoints WHERE name = ?", (name,))
        shutil.rmtree(self.root / name, ignore_errors=True)

    def _finish_interrupted_deletes(self) -> None:
        for row in self.store.rows("SELECT name FROM endpoints WHERE provisioning_state = 'Deleting'"):
            if (row["name"], None) in self.deleting:
                continue
            log.warning("endpoint %s was left Deleting (an interrupted delete): finishing it", row["name"])
            self.finish_endpoint_delete(row["name"])
            self.ctx.audit(DAEMON, "endpoints.delete", row["name"], detail="finished a delete that was interrupted")
        # A deployment of an endpoint being deleted goes with its endpoint.
        for dep in self.store.rows("SELECT d.endpoint, d.name, d.model, d.instance_count FROM deployments d "
                                   "JOIN endpoints e ON e.name = d.endpoint "
                                   "WHERE d.provisioning_state = 'Deleting' AND e.provisioning_state != 'Deleting'"):
            if (dep["endpoint"], dep["name"]) in self.deleting:
                continue
            target = f"{dep['endpoint']}/{dep['name']}"
            log.warning("deployment %s was left Deleting (an interrupted delete): finishing it", target)
            self.finish_deployment_delete(dep["endpoint"], dep["name"])
            self.ctx.audit(DAEMON, "endpoints.delete_deployment", target,
                           before={"model": dep["model"], "instance_count": dep["instance_count"]},
                           detail="finished a delete that was interrupted")

    # --- the workspace's processes -----------------------------------------------------------

    def stop_all(self) -> list[dict[str, Any]]:
        """Stop every scoring instance and router of the workspace, keeping the endpoints and
        deployments: the next daemon start adopts them and starts them again. Returns what was
        stopped, one {"kind", "name", "pid"} each. Nothing is started after this (suspended)."""
        stopped: list[dict[str, Any]] = []
        with self.lifecycle:
            self.suspended = True
        for row in self.store.rows("SELECT * FROM endpoints ORDER BY name"):
            for dep in self.store.rows("SELECT name FROM deployments WHERE endpoint = ? ORDER BY name", (row["name"],)):
                stopped += [{"kind": "instance", "name": f"{row['name']}/{dep['name']}", "pid": pid}
                            for pid in self.stop_instances(row["name"], dep["name"])]
            if stop_group(row["router_pid"], row["router_pid_start"], proc=self._routers.pop(row["name"], None)):
                stopped.append({"kind": "router", "name": row["name"], "pid": row["router_pid"]})
            self.store.update("endpoints", {"name": row["name"]}, {"router_pid": None, "router_pid_start": None})
        return stopped

    def processes(self) -> list[dict[str, Any]]:
        """The routers and scoring instances that run now, one {"kind", "name", "pid"} each."""
        found = [{"kind": "router", "name": r["name"], "pid": r["router_pid"]}
                 for r in self.store.rows("SELECT name, router_pid, router_pid_start FROM endpoints ORDER BY name")
                 if r["router_pid"] and alive(r["router_pid"], r["router_pid_start"])]
        found += [{"kind": "instance", "name": f"{i['endpoint']}/{i['deployment']}", "pid": i["pid"]}
                  for i in self.store.rows("SELECT * FROM instances ORDER BY endpoint, deployment, idx")
                  if i["pid"] and alive(i["pid"], i["pid_start"])]
        return found


def exit_reason(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exited with status {returncode}"


def ping(port: int, timeout: float) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=timeout) as reply:
            return reply.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def scoring_command(model: Path, port: int) -> tuple[list[str], dict[str, str]]:
    """MLflow's scoring server for `model` on `port`, one worker: the command and environment
    `mlflow models serve --env-manager local -w 1` builds and runs (scoring_server.get_cmd),
    started directly. The CLI in front of it imports MLflow once more before it starts the
    server: 4.9 s to the first /ping instead of 2.4 s (medians of 3 on this 2-core machine),
    which is most of how long a replaced instance keeps a deployment short of capacity."""
    import shlex

    from mlflow.pyfunc.scoring_server import get_cmd

    command, server_env = get_cmd(str(model), port=port, host="127.0.0.1", nworkers=1)
    base = serving_env()
    env = {**base, **{k: v for k, v in server_env.items() if os.environ.get(k) != v}}
    return shlex.split(command), env


def serving_env() -> dict[str, str]:
    env = dict(os.environ)
    # `mlflow models serve` starts uvicorn by name: the venv's bin must be on PATH.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.pop("MLFLOW_RUN_ID", None)
    # One request scores a row or a few: an OpenMP pool per model buys nothing and hands each
    # tree of a booster to another thread, which on a busy machine turned 2 ms into 100 ms.
    env.setdefault("OMP_NUM_THREADS", "1")
    return env
