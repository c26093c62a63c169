"""The local workspace's "done when", through the CLI alone: create the specs' compute, environment
and data, train the churn model as a job, find the run in MLflow, register the model and load it
back; run a real-world pipeline; every mutation in the audit log.

One workspace and one daemon for the module; the real training job runs once.
"""

from __future__ import annotations

import getpass
import os
import signal
import sqlite3
from pathlib import Path

import pytest

from console.local.client import stop_daemon
from console.local.folder import WorkspaceFolder

from helpers import Cli

pytestmark = [
    pytest.mark.integration,
    # MLflow's own SQLAlchemy mappings, raised when this process opens the tracking store.
    pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy is deprecated"),
]

REPO = Path(__file__).resolve().parents[2]
SPECS = REPO / "specs"
PIPELINE = REPO / "tests" / "fixtures" / "azureml-examples" / "jobs" / "basics" / "hello-pipeline-io.yml"
TERMINAL = {"Completed", "Failed", "Canceled"}


# --- helpers -------------------------------------------------------------------------------------


def kill_leftover_jobs(root: Path) -> None:
    """Kill the process groups of the workspace's jobs that are still alive (after the daemon stopped)."""
    db = root / "state.db"
    if not db.exists():
        return
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            pids = {pid for (pid,) in conn.execute("SELECT pid FROM jobs WHERE pid IS NOT NULL")}
    except sqlite3.Error:
        return
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) in pids and fields[0] != "Z":  # fields[2] is the process group
            try:
                os.kill(int(proc.name), signal.SIGKILL)
            except ProcessLookupError:
                pass


# --- the workspace, set up once ------------------------------------------------------------------


@pytest.fixture(scope="module")
def cli(tmp_path_factory):
    root = tmp_path_factory.mktemp("ws") / "workspace"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "AMLOPS_"))}
    env |= {"OMP_NUM_THREADS": "1", "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"}
    yield Cli(root, env)
    try:
        stop_daemon(WorkspaceFolder(root))
    finally:
        kill_leftover_jobs(root)


@pytest.fixture(scope="module")
def created(cli):
    """`create -f` every asset the training job needs, as a user would."""
    out = {}
    for spec in ("compute/cpu-cluster.yml", "compute/dev-instance.yml", "environments/churn-train-env.yml",
                 "data/churn-features.yml"):
        out[spec] = cli.json("create", "-f", str(SPECS / spec))
    return out


@pytest.fixture(scope="module")
def submitted(cli, created):
    """The training job (reg_rate overridden) and the pipeline, submitted together so they overlap."""
    train = cli.json("job", "submit", str(SPECS / "jobs" / "train-job.yml"), "--set", "inputs.reg_rate=0.5")
    pipeline = cli.json("job", "submit", str(PIPELINE))
    return {"train": train, "pipeline": pipeline}


@pytest.fixture(scope="module")
def trained(cli, submitted):
    job = cli.wait_job(submitted["train"]["name"], timeout=180)
    assert job["status"] == "Completed", f"training job ended {job['status']}: {job.get('error')}\n" + \
        cli.run("job", "logs", job["name"], check=False).stdout[-2000:]
    return job


@pytest.fixture(scope="module")
def pipeline(cli, submitted):
    return cli.wait_job(submitted["pipeline"]["name"], timeout=120)


@pytest.fixture(scope="module")
def registered(cli, trained):
    return cli.json("model", "register", "--job", trained["name"], "--name", "churn-classifier")


@pytest.fixture(scope="module")
def mlflow_client(cli, trained):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=f"sqlite:///{cli.root}/mlflow/mlflow.db")


# --- the tests -----------------------------------------------------------------------------------


def test_create_from_specs(cli, created):
    assert created["compute/cpu-cluster.yml"]["name"] == "cpu-cluster"
    assert created["compute/cpu-cluster.yml"]["type"] == "amlcompute"
    assert created["compute/dev-instance.yml"]["type"] == "computeinstance"
    assert created["compute/dev-instance.yml"]["state"] == "Running"
    assert created["environments/churn-train-env.yml"]["name"] == "churn-train-env"
    assert created["environments/churn-train-env.yml"]["version"] == "1"
    data = created["data/churn-features.yml"]
    assert (data["name"], data["version"]) == ("churn_features", "1")
    assert Path(data["path"]) == (SPECS / "data" / "churn-features").resolve()


def test_compute_list_prints_what_runs_and_what_it_cost_today(cli, created):
    listing = cli.run("compute", "list")
    assert "dev-instance" in listing.stdout and "$ TODAY" in listing.stdout
    assert "running now: $" in listing.stderr and "today $" in listing.stderr


def test_lists_parse_as_json(cli, created):
    computes = {c["name"]: c for c in cli.json("compute", "list")}
    assert {"cpu-cluster", "dev-instance"} <= set(computes)
    assert computes["cpu-cluster"]["max_instances"] == 4
    assert computes["dev-instance"]["idle_time_before_shutdown_minutes"] == 30
    assert [(d["name"], d["version"]) for d in cli.json("data", "list")] == [("churn_features", "1")]
    assert [(e["name"], e["version"]) for e in cli.json("environment", "list")] == [("churn-train-env", "1")]
    quotas = {q["family"]: q for q in cli.json("quota", "list")}
    assert quotas, "quota list is empty"
    assert all({"family", "used", "limit"} <= set(q) for q in quotas.values())
    assert any(q["limit"] == 0 for q in quotas.values()), "GPU families start at 0 quota"


def test_training_job_completes(cli, trained):
    assert trained["status"] == "Completed"
    assert trained["compute"] == "cpu-cluster"
    assert trained["experiment_name"] == "churn-classifier"
    assert trained["display_name"] == "train-churn-classifier"
    assert trained["mlflow_run_id"]
    assert trained["started_at"] and trained["ended_at"] and trained["error"] is None
    assert trained["name"] in {j["name"] for j in cli.json("job", "list")}


