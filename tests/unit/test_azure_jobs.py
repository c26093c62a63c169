"""Jobs on Azure over the fake ARM, the real azure-ai-ml and azure-storage-blob in between: submit
uploads the code folder once (by content) through the workspace's own pipeline and refuses what
it can before any request; logs are the run's std_log.txt, followed until the job ends; metrics
come from the workspace's MLflow tracking server, paged, and are kept once the job ended."""

from __future__ import annotations

import pytest

from console.azure.upload import snapshot_files
from console.errors import NotFound, NotSupported, ReadOnlyError, SpecError

from fakes.arm import FakeArm
from fakes.azure import azure_workspace, fake, offline, ws  # noqa: F401 (fixtures)
from helpers import REPO

TRAIN = str(REPO / "specs" / "jobs" / "train-job.yml")


def uploads(fake) -> list[str]:
    return [c.path for c in fake.requests if c.method == "PUT" and c.host.endswith(".blob.core.windows.net")]


pytestmark = pytest.mark.usefixtures("offline")


def test_submit_uploads_the_code_once_and_queues_the_job_with_its_overrides(ws, fake):
    job = ws.jobs.submit(TRAIN, {"inputs.reg_rate": 0.1})
    assert (job.status, job.compute, job.experiment_name) == ("NotStarted", "cpu-cluster", "churn-classifier")
    sent = fake.job(job.name)["properties"]
    assert sent["inputs"]["reg_rate"]["value"] == "0.1"
    assert sent["inputs"]["training_data"]["uri"].endswith("/data/churn_features/versions/1")
    assert "/codes/amlops-" in sent["codeId"] and sent["codeId"].endswith("/versions/1")
    files = sorted(p.rsplit("/training/", 1)[1] for p in uploads(fake))
    assert files == sorted(p.name for p in snapshot_files(REPO / "training"))
    assert ws.jobs.list()[0].name == job.name
    again = ws.jobs.submit(TRAIN)
    assert len(uploads(fake)) == len(files), "the same code is not uploaded twice"
    assert fake.job(again.name)["properties"]["codeId"] == sent["codeId"]
    assert [(e.operation, e.target) for e in ws.audit.list()[:2]] == [("jobs.submit", again.name),
                                                                      ("jobs.submit", job.name)]


def test_what_can_be_refused_before_a_request_is(ws, fake, tmp_path, monkeypatch):
    bad = tmp_path / "bad.yml"
    bad.write_text("$schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json\ncommand: echo\n"
                   "environment: azureml:churn-train-env:1\ncompute: azureml:cpu-cluster\nresources:\n"
                   "  instance_count: lots\n")
    sent = len(fake.requests)
    with pytest.raises(SpecError, match="instance_count"):
        ws.jobs.submit(str(bad))
    read_only = azure_workspace(fake, tmp_path / "ro", monkeypatch, read_only=True)
    with pytest.raises(ReadOnlyError):
        read_only.jobs.submit(TRAIN)
    assert len(fake.requests) == sent
    with pytest.raises(NotFound, match="compute 'no-such-cluster'"):
        ws.jobs.submit(TRAIN, {"compute": "azureml:no-such-cluster"})
    assert uploads(fake) == [] and not fake.calls("PUT", r"/jobs/")


PIPELINE = """$schema: https://azuremlschemas.azureedge.net/latest/pipelineJob.schema.json
type: pipeline
display_name: churn-train-and-evaluate
experiment_name: churn-classifier
settings:
  default_compute: azureml:cpu-cluster
jobs:
  train:
    type: command
    code: {code}
    command: python train.py --data ${{{{inputs.training_data}}}}
    environment: azureml:churn-train-env:1
    inputs:
      training_data:
        type: uri_folder
        path: azureml:churn_features:1
  evaluate:
    type: command
    code: {code}
    command: python evaluate.py
    environment: azureml:churn-train-env:1
"""


def test_a_pipeline_uploads_the_code_its_steps_share_once(ws, fake, tmp_path):
    spec = tmp_path / "pipeline.yml"
    spec.write_text(PIPELINE.format(code=REPO / "training"))
    job = ws.jobs.submit(str(spec))
    assert job.job_type == "pipeline" and job.display_name == "churn-train-and-evaluate"
    steps = fake.job(job.name)["properties"]["jobs"]
    assert set(steps) == {"train", "evaluate"}
    components = [c.body["properties"]["componentSpec"]["code"] for c in fake.calls("PUT", r"/components/")]
    assert len(components) == 2 and len(set(components)) == 1 and "/codes/amlops-" in components[0]
    assert len(uploads(fake)) == len(snapshot_files(REPO / "training")), "one upload for the shared folder"


