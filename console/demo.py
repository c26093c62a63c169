"""`amlops demo`: set up the demo project on the local workspace, through the Workspace protocol.

Creates the specs' compute, environment and data, submits the training job, waits for it,
registers its model, serves it on churn-ep as blue at 100 % and creates the drift monitor,
printing each step; then starts the demo load, a light and slightly drifted stream of churn
rows, so that the console's panes move. A workspace that is already set up is left alone, and
the command says so (a demo load that had stopped is started again).

The demo load is a process of its own (`python -m console.demo load FOLDER`), recorded in the
workspace folder's `demo-load.pid`. It reads the endpoint's URI and key from the daemon every
`LOAD_CHUNK_S` and ends when the daemon or churn-ep is gone; `amlops local down` stops it too.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from typing import TYPE_CHECKING

from console.errors import BackendUnavailable, NotFound, OperationFailed
from console.workspace import refuse_if_read_only

if TYPE_CHECKING:
    from console.local.client import LocalWorkspace

REPO_ROOT = Path(__file__).resolve().parent.parent
SPECS = REPO_ROOT / "specs"
ASSETS = ("compute/cpu-cluster.yml", "compute/dev-instance.yml", "environments/churn-train-env.yml",
          "data/churn-features.yml")
TRAIN_JOB = "jobs/train-job.yml"
MODEL = "churn-classifier"
FLAKY = "churn-flaky"  # a candidate that fails 30 % of its requests: the rollout that rolls itself back
ENDPOINT, BLUE, MONITOR = "endpoints/churn-ep.yml", "endpoints/blue-deployment.yml", "monitoring/churn-drift.yml"
LOAD_ENDPOINT = "churn-ep"
LOAD_RPS, LOAD_DRIFT, LOAD_CHUNK_S = 2.0, 0.3, 15.0  # light, slightly drifted, re-checked every 15 s
LOAD_PID = "demo-load.pid"


def set_up(ws: LocalWorkspace, *, out=sys.stdout) -> int:
    def say(text: str) -> None:
        print(text, file=out, flush=True)

    refuse_if_read_only(ws, "demo")  # even a set-up workspace: its load would be started again
    if ws.monitors.list():
        say(f"already set up: {ws.name} has its model, endpoint and monitor; nothing changed")
        if running_load(ws.folder) is None:
            say(f"started   the demo load again: {load_what()} (pid {start_load(ws.folder)})")
        return 0
    if ws.models.list(MODEL):
        say(f"{MODEL} is registered already: a previous demo stopped part way; finishing it")
        return _serve(ws, say)
    for spec in ASSETS:
        created = ws.assets.create(str(SPECS / spec))
        what = f"{created.name}:{created.version}" if created.version else created.name
        say(f"created   {created.kind} {what}  ({spec})")
    # Before the model it is the bad twin of: the newest version is listed (and picked by g) first.
    _register_flaky(ws, say)
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


def _register_flaky(ws: LocalWorkspace, say) -> None:
    """training/flaky.py's bad candidate, for a rollout that rolls itself back (g, then o)."""
    import tempfile

    if ws.models.list(FLAKY):  # a demo that stopped part way registered it already
        return
    with tempfile.TemporaryDirectory(prefix="amlops-flaky-") as tmp:
        saved = subprocess.run([sys.executable, str(REPO_ROOT / "training" / "flaky.py"), "--out", f"{tmp}/model",
                                "--share", "0.3", "--delay-ms", "50"], capture_output=True, text=True, timeout=300)
        if saved.returncode != 0:
            say(f"skipped   {FLAKY}: training/flaky.py failed: {saved.stderr.strip()[-300:]}")
            return
        model = ws.models.register(FLAKY, path=f"{tmp}/model",
                                   description="a bad candidate: fails 30 % of its requests, 50 ms late")
    say(f"registered {model.name}:{model.version}: a bad candidate (fails 30 % of its requests) to deploy as "
        "green and watch a rollout roll itself back")


def _serve(ws: LocalWorkspace, say) -> int:
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
    pid = running_load(ws.folder) or start_load(ws.folder)
    say(f"started   the demo load: {load_what()} (pid {pid}; amlops local down stops it)")
    say("next: amlops (the console), amlops monitor run churn-drift, amlops drift churn-ep; in the console, "
        f"g deploys green (churn-classifier:1 promotes, {FLAKY}:1 is rolled back) and o starts its rollout")
    return 0


# --- the demo load -------------------------------------------------------------------------------


def load_what() -> str:
    return f"{LOAD_RPS:g} requests/s of churn rows drifted by {LOAD_DRIFT:g} to {LOAD_ENDPOINT}"


def running_load(folder) -> int | None:
    """The pid of the folder's demo load, if it runs."""
    from console.local.procs import alive

    try:
        pid, start = (folder.root / LOAD_PID).read_text().split()
    except (OSError, ValueError):
        return None
    return int(pid) if alive(int(pid), start) else None


def start_load(folder) -> int:
    """Start the demo load in a session of its own (it outlives the command that starts it)."""
    from console.local.procs import start_time

    with open(folder.logs_dir / "demo-load.log", "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "console.demo", "load", str(folder.root)],
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True, cwd=REPO_ROOT)
    (folder.root / LOAD_PID).write_text(f"{proc.pid} {start_time(proc.pid)}")
    return proc.pid


def stop_load(folder, timeout_s: float = 10.0) -> int | None:
    """SIGTERM the demo load and wait for it to go; its pid, or None if it was not running."""
    from console.local.procs import start_time, terminate

    pid = running_load(folder)
    if pid is None:
        return None
    terminate(pid, start_time(pid), timeout_s)
    (folder.root / LOAD_PID).unlink(missing_ok=True)
    return pid


def run_load_forever(root: Path) -> int:
    """The demo load's own loop: chunks of `LOAD_CHUNK_S`, each after reading the endpoint's URI
    and key again (a regenerated key or a moved router is followed), until the daemon or the
    endpoint is gone."""
    from console.loadgen import churn_payloads, run_load
    from console.local.client import LocalWorkspace

    ws = LocalWorkspace(root, autostart=False)
    payloads = churn_payloads(1000, drift=LOAD_DRIFT, seed=11)
    start = 0
    while True:
        try:
            endpoint = ws.endpoints.get(LOAD_ENDPOINT)
            key = ws.endpoints.keys(LOAD_ENDPOINT).primary
        except (BackendUnavailable, NotFound) as err:
            print(f"demo load: stopping, {getattr(err, 'message', err)}", flush=True)
            return 0
        # Each chunk goes on where the last one stopped: a chunk sends 30 rows, and the same 30
        # again and again would be a sample of 30, not the drifted distribution.
        summary = run_load(endpoint.scoring_uri, key, payloads[start:] + payloads[:start], rps=LOAD_RPS,
                           duration_s=LOAD_CHUNK_S, concurrency=2)
        start = (start + summary.sent) % len(payloads)
        print(f"demo load: {summary.sent} sent, {summary.failures} failed", flush=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["load"] and len(sys.argv) == 3:
        sys.exit(run_load_forever(Path(sys.argv[2])))
    sys.exit("usage: python -m console.demo load WORKSPACE_FOLDER")
