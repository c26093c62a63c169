"""`amlops demo`: set up the demo project on the local workspace, through the Workspace protocol.

Creates the specs' compute, environment and data, submits the training job, waits for it and
registers its model, printing each step. A workspace that is already set up is left alone, and
the command says so. (Endpoints and load come with local serving.)
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from console.errors import OperationFailed

REPO_ROOT = Path(__file__).resolve().parent.parent
SPECS = REPO_ROOT / "specs"
ASSETS = ("compute/cpu-cluster.yml", "compute/dev-instance.yml", "environments/churn-train-env.yml",
          "data/churn-features.yml")
TRAIN_JOB = "jobs/train-job.yml"
MODEL = "churn-classifier"


def set_up(ws, *, out=sys.stdout) -> int:
    def say(text: str) -> None:
        print(text, file=out, flush=True)

    if ws.models.list(MODEL):
        latest = ws.models.list(MODEL)[0]
        say(f"already set up: {MODEL}:{latest.version} is registered in {ws.name}; nothing changed")
        return 0
    for spec in ASSETS:
        created = ws.assets.create(str(SPECS / spec))
        what = f"{created['name']}:{created['version']}" if created.get("version") else created["name"]
        say(f"created   {created['kind']} {what}  ({spec})")
    job = ws.jobs.submit(str(SPECS / TRAIN_JOB))
    say(f"submitted {job.name} to {job.compute}  ({TRAIN_JOB}); training...")
    status = job.status
    while not job.is_terminal:
        time.sleep(0.5)
        job = ws.jobs.get(job.name)
        if job.status != status:
            status = job.status
            say(f"          {job.name}: {status}")
    if job.status != "Completed":
        raise OperationFailed(f"the training job {job.name} ended {job.status}: {job.error} "
                              f"(amlops job logs {job.name})")
    model = ws.models.register(MODEL, job=job.name, description="the demo churn classifier")
    say(f"registered {model.name}:{model.version} from {job.name} (MLflow run {job.mlflow_run_id})")
    return 0