def test_a_pipeline_step_from_its_own_component_file_says_what_to_run_instead(ws, fake, tmp_path):
    (tmp_path / "train.yml").write_text(
        "$schema: https://azuremlschemas.azureedge.net/latest/commandComponent.schema.json\nname: train\n"
        "version: 1\ntype: command\ncode: .\ncommand: echo hi\nenvironment: azureml:churn-train-env:1\n")
    spec = tmp_path / "pipeline.yml"
    spec.write_text("$schema: https://azuremlschemas.azureedge.net/latest/pipelineJob.schema.json\ntype: pipeline\n"
                    "settings:\n  default_compute: azureml:cpu-cluster\njobs:\n  hello:\n    component: ./train.yml\n")
    with pytest.raises(NotSupported, match="az ml component create -f"):
        ws.jobs.submit(str(spec))
    assert not fake.calls("PUT")


def test_the_snapshot_leaves_out_what_amlignore_names(tmp_path):
    (tmp_path / "src" / "__pycache__").mkdir(parents=True)
    for name in ("src/train.py", "src/__pycache__/train.cpython-311.pyc", "data.csv", "notes.md", "keep.csv"):
        (tmp_path / name).write_text("x")
    (tmp_path / ".amlignore").write_text("# big inputs\n*.csv\nnotes.md\n!keep.csv\n")
    assert [p.relative_to(tmp_path).as_posix() for p in snapshot_files(tmp_path)] == [".amlignore", "keep.csv",
                                                                                 "src/train.py"]


def test_logs_follow_a_running_job_until_it_ends(ws, fake):
    job = ws.jobs.submit(TRAIN)
    assert list(ws.jobs.logs(job.name)) == []  # queued: no log yet
    fake.set_job_status(job.name, "Running", log="epoch 1\nepo")
    lines = ws.jobs.logs(job.name, follow=True)
    assert next(lines) == "epoch 1\n"
    fake.set_job_status(job.name, "Completed", log="ch 2\ndone\n")
    assert list(lines) == ["epoch 2\n", "done\n"]
    assert list(ws.jobs.logs(job.name, offset=len("epoch 1\n"))) == ["epoch 2\n", "done\n"]
    with pytest.raises(NotFound):
        list(ws.jobs.logs("no_such_job"))


def test_metrics_come_from_the_tracking_server_paged_and_kept_once_ended(ws, fake):
    fake.log_metrics("happy_cloud_3j5k7l9m0n", "holdout_log_loss", [1 / (i + 1) for i in range(2500)])
    series = {s.key: s for s in ws.jobs.metrics("happy_cloud_3j5k7l9m0n")}
    assert set(series) == {"auc", "holdout_log_loss"} and series["auc"].values == (0.7844,)
    assert series["holdout_log_loss"].steps == tuple(range(2500))
    assert len(fake.calls("GET", r"/metrics/get-history$")) == 4  # auc, and three pages of 1,000
    sent = len(fake.requests)
    ws.jobs.metrics("happy_cloud_3j5k7l9m0n")
    assert [c.path for c in fake.requests[sent:]] == [c.path for c in fake.calls("GET", r"/jobs/happy_cloud")][-1:]
    assert ws.jobs.metrics(ws.jobs.submit(TRAIN).name) == []  # not started: no run yet


def test_a_log_storage_refuses_is_a_typed_error_not_a_traceback(ws, fake):
    from console.errors import BackendUnavailable

    fake.fail("GET", r"^/azureml$", 403, times=10)  # the artifact container's listing
    with pytest.raises(BackendUnavailable, match="not authorised"):
        list(ws.jobs.logs("happy_cloud_3j5k7l9m0n"))


def test_a_pipelines_steps_are_its_child_runs(ws, fake, tmp_path):
    spec = tmp_path / "pipeline.yml"
    spec.write_text(PIPELINE.format(code=REPO / "training"))
    job = ws.jobs.submit(str(spec))
    fake.step_status[(job.name, "train")] = "Completed"
    steps = {s.display_name: s for s in ws.jobs.list(parent=job.name)}
    assert set(steps) == {"train", "evaluate"}
    assert (steps["train"].status, steps["train"].parent, steps["train"].compute) == ("Completed", job.name,
                                                                                      "cpu-cluster")
    assert fake.unhandled == []


def test_a_serverless_pipeline_is_not_checked_for_a_compute_and_steps_leave_the_listing_alone(ws, fake, tmp_path):
    spec = tmp_path / "pipeline.yml"
    spec.write_text(PIPELINE.format(code=REPO / "training").replace("azureml:cpu-cluster", "azureml:serverless"))
    listed = {j.name for j in ws.jobs.list()}
    job = ws.jobs.submit(str(spec))
    assert not fake.calls("GET", r"/computes/serverless$")
    ws.jobs.list(parent=job.name)
    assert set(ws.jobs.seen) == listed  # the job detail's listing is the refresh's, not the steps'
