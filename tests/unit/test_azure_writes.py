"""The azure workspace's deploy, register and scoring paths over the fake ARM, the real azure-ai-ml
in between: a new deployment takes no traffic, bad input and read-only are refused before any
request, re-applying an endpoint's YAML keeps its split, scoring sends the endpoint's key and pins
only the call that asked. (Azure Monitor's figures: test_azure_metrics.py.)"""

from __future__ import annotations

import pytest

from console.errors import BadInput, InvalidField, NotFound, NotSupported, ReadOnlyError, SpecError

from fakes.arm import FakeArm
from fakes.azure import azure_workspace, offline, ws  # noqa: F401 (fixtures)
from helpers import REPO

SPECS = REPO / "specs"
GREEN = str(SPECS / "endpoints" / "green-deployment.yml")
ROWS = (REPO / "tests" / "fixtures" / "churn-request.json").read_text()


@pytest.fixture()
def fake():
    fake = FakeArm()
    del fake.deployments["churn-ep"]["green"]  # as before the console's deploy-green
    fake.endpoints["churn-ep"]["properties"]["traffic"] = {"blue": 100}
    return fake


pytestmark = pytest.mark.usefixtures("offline")


def test_deploy_green_sends_the_model_asked_for_and_it_takes_no_traffic(ws, fake):
    with fake.operations_held():
        op = ws.endpoints.create_deployment(GREEN, {"model": "azureml:churn-classifier:2"})
        green = next(d for d in ws.endpoints.get("churn-ep").deployments if d.name == "green")
        assert (green.provisioning_state, green.ready_instances) == ("Creating", 0)
    assert ws.operations.wait(op.id, timeout_s=10).status == "Succeeded"
    (put,) = fake.calls("PUT", r"/deployments/green$")
    assert put.body["properties"]["model"].endswith("/models/churn-classifier/versions/2")
    assert put.body["sku"]["capacity"] == 2 and put.body["properties"]["instanceType"] == "Standard_DS2_v2"
    assert not fake.calls("PUT", r"/onlineEndpoints/churn-ep$"), "a new deployment must not touch the split"
    endpoint = ws.endpoints.get("churn-ep")
    assert dict(endpoint.traffic.live) == {"blue": 100, "green": 0}
    assert {d.name: d.provisioning_state for d in endpoint.deployments} == {"blue": "Succeeded", "green": "Succeeded"}
    results = [(e.operation, e.result, e.detail) for e in ws.audit.list()]
    assert results[:2] == [("endpoints.create_deployment", "Succeeded", "created at 0 % traffic"),
                           ("endpoints.create_deployment", "InProgress", "created at 0 % traffic")]


def test_a_deployment_azure_fails_is_a_failed_operation_and_audited_so(ws, fake):
    fake.fail_next_operation("QuotaExceeded", "Not enough quota available for Standard_DS2_v2 in SubscriptionId")
    op = ws.operations.wait(ws.endpoints.create_deployment(GREEN).id, timeout_s=10)
    assert op.status == "Failed" and "Not enough quota" in op.error
    assert (ws.audit.list()[0].result, "Not enough quota" in ws.audit.list()[0].detail) == ("Failed", True)


def test_bad_input_and_read_only_send_no_request(ws, fake, tmp_path, monkeypatch):
    broken = tmp_path / "bad.yml"
    broken.write_text("$schema: https://azuremlschemas.azureedge.net/latest/managedOnlineDeployment.schema.json\n"
                      "name: green\nendpoint_name: churn-ep\nmodel: azureml:churn-classifier:1\ninstance_count: many\n")
    sent = len(fake.requests)
    with pytest.raises(SpecError) as err:
        ws.endpoints.create_deployment(str(broken))
    assert "instance_count" in str(err.value) and len(fake.requests) == sent
    read_only = azure_workspace(fake, tmp_path / "ro", monkeypatch, read_only=True)
    for write in (lambda: read_only.endpoints.create_deployment(GREEN),
                  lambda: read_only.assets.create(str(SPECS / "endpoints" / "churn-ep.yml")),
                  lambda: read_only.models.register("churn-classifier", job="happy_cloud_3j5k7l9m0n")):
        with pytest.raises(ReadOnlyError):
            write()
    assert len(fake.requests) == sent


def test_unknown_endpoint_or_model_is_not_found_and_nothing_is_put(ws, fake):
    with pytest.raises(NotFound, match="model 'churn-classifier:7'"):
        ws.endpoints.create_deployment(GREEN, {"model": "azureml:churn-classifier:7"})
    with pytest.raises(NotFound, match="online endpoint 'no-such-ep'"):
        ws.endpoints.create_deployment(GREEN, {"endpoint_name": "no-such-ep"})
    assert not fake.calls("PUT")


