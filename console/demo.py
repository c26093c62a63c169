"""`amlops demo`: set up the demo project on the local workspace, through the Workspace protocol.

Creates the specs' compute, environment and data, submits the training job, waits for it,
registers its model, serves it on churn-ep as blue at 100 % and creates the drift monitor,
printing each step. A workspace that is already set up is left alone, and the command says so.
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
ENDPOINT, BLUE, MONITOR = "endpoints/churn-ep.yml", "endpoints/blue-deployment.yml", "monitoring/churn-drift.yml"


def set_up(ws, *, out=sys.stdout) -> int:
    def say(text: str) -> None:
        print(text, file=out, flush=True)

    if ws.monitors.list():
        say(f"already set up: {ws.name} has its model, endpoint and monitor; nothing changed")
        return 0
    if ws.models.list(MODEL):
        say(f"{MODEL} is registered already: a previous demo stopped part way; finishing it")
        return _serve(ws, say)
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
    return _serve(ws, say)


def _serve(ws, say) -> int:
    names = {e.name for e in ws.endpoints.list()}
    if "churn-ep" not in names:
        ws.endpoints.create(str(SPECS / ENDPOINT))
        say(f"created   endpoint churn-ep  ({ENDPOINT})")
    endpoint = ws.endpoints.get("churn-ep")
    if "blue" not in {d.name for d in endpoint.deployments}:
        say(f"deploying blue at 0 %  ({BLUE}); its instances load the model and pass their probes...")
        op = ws.operations.wait(ws.endpoints.create_deployment(str(SPECS / BLUE)).id, timeout_s=600)
        if op.status != "Succeeded":
            raise OperationFailed(f"deploying blue ended {op.status}: {op.error} (amlops deployment logs churn-ep blue)")
    ws.endpoints.set_traffic("churn-ep", {"blue": 100})
    say(f"traffic   churn-ep: blue=100, scoring uri {ws.endpoints.get('churn-ep').scoring_uri}")
    ws.assets.create(str(SPECS / MONITOR))
    say(f"created   monitor churn-drift on churn-ep/blue  ({MONITOR})")
    say("next: amlops endpoint load churn-ep --rps 20 --duration 60 --drift 0.3, then amlops drift churn-ep")
    return 0
