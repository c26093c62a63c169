"""The conformance suite's `workspace` fixture: the same behavioural tests over every backend.

- canned: the in-memory demo workspace (tests/fakes/canned.py), fresh for each test;
- azure: the azure workspace (console/azure/) over the fake ARM (tests/fakes/arm.py), the real
  azure-ai-ml in between, fresh for each test;
- local: a real daemon in a temporary folder, set up once for the session (a model served on
  churn-ep as blue at 100 % and green at 0 %, a cluster, an instance, a monitor, a completed job that printed and logged an MLflow metric).
  Tests that change it put back what they changed, and each states the starting point it needs.
"""

from __future__ import annotations

import pytest

from console.local.client import LocalWorkspace, stop_daemon

from fakes.azure import offline  # noqa: F401 (fixture)
from fakes.canned import CannedWorkspace
from helpers import FAST_PROBES, REPO, wait_until

SPECS = REPO / "specs"
ONE_INSTANCE = {**FAST_PROBES, "instance_count": 1}
QUICK_JOB = """$schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json
command: echo contract && python -c "import mlflow; mlflow.log_metric('contract_metric', 1.0)"
environment: azureml://registries/azureml/environments/sklearn-1.5/labels/latest
"""


@pytest.fixture(scope="session")
def local_contract_workspace(tmp_path_factory, churn_model):
    root = tmp_path_factory.mktemp("contract") / "ws"
    ws = LocalWorkspace(root)
    try:
        for spec in ("compute/cpu-cluster.yml", "compute/dev-instance.yml", "data/churn-features.yml"):
            ws.assets.create(str(SPECS / spec))
        ws.models.register("churn-classifier", path=str(churn_model))
        ws.endpoints.create(str(SPECS / "endpoints" / "churn-ep.yml"))
        ops = [ws.endpoints.create_deployment(str(SPECS / "endpoints" / spec), ONE_INSTANCE)
               for spec in ("blue-deployment.yml", "green-deployment.yml")]
        for op in ops:
            assert ws.operations.wait(op.id, timeout_s=180).status == "Succeeded"
        ws.endpoints.set_traffic("churn-ep", {"blue": 100})
        ws.assets.create(str(SPECS / "monitoring" / "churn-drift.yml"))
        (root.parent / "job.yml").write_text(QUICK_JOB)
        job = ws.jobs.submit(str(root.parent / "job.yml"))
        wait_until(lambda: ws.jobs.get(job.name).is_terminal, 60, "the contract job to end")
        assert ws.jobs.get(job.name).status == "Completed", "".join(ws.jobs.logs(job.name))
        yield ws
    finally:
        for endpoint in ws.endpoints.list():
            ws.endpoints.delete(endpoint.name)
        stop_daemon(ws.folder)


@pytest.fixture(params=["canned", "azure", pytest.param("local", marks=pytest.mark.integration)])
def workspace(request):
    if request.param == "canned":
        return CannedWorkspace()
    if request.param == "azure":
        from fakes.arm import FakeArm
        from fakes.azure import azure_workspace

        request.getfixturevalue("offline")
        fake = FakeArm()
        ws = azure_workspace(fake, request.getfixturevalue("tmp_path"), request.getfixturevalue("monkeypatch"))
        ws.fake = fake  # for read_only_twin
        return ws
    return request.getfixturevalue("local_contract_workspace")


@pytest.fixture()
def read_only_twin(workspace, tmp_path, monkeypatch):
    """The same workspace opened read-only."""
    if isinstance(workspace, CannedWorkspace):
        twin = CannedWorkspace(read_only=True)
        twin.state = workspace.state
        return twin
    if workspace.backend == "azure":
        from fakes.azure import azure_workspace

        return azure_workspace(workspace.fake, tmp_path, monkeypatch, read_only=True)
    return LocalWorkspace(workspace.folder.root, read_only=True)
