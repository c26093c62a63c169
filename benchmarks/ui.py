"""The console's budgets. Prints four figures (targets from DESIGN.md and issue 18):

  - process start to the first frame: a fresh `python` that imports the CLI and runs the app
    headless on a local workspace folder, measured from just before the spawn (target < 0.5 s)
  - UI-thread time to apply a refresh of 10,000 jobs (target < 50 ms)
  - UI-thread time to apply a refresh of 500 endpoints (target < 50 ms)
  - a traffic change to the endpoints pane showing it: the demo's churn-ep (blue and green, set
    up as benchmarks/faults.py sets it up, in a temporary workspace folder with its own daemon)
    under `amlops endpoint load` at 20 requests/s; the real app, headless, reading the workspace
    on its own cadence. From the set_traffic call until the pane's RPS cells give every deployment
    a share within 10 points of the new split, for each of 50/50, 10/90, 90/10, 50/50 (each moves
    40 or 80 points from the one before; each held --hold s): the median and each one. The load
    and the workspace's processes are stopped by pid (`local down --all`, then SIGKILL of what is
    left) at the end.

The refresh figures apply synthetic snapshots (made here, labelled as such) to the real app:
the first apply (every row new) and steady refreshes where a few rows changed, medians of N.
Run: .venv/bin/python benchmarks/ui.py [--runs N] [--no-traffic] (the traffic figure takes about
three minutes: ~50 s of set-up, a --hold of 20 s a change, at most --cap s for the pane)
"""

from __future__ import annotations

import argparse
import asyncio
import os
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

# A size of its own: with none, the headless driver and the app disagree by a line (80x25
# against 80x24) and the screen resizes between the two for ever.
Once(LocalWorkspace(Path(sys.argv[2]), autostart=False), refresh_s=3600).run(headless=True, size=(80, 24))
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

        @staticmethod
        def throttled_for() -> None:  # never throttled: it is never read
            return None

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


SPLITS = ({"blue": 50, "green": 50}, {"blue": 10, "green": 90}, {"blue": 90, "green": 10}, {"blue": 50, "green": 50})
LOAD_RPS = 20.0
WITHIN = 10.0  # percentage points of the split


def shown_shares(pane) -> dict[str, float] | None:
    """Each churn-ep deployment's share of the RPS the endpoints pane shows, in percent; None
    while a figure is missing (or reads 0 everywhere)."""
    table = pane.table
    if not table.shown:  # not laid out yet
        return None
    if "RPS" not in table.shown:
        raise SystemExit("the endpoints pane does not show its RPS column at this size")
    rps = {}
    for deployment in ("blue", "green"):
        key = f"churn-ep/{deployment}"
        if key not in table.rows:
            return None
        cell = table.get_cell(key, "RPS")
        try:
            rps[deployment] = float(getattr(cell, "plain", cell))
        except ValueError:
            return None
    total = sum(rps.values())
    return {d: 100 * v / total for d, v in rps.items()} if total > 0 else None


async def traffic_to_pane(root: Path, cap_s: float, hold_s: float) -> list[tuple[dict[str, int], float | None, dict]]:
    """Per change in SPLITS: (the split, seconds from set_traffic until the pane shows it within
    WITHIN points, or None after `cap_s`, the shares last shown). Each split (and blue alone,
    before the first) is held `hold_s` from its change, so that the window the pane reads holds
    only it when the next change comes, as under a steady load."""
    from console.ui.app import AmlopsApp
    from console.ui.panes.endpoints import EndpointsPane
    from console.workspace import open_workspace

    writer = open_workspace("local", root=root)  # the app's workspace is its own: its workers read it
    app = AmlopsApp(open_workspace("local", root=root))
    out = []
    async with app.run_test(size=(200, 50)) as pilot:
        while not app.console_screen.query(EndpointsPane):  # the panes mount just after the first frame
            await pilot.pause(0.01)
        pane = app.console_screen.query_one(EndpointsPane)

        async def wait_for(split: dict[str, int], start: float) -> tuple[float | None, dict]:
            shares: dict = {}
            while time.perf_counter() - start < cap_s:
                shares = shown_shares(pane) or {}
                if shares and all(abs(shares[d] - split[d]) <= WITHIN for d in split):
                    return time.perf_counter() - start, shares
                await pilot.pause(0.05)
            return None, shares

        # The load's first figures: blue alone (set-up leaves blue=100 green=0).
        start = time.perf_counter()
        await wait_for({"blue": 100, "green": 0}, start)
        for split in SPLITS:
            await asyncio.sleep(max(0.0, start + hold_s - time.perf_counter()))
            start = time.perf_counter()
            await asyncio.to_thread(writer.endpoints.set_traffic, "churn-ep", split)
            seconds, shares = await wait_for(split, start)
            out.append((split, seconds, shares))
            print(f"   blue={split['blue']} green={split['green']}: "
                  + (f"{seconds:5.1f} s" if seconds is not None else f"not within {cap_s:g} s")
                  + f" (shown {', '.join(f'{d} {v:.0f} %' for d, v in shares.items()) or 'nothing'})", flush=True)
    return out


def traffic_figure(cap_s: float, hold_s: float) -> None:
    import signal

    from faults import set_up, tear_down  # the demo endpoint as benchmarks/faults.py builds it

    with tempfile.TemporaryDirectory(prefix="amlops-ui-bench-traffic-") as tmp:
        root = (Path(tmp) / "ws").resolve()
        load = None
        try:
            set_up(root, Path(tmp))
            load = subprocess.Popen([sys.executable, "-m", "console.cli", "--workspace-dir", str(root), "endpoint",
                                     "load", "churn-ep", "--rps", f"{LOAD_RPS:g}", "--duration", "3600"],
                                    cwd=Path(__file__).resolve().parents[1], stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            print(f"traffic change -> endpoints pane, churn-ep under {LOAD_RPS:g} requests/s (load pid {load.pid}):",
                  flush=True)
            results = asyncio.run(traffic_to_pane(root, cap_s, hold_s))
        finally:
            if load is not None and load.poll() is None:
                os.kill(load.pid, signal.SIGTERM)
                try:
                    load.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.kill(load.pid, signal.SIGKILL)
                    load.wait()
            tear_down(root)
    seconds = [s for _, s, _ in results if s is not None]
    missed = len(results) - len(seconds)
    print(f"traffic change -> pane shows it   median {statistics.median(seconds) if seconds else float('nan'):7.1f} s "
          f"over {len(results)} changes at {LOAD_RPS:g} requests/s (within {WITHIN:g} points of the split)"
          + (f"; {missed} not within {cap_s:g} s" if missed else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--no-traffic", action="store_true", help="leave out the traffic figure (its set-up trains "
                                                                  "and deploys the demo model)")
    parser.add_argument("--cap", type=float, default=90.0, help="seconds to wait for the pane to show a change")
    parser.add_argument("--hold", type=float, default=20.0, help="seconds each split is held (at least the window "
                                                                 "the pane reads: 10 s locally)")
    args = parser.parse_args()
    import signal

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that `finally` stops what it started
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
          "for the first; target < 50 ms", flush=True)
    if not args.no_traffic:
        traffic_figure(args.cap, args.hold)


if __name__ == "__main__":
    main()