def test_reapplying_the_endpoint_yaml_keeps_the_live_split(ws, fake):
    fake.deployments["churn-ep"]["green"] = fake._deployment("churn-ep", "green", "churn-classifier", "2",
                                                             created=fake.now)
    fake.endpoints["churn-ep"]["properties"]["traffic"] = {"blue": 90, "green": 10}
    created = ws.assets.create(str(SPECS / "endpoints" / "churn-ep.yml"))
    assert created.kind == "online_endpoint"
    assert ws.operations.wait(created.operation.id, timeout_s=10).status == "Succeeded"
    (put,) = fake.calls("PUT", r"/onlineEndpoints/churn-ep$")
    assert put.body["properties"]["traffic"] == {"blue": 90, "green": 10}


def test_a_new_endpoint_is_created(ws, fake, tmp_path):
    spec = tmp_path / "ep.yml"
    spec.write_text((SPECS / "endpoints" / "churn-ep.yml").read_text().replace("name: churn-ep", "name: fraud-ep"))
    op = ws.endpoints.create(str(spec))
    assert ws.operations.wait(op.id, timeout_s=10).status == "Succeeded"
    assert ws.endpoints.get("fraud-ep").provisioning_state == "Succeeded"


def test_data_already_in_azure_is_registered_without_an_upload(ws, fake, tmp_path):
    remote = tmp_path / "remote.yml"
    remote.write_text("$schema: https://azuremlschemas.azureedge.net/latest/data.schema.json\nname: churn_holdout\n"
                      "version: 1\ntype: uri_file\n"
                      "path: azureml://datastores/workspaceblobstore/paths/churn/holdout.csv\n")
    made = ws.assets.create(str(remote))
    assert (made.kind, made.name, made.version, made.note) == ("data", "churn_holdout", "1", None)
    assert fake.data["churn_holdout"]["1"]["properties"]["dataUri"].endswith("churn/holdout.csv")
    assert not [c for c in fake.requests if c.method == "PUT" and c.host.endswith(".blob.core.windows.net")]


def test_register_a_completed_jobs_model_as_the_next_version(ws, fake):
    made = ws.models.register("churn-classifier", job="happy_cloud_3j5k7l9m0n", description="retrained")
    assert (made.version, made.job) == ("3", "happy_cloud_3j5k7l9m0n")
    (put,) = fake.calls("PUT", r"/models/churn-classifier/versions/3$")
    assert put.body["properties"]["modelUri"] == "azureml://jobs/happy_cloud_3j5k7l9m0n/outputs/artifacts/paths/model/"
    assert [m.version for m in ws.models.list("churn-classifier")][0] == "3"
    assert ws.audit.list()[0].target == "churn-classifier:3"
    with pytest.raises(BadInput, match="is Failed"):
        ws.models.register("churn-classifier", job="brave_stone_x8c4v7b2n1")
    with pytest.raises(NotSupported, match="az ml model create"):
        ws.models.register("churn-classifier", path="./model")
    assert len(fake.calls("PUT")) == 1


def test_scoring_sends_the_endpoints_key_never_the_azure_token(ws, fake):
    result = ws.endpoints.invoke("churn-ep", ROWS)
    assert (result.status_code, result.deployment) == (200, "blue") and result.latency_ms is not None
    (call,) = [c for c in fake.requests if c.host.endswith(".inference.ml.azure.com")]
    assert call.headers["authorization"] == f"Bearer {fake.keys['churn-ep']['primaryKey']}"
    assert "azureml-model-deployment" not in call.headers
    missing = ws.endpoints.invoke("churn-ep", ROWS, deployment="green")  # not deployed in this fixture
    assert missing.status_code == 404 and "green" in missing.body


def test_a_deployment_with_a_scoring_script_uploads_it_as_a_code_asset(ws, fake, tmp_path):
    spec = tmp_path / "scored.yml"
    spec.write_text(f"""$schema: https://azuremlschemas.azureedge.net/latest/managedOnlineDeployment.schema.json
name: green
endpoint_name: churn-ep
model: azureml:churn-classifier:1
code_configuration:
  code: {REPO / 'training'}
  scoring_script: evaluate.py
environment: azureml:churn-train-env:1
instance_type: Standard_DS2_v2
instance_count: 1
""")
    op = ws.endpoints.create_deployment(str(spec))
    assert ws.operations.wait(op.id, timeout_s=10).status == "Succeeded"
    (put,) = fake.calls("PUT", r"/deployments/green$")
    code_id = put.body["properties"]["codeConfiguration"]["codeId"]
    assert "/codes/amlops-" in code_id
    (code,) = fake.calls("PUT", r"/codes/amlops-[^/]+/versions/1$")
    uri = code.body["properties"]["codeUri"]
    assert uri.startswith("https://wsdemostorage.blob.core.windows.net/") and "sig=" not in uri


def test_files_azure_ai_ml_would_upload_itself_are_refused_before_any_request(ws, fake, tmp_path):
    spec = tmp_path / "job.yml"
    spec.write_text("$schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json\ncommand: ls\n"
                    "inputs:\n  rows:\n    type: uri_file\n    path: ./rows.csv\n"
                    "environment: azureml:churn-train-env:1\ncompute: azureml:cpu-cluster\n")
    (tmp_path / "rows.csv").write_text("a\n1\n")
    sent = len(fake.requests)
    with pytest.raises(NotSupported, match="input rows is on this machine"):
        ws.jobs.submit(str(spec))
    assert len(fake.requests) == sent


