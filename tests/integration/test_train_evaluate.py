"""training/train.py and training/evaluate.py as a job would run them: real MLflow tracking
in a temporary folder, a servable model, and the promotion gate's exit codes both ways."""

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[2]
TRAINING = REPO / "training"
sys.path.insert(0, str(TRAINING))  # the scripts import each other as top-level modules

import data  # noqa: E402

pytestmark = [
    pytest.mark.integration,
    # MLflow's own SQLAlchemy mappings, raised when this process opens the tracking store.
    pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy is deprecated"),
]

FAST = ["--max-iter", "30"]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """Tracking store, artifacts and the processes' cwd, all outside the repo."""
    return tmp_path_factory.mktemp("mlflow")


@pytest.fixture(scope="module")
def env(workdir):
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    return clean | {
        "MLFLOW_TRACKING_URI": f"sqlite:///{workdir / 'mlflow.db'}",
        "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
        # One thread: on a busy 2-core runner, OpenMP threads fighting over cores make a
        # 3,000-row boosting fit many times slower.
        "OMP_NUM_THREADS": "1",
    }


def run(script, args, env, cwd, extra_env=None):
    return subprocess.run(
        [sys.executable, str(TRAINING / script), *args],
        env=env | (extra_env or {}), cwd=cwd, capture_output=True, text=True, timeout=180,
    )


@pytest.fixture(scope="module")
def models(workdir, env):
    """A bad production model (trained on shuffled labels, so it learnt nothing), then a
    good candidate logged into a run opened beforehand, as a job runner does."""
    from mlflow import MlflowClient

    shuffled = data.load_table(data.COMMITTED_TABLE_DIR)
    shuffled[data.LABEL] = shuffled[data.LABEL].sample(frac=1, random_state=0).to_numpy()
    shuffled.to_csv(workdir / "shuffled.csv", index=False)
    # The first process creates the store, so its default artifact root is workdir/mlruns.
    bad = run("train.py", [*FAST, "--data", str(workdir / "shuffled.csv")], env, workdir)
    assert bad.returncode == 0, bad.stderr

    client = MlflowClient(env["MLFLOW_TRACKING_URI"])
    job_run = client.create_run(experiment_id="0")
    good = run("train.py", [*FAST, "--reg", "0.05"], env, workdir,
               {"MLFLOW_RUN_ID": job_run.info.run_id})
    assert good.returncode == 0, good.stderr

    def run_id(process):
        return process.stdout.split("run_id=")[1].split()[0]

    return {
        "client": client,
        "job_run_id": job_run.info.run_id,
        "good_stdout": good.stdout,
        "good": f"runs:/{run_id(good)}/model",
        "bad": f"runs:/{run_id(bad)}/model",
    }


def test_training_logs_into_the_runners_run(models, workdir):
    client = models["client"]
    assert models["good"] == f"runs:/{models['job_run_id']}/model"
    assert "auc=" in models["good_stdout"]

    run = client.get_run(models["job_run_id"])
    assert run.info.status == "FINISHED"
    # Autolog names a Pipeline step's params "<step>__<param>".
    assert run.data.params["booster__l2_regularization"] == "0.05"
    assert run.data.params["booster__max_iter"] == "30"
    assert run.data.metrics["auc"] > 0.7
    assert 0.5 < run.data.metrics["accuracy"] <= 1.0
    assert "training_roc_auc" in run.data.metrics  # autolog's own metrics are kept
    assert Path(run.info.artifact_uri.removeprefix("file://")).is_relative_to(workdir)


def test_logged_model_loads_and_predicts_raw_features(models, workdir):
    import mlflow

    client = models["client"]
    [output] = client.get_run(models["job_run_id"]).outputs.model_outputs
    logged = client.get_logged_model(output.model_id)
    assert logged.name == "model"
    location = logged.artifact_location.removeprefix("file://")
    assert Path(location).is_relative_to(workdir)

    model = mlflow.pyfunc.load_model(location)
    assert model.metadata.get_input_schema().input_names() == data.FEATURES
    raw = data.load_table(data.COMMITTED_TABLE_DIR)[data.FEATURES].head(20)
    assert set(pd.Series(model.predict(raw))) <= {0, 1}
    # An unseen category must not break serving.
    odd = raw.assign(payment_method="Crypto")
    assert len(model.predict(odd)) == len(odd)


MISSING = "runs:/0123456789abcdef0123456789abcdef/model"


@pytest.fixture(scope="module")
def gate_runs(models, workdir, env):
    """The gate's CLI, run concurrently (each start mostly imports) on the model URIs."""
    cases = {
        "better": ["--candidate", models["good"], "--production", models["bad"]],
        "worse": ["--candidate", models["bad"], "--production", models["good"]],
        "missing": ["--candidate", models["good"], "--production", MISSING],
    }
    processes = {
        case: subprocess.Popen(
            [sys.executable, str(TRAINING / "evaluate.py"), *args], env=env, cwd=workdir,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for case, args in cases.items()
    }
    results = {}
    for case, process in processes.items():
        stdout, stderr = process.communicate(timeout=180)
        results[case] = subprocess.CompletedProcess(
            process.args, process.returncode, stdout, stderr)
    return results


def test_gate_passes_a_better_candidate(gate_runs):
    result = gate_runs["better"]
    assert result.returncode == 0, result.stdout + result.stderr
    assert "gate: PASS" in result.stdout


def test_gate_fails_a_worse_candidate(gate_runs):
    result = gate_runs["worse"]
    assert result.returncode == 1, result.stdout + result.stderr
    assert "gate: FAIL" in result.stdout


def test_gate_reports_a_missing_model_without_a_traceback(gate_runs):
    result = gate_runs["missing"]
    assert result.returncode == 2, result.stdout + result.stderr
    assert "cannot load the production model" in result.stderr
    assert "Traceback" not in result.stderr


def _local_path(models, role):
    """The model folder on disk, so in-process calls need no tracking URI."""
    client = models["client"]
    run_id = models[role].split("/")[1]
    [output] = client.get_run(run_id).outputs.model_outputs
    return client.get_logged_model(output.model_id).artifact_location.removeprefix("file://")


@pytest.mark.parametrize("args, status", [
    (["--candidate", "good"], 0),  # first model, above the floor
    (["--candidate", "bad"], 1),   # first model, below the floor
    (["--candidate", "good", "--production", "good"], 1),  # a tie is not an improvement
    (["--candidate", "good", "--production", "bad", "--min-improvement", "0.5"], 1),
    (["--candidate", "good", "--production", "bad", "--metric", "accuracy"], 0),
])
def test_gate_rules_on_local_model_paths(models, args, status, capsys):
    import evaluate

    args = [_local_path(models, a) if a in ("good", "bad") else a for a in args]
    assert evaluate.main(args) == status, capsys.readouterr().out


def test_missing_data_is_bad_input(models, tmp_path, capsys):
    import evaluate
    import train

    absent = str(tmp_path / "absent")
    assert evaluate.main(["--candidate", _local_path(models, "good"), "--data", absent]) == 2
    assert train.main(["--data", absent]) == 2
    assert "absent" in capsys.readouterr().err
