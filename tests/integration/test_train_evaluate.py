"""training/train.py and training/evaluate.py as a job would run them: real MLflow tracking
in a temporary folder, a servable model (cheap to score: no per-request encoder, served by a
real `mlflow models serve` from its own folder), and the promotion gate's exit codes both ways."""

import contextlib
import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
import yaml
from helpers import wait_until

from console.lazy import lazy

REPO = Path(__file__).resolve().parents[2]
TRAINING = REPO / "training"
sys.path.insert(0, str(TRAINING))  # the scripts import each other as top-level modules

import data  # noqa: E402

# pandas on first use. `data` is imported when the file is collected, deliberately: imported later
# by name, it could be an MLflow model's copy of training/data.py (a model loaded by another test
# in this worker puts its code folder on sys.path), whose paths point into that model.
pd = lazy("pandas")

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


def start(script, args, env, cwd, extra_env=None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(TRAINING / script), *args], env=env | (extra_env or {}), cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finished(process: subprocess.Popen) -> subprocess.CompletedProcess:
    stdout, stderr = process.communicate(timeout=180)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


@pytest.fixture(scope="module")
def models(workdir, env):
    """A bad production model (trained on shuffled labels, so it learnt nothing), then a
    good candidate logged into a run opened beforehand, as a job runner does."""
    from mlflow import MlflowClient

    shuffled = data.load_table(data.COMMITTED_TABLE_DIR)
    shuffled[data.LABEL] = shuffled[data.LABEL].sample(frac=1, random_state=0).to_numpy()
    shuffled.to_csv(workdir / "shuffled.csv", index=False)
    # The store is created here, from workdir, so its default artifact root is workdir/mlruns;
    # then both trainings run at once (each is mostly its own imports and one fit).
    with contextlib.chdir(workdir):
        client = MlflowClient(env["MLFLOW_TRACKING_URI"])
        job_run = client.create_run(experiment_id="0")
    bad, good = (start("train.py", [*FAST, "--data", str(workdir / "shuffled.csv")], env, workdir),
                 start("train.py", [*FAST, "--reg", "0.05"], env, workdir, {"MLFLOW_RUN_ID": job_run.info.run_id}))
    bad, good = finished(bad), finished(good)
    assert bad.returncode == 0, bad.stderr
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


def test_served_model_has_no_per_request_encoder(models):
    """An endpoint scores one row per request, so the model is a dict lookup per categorical
    value and then the trees: no ColumnTransformer or OrdinalEncoder (each re-checks and
    re-indexes the frame on every call), and no booster-internal one either (native categorical
    splits bring one)."""
    import mlflow
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import OrdinalEncoder

    location = _local_path(models, "good")
    pipeline = mlflow.pyfunc.load_model(location).get_raw_model()
    assert [name for name, _ in pipeline.steps] == ["encode", "booster"]
    encode, booster = pipeline.named_steps["encode"], pipeline.named_steps["booster"]
    assert (type(encode).__name__, type(booster).__name__) == ("CategoryCodes", "SmallBatchBooster")
    assert booster.is_categorical_ is None
    assert not any(isinstance(v, (ColumnTransformer, OrdinalEncoder))
                   for v in pipeline.get_params(deep=True).values())
    # Saved with skops (its trusted types named), carrying the code its first step needs.
    flavor = yaml.safe_load((Path(location) / "MLmodel").read_text())["flavors"]["sklearn"]
    assert flavor["serialization_format"] == "skops"
    assert {"data.CategoryCodes", "data.SmallBatchBooster"} <= set(flavor["skops_trusted_types"])
    assert (Path(location) / flavor["code"] / "data.py").is_file()


@pytest.fixture(scope="module")
def served(models, tmp_path_factory):
    """The good model behind a real `mlflow models serve`, started as the local workspace starts
    an instance: from a folder of its own, with nothing of training/ importable but what the
    model carries."""
    from console.local.procs import free_port, stop_group

    folder = tmp_path_factory.mktemp("instance")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_") and k != "PYTHONPATH"}
    env |= {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}", "OMP_NUM_THREADS": "1"}
    log = folder / "instance.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "mlflow"), "models", "serve", "-m", _local_path(models, "good"),
             "--env-manager", "local", "-h", "127.0.0.1", "-p", str(port), "-w", "1"],
            cwd=folder, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True)
    url = f"http://127.0.0.1:{port}"

    def ready():
        assert proc.poll() is None, log.read_text()[-3000:]
        try:
            with urllib.request.urlopen(f"{url}/ping", timeout=2) as reply:
                return reply.status == 200
        except OSError:
            return False

    try:
        wait_until(ready, 120, "mlflow models serve to answer /ping", interval=0.2)
        yield url
    finally:
        stop_group(proc.pid, None, timeout_s=10, proc=proc)


def test_served_model_scores_the_azure_payload(models, served):
    """The demo load's requests (Azure's input_data, as the router translates them for MLflow's
    scoring server, so its JSON parsing and schema enforcement run) score as the model does
    in process, an unseen category included."""
    import mlflow

    from console.loadgen import churn_payloads
    from console.local.serving.payloads import to_mlflow

    payload = json.loads(churn_payloads(1, rows_per_request=8)[0])
    split = payload["input_data"]
    split["data"].append(list(split["data"][0]))
    split["data"][-1][split["columns"].index("payment_method")] = "Crypto"
    split["index"] = list(range(len(split["data"])))
    request = urllib.request.Request(f"{served}/invocations", data=json.dumps(to_mlflow(payload)).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=30) as reply:
        assert reply.status == 200
        predictions = json.loads(reply.read())["predictions"]

    frame = pd.DataFrame(split["data"], columns=split["columns"])
    expected = mlflow.pyfunc.load_model(_local_path(models, "good")).predict(frame)
    assert predictions == [int(p) for p in expected]
    assert set(predictions) <= {0, 1} and len(predictions) == 9


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
