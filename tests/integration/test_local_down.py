"""Stopping the local workspace: `local down` says what it leaves running (jobs and endpoints
outlive the daemon by design) and `local down --all` stops every process the workspace started,
proved by pid; deleting an endpoint never leaves a scoring server behind, even when the
supervisor is restarting one of its instances at that moment."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from console import demo
from console.local.client import LocalWorkspace, stop_daemon
from console.local.procs import alive, start_time

from helpers import FAST_PROBES, REPO, wait_until, workspace_processes

pytestmark = pytest.mark.integration

ONE_INSTANCE = {**FAST_PROBES, "instance_count": 1}
SLEEPER = """$schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json
command: python -c "import time; time.sleep(600)"
environment: azureml://registries/azureml/environments/sklearn-1.5/labels/latest
"""


def amlops(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "AMLOPS_"))}
    return subprocess.run([sys.executable, "-m", "console.cli", "--workspace-dir", str(root), *args], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=300)


def serve_blue(ws: LocalWorkspace) -> None:
    ws.endpoints.create(str(REPO / "specs" / "endpoints" / "churn-ep.yml"))
    op = ws.endpoints.create_deployment(str(REPO / "specs" / "endpoints" / "blue-deployment.yml"), ONE_INSTANCE)
    assert ws.operations.wait(op.id, timeout_s=120).status == "Succeeded"


def test_down_all_stops_every_process_the_workspace_started(workspace_with_model, tmp_path):
    ws = workspace_with_model
    root = ws.folder.root
    serve_blue(workspace_with_model)
    job_spec = tmp_path / "sleeper.yml"
    job_spec.write_text(SLEEPER)
    job = ws.jobs.submit(str(job_spec))
    wait_until(lambda: ws.jobs.get(job.name).status == "Running", 60, "the job to run")
    load = demo.start_load(ws.folder)
    daemon = ws.connection.call("daemon.status")
    started = {pid for pid, _ in workspace_processes(root)}
    recorded = {p["pid"]: f"{p['kind']} {p['name']}" for p in daemon["processes"]}
    recorded |= {daemon["pid"]: "daemon", load: "demo load"}
    assert {p["kind"] for p in daemon["processes"]} == {"job", "router", "instance"}
    assert {pid: what for pid, what in recorded.items() if pid not in started} == {}

    # Plain down: the daemon and the demo load go; what outlives them is named, with the way out.
    down = amlops(root, "local", "down")
    assert down.returncode == 0, down.stderr
    assert f"stopped the demo load (pid {load})" in down.stdout
    assert "left running" in down.stdout and "amlops local down --all" in down.stdout
    for proc in daemon["processes"]:
        assert f"{proc['pid']}" in down.stdout and proc["name"] in down.stdout
        assert alive(proc["pid"], None), f"{proc} should outlive a plain local down"

    # --all: nothing of the workspace runs any more, by pid and by a scan of every process.
    down_all = amlops(root, "local", "down", "--all")
    assert down_all.returncode == 0, down_all.stderr
    assert f"stopped job {job.name}" in down_all.stdout and "stopped router churn-ep" in down_all.stdout
    assert "scoring instance of churn-ep/blue" in down_all.stdout
    assert [pid for pid in started if alive(pid, None)] == []
    assert workspace_processes(root) == []

    # The workspace is whole: the job ended Canceled (audited), the endpoint serves again on the next start.
    assert ws.jobs.get(job.name).status == "Canceled"
    assert {"jobs.cancel", "daemon.stop_all"} <= {a.operation for a in ws.audit.list(limit=10)}
    wait_until(lambda: ws.endpoints.get("churn-ep").deployments[0].ready_instances == 1, 60,
               "blue to serve again after the restart")
    ws.endpoints.delete("churn-ep")
    stop_daemon(ws.folder)
    assert workspace_processes(root) == []


def test_down_all_refuses_a_read_only_workspace(empty_workspace):
    down = amlops(empty_workspace.folder.root, "--read-only", "local", "down", "--all")
    assert down.returncode == 2 and "read-only" in down.stderr


def test_deleting_an_endpoint_while_an_instance_restarts_leaves_no_server(workspace_with_model):
    """End to end; the guard that makes it so is pinned without timing in the next test."""
    ws = workspace_with_model
    serve_blue(ws)
    instance = ws.connection.call("daemon.processes")[-1]
    assert instance["kind"] == "instance"
    os.killpg(instance["pid"], signal.SIGKILL)  # the supervisor restarts it on its next pass
    ws.endpoints.delete("churn-ep")
    assert [cmd for _, cmd in workspace_processes(ws.folder.root) if "models serve" in cmd or "uvicorn" in cmd] == []
    stop_daemon(ws.folder)
    assert workspace_processes(ws.folder.root) == []


def test_no_instance_starts_for_a_deployment_being_deleted(tmp_path):
    """The guard itself, without timing: the supervisor's restart path refuses a Deleting deployment."""
    from console.local.daemon import Daemon
    from console.local.folder import WorkspaceFolder

    daemon = Daemon(WorkspaceFolder(tmp_path / "ws"))
    store = daemon.store
    store.insert("endpoints", {"name": "ep", "auth_mode": "key", "provisioning_state": "Succeeded", "spec": {},
                               "created_at": "2026-12-01T00:00:00+00:00"})
    store.insert("deployments", {"endpoint": "ep", "name": "blue", "instance_type": "Standard_DS2_v2",
                                 "instance_count": 1, "provisioning_state": "Deleting", "spec": {},
                                 "created_at": "2026-12-01T00:00:00+00:00"})
    store.insert("instances", {"endpoint": "ep", "deployment": "blue", "idx": 0, "port": 1})
    inst = store.row("SELECT * FROM instances")
    daemon.endpoints.supervisor.start_instance(inst)
    assert store.row("SELECT pid FROM instances")["pid"] is None and not daemon.endpoints.supervisor._procs
    store.update("deployments", {"endpoint": "ep", "name": "blue"}, {"provisioning_state": "Succeeded"})
    daemon.endpoints.supervisor.suspended = True  # local down --all: nothing starts any more
    daemon.endpoints.supervisor.start_instance(inst)
    assert store.row("SELECT pid FROM instances")["pid"] is None
    store.close()


def test_stop_all_once_reports_json_and_leaves_nothing(tmp_path):
    """The one-shot the CLI runs works on a workspace with nothing running too."""
    root = tmp_path / "ws"
    done = subprocess.run([sys.executable, "-m", "console.local.daemon", "--stop-all", "--workspace-dir", str(root)],
                          capture_output=True, text=True, timeout=60, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"stopped": [], "left": []}
    assert start_time(os.getpid())  # sanity: /proc readable here
