"""`amlops demo`: set up the demo project on the local workspace.

For now it trains the churn model from `specs/jobs/train-job.yml` in a child process, tracked
by the local workspace's MLflow (SQLite backend, artifacts in the workspace folder), and prints
what it did. When the local control plane lands, the same command creates the specs' assets and
submits the job through it instead.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from console import specs
from console.config import ensure_private_dir, workspace_dir
from console.errors import OperationFailed, SpecError

REPO_ROOT = Path(__file__).resolve().parent.parent
JOB_SPEC = REPO_ROOT / "specs" / "jobs" / "train-job.yml"
DATA_SPECS = REPO_ROOT / "specs" / "data"


def mlflow_locations(ws: Path) -> tuple[str, Path]:
    """The workspace's MLflow tracking URI and artifact root."""
    root = ensure_private_dir(ws / "mlflow")
    return f"sqlite:///{root / 'mlflow.db'}", root / "artifacts"


def resolve_data_asset(ref: str) -> Path:
    """`azureml:churn_features:1` to the local folder its spec in specs/data points at."""
    name, _, version = ref.removeprefix("azureml:").partition(":")
    for path in sorted(DATA_SPECS.glob("*.yml")):
        doc = specs.read(path)
        if doc.data.get("name") == name and str(doc.data.get("version")) == version:
            return (path.parent / str(doc.data["path"])).resolve()
    raise SpecError(str(JOB_SPEC), None, "inputs.training_data.path",
                    f"no data asset {ref} in {DATA_SPECS}")


def train_locally(explicit_dir: str | None, *, reg: float) -> int:
    ws = ensure_private_dir(workspace_dir(explicit_dir))
    job = specs.read(JOB_SPEC)
    experiment = str(job.data.get("experiment_name") or "Default")
    code = (JOB_SPEC.parent / str(job.data["code"])).resolve()
    data = resolve_data_asset(str(job.get("inputs", "training_data", "path")))
    tracking_uri, artifacts = mlflow_locations(ws)

    from mlflow.tracking import MlflowClient  # heavy: only for this command

    client = MlflowClient(tracking_uri)
    found = client.get_experiment_by_name(experiment)
    experiment_id = found.experiment_id if found else client.create_experiment(
        experiment, artifact_location=(artifacts / experiment).as_uri())

    command = [sys.executable, str(code / "train.py"), "--data", str(data), "--reg", str(reg)]
    print(f"workspace   {ws}")
    print(f"job spec    {JOB_SPEC.relative_to(REPO_ROOT)} (experiment {experiment})")
    print(f"training    python train.py --data {data.relative_to(REPO_ROOT)} --reg {reg}", flush=True)
    env = {**os.environ, "MLFLOW_TRACKING_URI": tracking_uri, "MLFLOW_EXPERIMENT_ID": experiment_id}
    run_dir = ensure_private_dir(ws / "runs")
    done = subprocess.run(command, cwd=run_dir, env=env)
    if done.returncode != 0:
        raise OperationFailed(f"training failed with exit status {done.returncode}")

    run = client.search_runs([experiment_id], order_by=["attributes.start_time DESC"], max_results=1)[0]
    auc = run.data.metrics.get("auc")
    print(f"run         {run.info.run_id} ({run.info.status})")
    print(f"auc         {auc:.4f}" if auc is not None else "auc         not logged")
    print(f"model       runs:/{run.info.run_id}/model")
    print(f"browse      mlflow ui --backend-store-uri {tracking_uri}")
    return 0
