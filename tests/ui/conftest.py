"""`app_all_backends`: the console over every workspace backend, as Harlequin runs its app tests
over every adapter. It yields (backend name, app), a fresh app for each test:

- canned: the in-memory demo workspace (tests/fakes/canned.py), fresh for each test;
- azure: console/azure/ over the fake ARM (tests/fakes/arm.py), the real azure-ai-ml in between,
  fresh for each test;
- local: a real daemon in a temporary folder, one per test module (its start is the slow part):
  churn-ep serving blue at 100 % and green at 0 % (one instance each), a cluster, an idle
  instance, the drift monitor, a running job. Tests that change it put back what they changed.

The app is `RecordingApp`, which keeps every notification it shows, and reads the project's
specs from `project_specs`: one quick job to submit and a green deployment that is ready in
seconds (one instance, probes every second), so deploying green on the daemon is quick.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pytest

from console.ui.app import AmlopsApp

from fakes.azure import offline  # noqa: F401 (fixture)
from helpers import FAST_PROBES, REPO, wait_until, workspace_processes

SPECS = REPO / "specs"
ECHO_JOB = """$schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json
command: echo ${{inputs.word}}
inputs:
  word: hello
environment: azureml://registries/azureml/environments/sklearn-1.5/versions/1
experiment_name: ui
display_name: echo
"""
SLEEPER = """$schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json
command: sleep 300
environment: azureml://registries/azureml/environments/sklearn-1.5/versions/1
experiment_name: ui
display_name: sleeper
"""
GREEN = """$schema: https://azuremlschemas.azureedge.net/latest/managedOnlineDeployment.schema.json
name: green
endpoint_name: churn-ep
model: azureml:churn-classifier:1
instance_type: Standard_DS2_v2
instance_count: 1
liveness_probe: {initial_delay: 1, period: 1, timeout: 1}
readiness_probe: {initial_delay: 1, period: 1, timeout: 1}
"""


class RecordingApp(AmlopsApp):
    """The console, keeping (title, message, severity) of every notification it shows."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.notices: list[tuple[str, str, str]] = []

    def notify(self, message: str, *, title: str = "", severity: str = "information", **kw: Any) -> None:
        self.notices.append((title, str(message), severity))
        super().notify(message, title=title, severity=severity, **kw)


@pytest.fixture(scope="session")
def project_specs(tmp_path_factory) -> Path:
    """A project's specs folder: jobs/echo.yml and endpoints/green-deployment.yml."""
    specs = tmp_path_factory.mktemp("project") / "specs"
    (specs / "jobs").mkdir(parents=True)
    (specs / "endpoints").mkdir()
    (specs / "jobs" / "echo.yml").write_text(ECHO_JOB)
    (specs / "endpoints" / "green-deployment.yml").write_text(GREEN)
    return specs


@pytest.fixture(scope="module")
def local_ui_workspace(tmp_path_factory, churn_model):
    from console.local.client import LocalWorkspace, stop_daemon

    root = tmp_path_factory.mktemp("ui-local") / "ws"
    ws = LocalWorkspace(root)
    try:
        for spec in ("compute/cpu-cluster.yml", "compute/dev-instance.yml", "data/churn-features.yml"):
            ws.assets.create(str(SPECS / spec))  # the data asset: the monitor's reference_data
        ws.models.register("churn-classifier", path=str(churn_model))
        ws.endpoints.create(str(SPECS / "endpoints" / "churn-ep.yml"))
        ops = [ws.endpoints.create_deployment(str(SPECS / "endpoints" / spec), {**FAST_PROBES, "instance_count": 1})
               for spec in ("blue-deployment.yml", "green-deployment.yml")]  # side by side
        for op in ops:
            done = ws.operations.wait(op.id, timeout_s=180)
            assert done.status == "Succeeded", done.error
        ws.endpoints.set_traffic("churn-ep", {"blue": 100})
        ws.assets.create(str(SPECS / "monitoring" / "churn-drift.yml"))
        (root.parent / "sleeper.yml").write_text(SLEEPER)
        ws.jobs.submit(str(root.parent / "sleeper.yml"))
        yield ws
    finally:
        try:
            for job in ws.jobs.list():
                if not job.is_terminal:
                    ws.jobs.cancel(job.name)
            for endpoint in ws.endpoints.list():
                ws.endpoints.delete(endpoint.name)
        finally:
            stop_daemon(ws.folder)
            # What outlives the daemon by design (routers, scoring servers, jobs): ours, by pid.
            for pid, _ in workspace_processes(root):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            wait_until(lambda: not workspace_processes(root), 10, "the local workspace's processes to end")


@pytest.fixture(params=["canned", "azure", pytest.param("local", marks=pytest.mark.integration)])
def app_all_backends(request, project_specs) -> tuple[str, RecordingApp]:
    """(backend name, the console over it), for each backend in turn."""
    if request.param == "canned":
        from fakes.canned import CannedWorkspace

        return "canned", RecordingApp(CannedWorkspace(), specs=project_specs)
    if request.param == "azure":
        from fakes.arm import FakeArm
        from fakes.azure import azure_workspace

        request.getfixturevalue("offline")
        ws = azure_workspace(FakeArm(), request.getfixturevalue("tmp_path"), request.getfixturevalue("monkeypatch"))
        return "azure", RecordingApp(ws, specs=project_specs)
    return "local", RecordingApp(request.getfixturevalue("local_ui_workspace"), specs=project_specs)