def test_training_run_in_mlflow(trained, mlflow_client):
    client = mlflow_client
    run = client.get_run(trained["mlflow_run_id"])
    assert run.info.status == "FINISHED"
    # autolog's params, with the --set override having reached the command line.
    assert run.data.params.get("booster__l2_regularization") == "0.5", run.data.params
    assert 0.5 < run.data.metrics["auc"] <= 1.0
    # MLflow 3: the model is a LoggedModel output of the run, named "model".
    outputs = run.outputs.model_outputs or []
    names = [client.get_logged_model(o.model_id).name for o in outputs]
    assert "model" in names, names
    # The job's std log is attached to the run as Azure does it.
    logs = [a.path for a in client.list_artifacts(run.info.run_id, "user_logs")]
    assert "user_logs/std_log.txt" in logs, logs
    local = client.download_artifacts(run.info.run_id, "user_logs/std_log.txt")
    assert "auc=" in Path(local).read_text()


def test_job_log_via_cli(cli, trained):
    text = cli.run("job", "logs", trained["name"]).stdout
    assert f"run_id={trained['mlflow_run_id']}" in text
    assert "auc=" in text


def test_job_metrics_carry_the_learning_curve(cli, trained, mlflow_client):
    series = {s["key"]: s for s in cli.json("job", "metrics", trained["name"])}
    curve = series["holdout_log_loss"]
    # One point per boosting round (100 by default), steps in order, and the loss falls.
    assert curve["steps"] == list(range(1, len(curve["steps"]) + 1)) and len(curve["steps"]) == 100
    assert curve["values"][-1] < curve["values"][0]
    # The same figures MLflow holds for the run.
    assert series["auc"]["values"] == [mlflow_client.get_run(trained["mlflow_run_id"]).data.metrics["auc"]]
    text = cli.run("job", "metrics", trained["name"]).stdout
    assert text.splitlines()[0].split() == ["METRIC", "LAST", "STEPS", "MIN", "MAX"]
    assert any(line.split()[:1] == ["holdout_log_loss"] and line.split()[2] == "100" for line in text.splitlines())


def test_register_and_load_model(cli, trained, registered, mlflow_client):
    import mlflow.pyfunc
    import pandas as pd

    assert (registered["name"], registered["version"]) == ("churn-classifier", "1")
    assert registered["job"] == trained["name"]
    listed = cli.json("model", "list")
    assert [(m["name"], m["version"], m["job"]) for m in listed] == [("churn-classifier", "1", trained["name"])]
    assert listed[0]["mlflow_run_id"] == trained["mlflow_run_id"]

    mlflow.set_tracking_uri(f"sqlite:///{cli.root}/mlflow/mlflow.db")
    mlflow.set_registry_uri(f"sqlite:///{cli.root}/mlflow/mlflow.db")
    model = mlflow.pyfunc.load_model("models:/churn-classifier/1")
    rows = pd.read_csv(SPECS / "data" / "churn-features" / "churn.csv").head(20)
    predictions = model.predict(rows.drop(columns=["churn"]))
    assert len(predictions) == 20
    assert set(pd.Series(list(predictions)).unique()) <= {0, 1}


def test_register_needs_a_completed_job_with_a_model(cli, registered, pipeline):
    step = f"{pipeline['name']}_hello_job"
    proc = cli.run("model", "register", "--job", step, "--name", "churn-classifier", check=False)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "model" in proc.stderr
    proc = cli.run("model", "register", "--job", "no_such_job", "--name", "churn-classifier", check=False)
    assert proc.returncode == 2 and "no_such_job" in proc.stderr
    assert [m["version"] for m in cli.json("model", "list")] == ["1"]


def test_pipeline_runs_steps_in_dependency_order(cli, pipeline):
    assert pipeline["status"] == "Completed", pipeline
    steps = {s["display_name"]: s for s in pipeline["steps"]}
    assert set(steps) == {"hello_job", "world_job"}
    hello, world = steps["hello_job"], steps["world_job"]
    assert hello["status"] == world["status"] == "Completed"
    assert hello["parent"] == world["parent"] == pipeline["name"]
    assert hello["ended_at"] <= world["started_at"], (hello, world)
    assert "hello" in cli.run("job", "logs", hello["name"]).stdout
    assert "world" in cli.run("job", "logs", world["name"]).stdout
    listed = {j["name"] for j in cli.json("job", "list", "--parent", pipeline["name"])}
    assert listed == {hello["name"], world["name"]}


def test_audit_lists_every_mutation(cli, created, trained, pipeline, registered):
    entries = cli.json("audit", "--limit", "1000")
    user = getpass.getuser()
    done = {(e["operation"], e["target"]) for e in entries if e["result"] == "Succeeded"}
    expected = {
        ("compute.create", "cpu-cluster"), ("compute.create", "dev-instance"),
        ("environment.create", "churn-train-env:1"), ("data.create", "churn_features:1"),
        ("jobs.submit", trained["name"]), ("jobs.submit", pipeline["name"]),
        ("models.register", "churn-classifier:1"),
    }
    assert expected <= done, expected - done
    for entry in entries:
        if entry["actor"] != "amlops-scheduler":
            assert entry["actor"] == user, entry
        assert entry["time"]
    submit = next(e for e in entries if (e["operation"], e["target"]) == ("jobs.submit", trained["name"]))
    assert submit["after"]["overrides"] == {"inputs.reg_rate": 0.5}
    # Newest first.
    times = [e["time"] for e in entries]
    assert times == sorted(times, reverse=True)
