"""The local workspace's budgets, on a real daemon in a temporary folder.

Prints three figures (issue: local workspace):
  - submit -> Running for a trivial job, median of N (target < 1 s)
  - `amlops job list --json` with 10,000 jobs in the store, wall time of the whole command,
    median of N (target < 200 ms)
  - the daemon's resident memory at rest, before and after the heavy libraries are loaded
Run: .venv/bin/python benchmarks/local_jobs.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from console.local.client import LocalWorkspace, stop_daemon
from console.local.store import Store

ROOT = Path(__file__).resolve().parent.parent
TRIVIAL = """$schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json
command: echo hello
environment: azureml://registries/azureml/environments/sklearn-1.5/versions/1
compute: azureml:cpu-cluster
experiment_name: bench
"""


def seed_jobs(db: Path, count: int) -> None:
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    rows = []
    for i in range(count):
        created = start + timedelta(minutes=i)
        rows.append({"name": f"bench_job_{i:05d}", "status": ("Completed", "Failed", "Canceled")[i % 3],
                     "job_type": "command", "display_name": f"train-{i}", "experiment_name": "bench",
                     "compute": "cpu-cluster", "nodes": 1, "created_at": created.isoformat(),
                     "started_at": (created + timedelta(seconds=5)).isoformat(),
                     "ended_at": (created + timedelta(seconds=65)).isoformat(), "parent": None,
                     "mlflow_run_id": f"{i:032x}", "error": None, "tags": {}, "plan": {}, "workdir": None})
    store = Store(db)
    store.insert_many("jobs", rows)
    store.close()


def submit_to_running(ws: LocalWorkspace, spec: Path) -> float:
    start = time.perf_counter()
    job = ws.jobs.submit(str(spec))
    while ws.jobs.get(job.name).status in ("Queued", "Starting"):
        time.sleep(0.002)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="amlops-bench-") as tmp:
        root = Path(tmp) / "ws"
        ws = LocalWorkspace(root)
        ws.folder.create()
        seed_jobs(ws.folder.db, 10_000)
        try:
            rest = ws.connection.call("daemon.status")["rss_kb"]
            ws.assets.create(str(ROOT / "specs" / "compute" / "cpu-cluster.yml"))
            spec = Path(tmp) / "trivial.yml"
            spec.write_text(TRIVIAL)
            submit_to_running(ws, spec)  # the first submit warms the loaders and MLflow
            times = [submit_to_running(ws, spec) for _ in range(args.runs)]
            print(f"submit -> Running, trivial job      median {statistics.median(times) * 1000:7.1f} ms "
                  f"(min {min(times) * 1000:.1f}, max {max(times) * 1000:.1f}; target < 1000 ms)")

            env = {**os.environ, "AMLOPS_WORKSPACE_DIR": str(root)}
            cmd = [sys.executable, "-m", "console.cli", "job", "list", "--json"]
            walls = []
            for _ in range(args.runs):
                start = time.perf_counter()
                out = subprocess.run(cmd, env=env, capture_output=True, check=True)
                walls.append(time.perf_counter() - start)
            count = out.stdout.count(b'"name"')
            print(f"job list --json, {count:,} jobs        median {statistics.median(walls) * 1000:7.1f} ms "
                  f"(min {min(walls) * 1000:.1f}; target < 200 ms)")

            loaded = ws.connection.call("daemon.status")["rss_kb"]
            print(f"daemon memory at rest                {rest / 1024:7.1f} MiB before any spec is loaded, "
                  f"{loaded / 1024:.1f} MiB with azure-ai-ml and MLflow loaded")
        finally:
            stop_daemon(ws.folder)


if __name__ == "__main__":
    main()
