"""The console's budgets. Prints three figures (targets from DESIGN.md):

  - process start to the first frame: a fresh `python` that imports the CLI and runs the app
    headless on a local workspace folder, measured from just before the spawn (target < 0.5 s)
  - UI-thread time to apply a refresh of 10,000 jobs (target < 50 ms)
  - UI-thread time to apply a refresh of 500 endpoints (target < 50 ms)

The refresh figures apply synthetic snapshots (made here, labelled as such) to the real app:
the first apply (every row new) and steady refreshes where a few rows changed, medians of N.
Run: .venv/bin/python benchmarks/ui.py [--runs N]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

CHILD = """
import sys, time
start = float(sys.argv[1])
from console.cli import STARTED
from console.local.client import LocalWorkspace
from console.ui.app import AmlopsApp
from pathlib import Path

class Once(AmlopsApp):
    def _first_frame(self):
        print(time.time() - start, flush=True)
        self.exit()

Once(LocalWorkspace(Path(sys.argv[2]), autostart=False), refresh_s=3600).run(headless=True)
"""


def first_frame_seconds(workspace: Path) -> float:
    start = time.time()
    out = subprocess.run([sys.executable, "-c", CHILD, repr(start), str(workspace)], capture_output=True,
                         text=True, check=True, timeout=60)
    return float(out.stdout.strip().splitlines()[0])


def jobs_snapshot(count: int, changed: int = 0):
    from console.domain import Job
    from console.ui.snapshot import Snapshot

    base = datetime(2026, 1, 1, tzinfo=timezone.utc)
    jobs = []
    for i in range(count):
        status = "Running" if i < changed else ("Completed", "Failed", "Canceled")[i % 3]
        created = base + timedelta(minutes=i)
        jobs.append(Job(name=f"job_{i:05d}", status=status, experiment_name="bench", compute="cpu-cluster",
                        created_at=created, started_at=created + timedelta(seconds=5),
                        ended_at=None if status == "Running" else created + timedelta(seconds=65)))
    return Snapshot(taken_at=base + timedelta(days=30), jobs=jobs, computes=[], quotas=[], endpoints=[],
                    monitors=[], costs_today={})


def endpoints_snapshot(count: int, shift: int = 0):
    from console.domain import Deployment, DeploymentMetrics, Endpoint, Traffic
    from console.ui.snapshot import Snapshot

    endpoints, metrics = [], {}
    for i in range(count):
        name = f"ep-{i:04d}"
        blue = Deployment(name, "blue", "churn-classifier:1", "Standard_DS3_v2", 2, ready_instances=2)
        green = Deployment(name, "green", "churn-classifier:2", "Standard_DS3_v2", 1, ready_instances=1)
        share = (10 + shift) % 100 if i % 50 == 0 else 0
        endpoints.append(Endpoint(name, traffic=Traffic(live={"blue": 100 - share, "green": share}),
                                  deployments=(blue, green)))
        # Figures that differ between deployments (as live ones do) and all move on every refresh:
        # the cells the pane builds once and shares must not make this look cheaper than it is.
        metrics[name] = [DeploymentMetrics(name, d, 60, 600, (i % 97) * 0.37 + j + shift,
                                           1.0 - (i % 13) * 0.001, 6.0, 9.0, 5.0 + (i * 7 + j) % 300 + shift,
                                           tuple(float((x * (i + 1) + shift + j) % 50) for x in range(12)))
                         for j, d in enumerate(("blue", "green"))]
    return Snapshot(taken_at=datetime.now(timezone.utc), jobs=[], computes=[], quotas=[], endpoints=endpoints,
                    metrics=metrics, monitors=[], costs_today={})


async def apply_times(snapshots, runs: int) -> tuple[float, float]:
    """(first apply, median of steady applies) in seconds, on the app's own thread."""
    from console.ui.app import AmlopsApp

    class Quiet:  # a workspace that is never read (autorefresh off): only the applies are measured
        name, backend, read_only, location, capabilities, cadence = "bench", "local", True, "nowhere", frozenset(), {}
        unsupported: dict[str, str] = {}

    app = AmlopsApp(Quiet(), autorefresh=False)
    async with app.run_test(size=(120, 40)) as pilot:
        while len(app.query("Pane")) < 5:  # the panes mount just after the first frame
            await pilot.pause(0.01)
        start = time.perf_counter()
        app.console_screen.apply(snapshots[0])
        first = time.perf_counter() - start
        await pilot.pause()
        steady = []
        for i in range(runs):
            start = time.perf_counter()
            app.console_screen.apply(snapshots[1 + i % (len(snapshots) - 1)])
            steady.append(time.perf_counter() - start)
            await pilot.pause()
    return first, statistics.median(steady)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="amlops-ui-bench-") as tmp:
        frames = [first_frame_seconds(Path(tmp) / "ws") for _ in range(args.runs)]
    print(f"process start -> first frame      median {statistics.median(frames) * 1000:7.1f} ms "
          f"(min {min(frames) * 1000:.1f}; target < 500 ms)")
    jobs = [jobs_snapshot(10_000), jobs_snapshot(10_000, changed=5), jobs_snapshot(10_000, changed=10)]
    first, steady = asyncio.run(apply_times(jobs, args.runs))
    print(f"apply a refresh of 10,000 jobs    median {steady * 1000:7.1f} ms steady, {first * 1000:.1f} ms "
          "for the first (every row new); target < 50 ms")
    endpoints = [endpoints_snapshot(500), endpoints_snapshot(500, 1), endpoints_snapshot(500, 2)]
    first, steady = asyncio.run(apply_times(endpoints, args.runs))
    print(f"apply a refresh of 500 endpoints  median {steady * 1000:7.1f} ms steady, {first * 1000:.1f} ms "
          "for the first; target < 50 ms")


if __name__ == "__main__":
    main()