def test_an_empty_workspace_is_set_up_from_the_demo_specs(tmp_path, monkeypatch, offline):
    empty = FakeArm(empty=True)
    ws = azure_workspace(empty, tmp_path, monkeypatch)
    for spec in ("compute/cpu-cluster.yml", "compute/dev-instance.yml", "environments/churn-train-env.yml",
                 "data/churn-features.yml", "endpoints/churn-ep.yml"):
        made = ws.assets.create(str(SPECS / spec))
        if made.operation is not None:
            assert ws.operations.wait(made.operation.id, timeout_s=10).status == "Succeeded", spec
    assert {c.name: c.state for c in ws.compute.list()} == {"cpu-cluster": "Steady", "dev-instance": "Running"}
    assert [(a.name, a.version) for a in ws.assets.list("environment")] == [("churn-train-env", "1")]
    data = empty.data["churn_features"]["1"]["properties"]["dataUri"]
    assert data.startswith("azureml://datastores/workspaceblobstore/paths/LocalUpload/") and data.endswith(
        "/churn-features/")
    folder = data.split("/paths/", 1)[1]
    assert empty.blobs[folder + "churn.csv"] == (SPECS / "data" / "churn-features" / "churn.csv").read_bytes()
    assert ws.endpoints.get("churn-ep").provisioning_state == "Succeeded"
    assert [e.operation for e in ws.audit.list() if e.result == "Succeeded"] == [
        "endpoints.create", "assets.create", "assets.create", "compute.create", "compute.create"]


def test_a_monitor_schedule_is_created_and_its_drift_reads_the_collected_data(ws, fake):
    del fake.schedules["churn-drift"]
    made = ws.assets.create(str(SPECS / "monitoring" / "churn-drift.yml"))
    assert ws.operations.wait(made.operation.id, timeout_s=10).status == "Succeeded"
    (monitor,) = ws.monitors.list()
    assert (monitor.name, monitor.endpoint_name, monitor.deployment) == ("churn-drift", "churn-ep", "blue")
    assert {f.feature for f in ws.monitors.latest("churn-drift").features if f.drifted} == {"monthly_charges"}


def test_what_azure_ai_ml_would_build_or_azure_refuses_creates_nothing(ws, fake, tmp_path):
    env = tmp_path / "env.yml"
    env.write_text("$schema: https://azuremlschemas.azureedge.net/latest/environment.schema.json\nname: built\n"
                   "version: 1\nbuild:\n  path: ./docker\n")
    (tmp_path / "docker").mkdir()
    (tmp_path / "docker" / "Dockerfile").write_text("FROM python:3.11\n")
    with pytest.raises(NotSupported, match="az ml environment create -f"):
        ws.assets.create(str(env))
    big = tmp_path / "big.yml"
    big.write_text((SPECS / "compute" / "cpu-cluster.yml").read_text().replace("Standard_DS3_v2", "Standard_ND96_v9")
                   .replace("name: cpu-cluster", "name: big-cluster"))
    with pytest.raises(BadInput, match="Standard_ND96_v9 is not available"):
        ws.operations.wait(ws.assets.create(str(big)).operation.id, timeout_s=10)
    assert "big-cluster" not in fake.computes and "built" not in fake.environments


def test_create_never_overwrites_compute_or_mistypes_data_and_sends_nothing_then(ws, fake, tmp_path):
    sent = len(fake.requests)
    with pytest.raises(BadInput, match="az ml compute update --name cpu-cluster"):
        ws.assets.create(str(SPECS / "compute" / "cpu-cluster.yml"))  # ARM's create would overwrite it
    assert not fake.calls("PUT")
    (tmp_path / "rows.csv").write_text("a\n1\n")
    for kind, path, error in (("uri_folder", "./rows.csv", InvalidField), ("mltable", ".", NotSupported)):
        spec = tmp_path / f"{kind}.yml"
        spec.write_text("$schema: https://azuremlschemas.azureedge.net/latest/data.schema.json\n"
                        f"name: rows_{kind}\nversion: 1\ntype: {kind}\npath: {path}\n")
        with pytest.raises(error):
            ws.assets.create(str(spec))
    assert not [c for c in fake.requests[sent:] if c.method == "PUT"]


def test_a_job_schedule_with_code_on_this_machine_is_refused_before_any_request(ws, fake, tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "main.py").write_text("print('hi')\n")
    (tmp_path / "job.yml").write_text("$schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json\n"
                                      "type: command\ncode: ./src\ncommand: python main.py\n"
                                      "environment: azureml:churn-train-env:1\ncompute: azureml:cpu-cluster\n")
    spec = tmp_path / "nightly.yml"
    spec.write_text("$schema: https://azuremlschemas.azureedge.net/latest/schedule.schema.json\nname: nightly\n"
                    "trigger:\n  type: cron\n  expression: '0 3 * * *'\ncreate_job: ./job.yml\n")
    sent = len(fake.requests)
    with pytest.raises(NotSupported, match="az ml schedule create -f"):
        ws.assets.create(str(spec))
    assert len(fake.requests) == sent
