"""The azure workspace's refresh budget (DESIGN.md, Budgets: "Azure"). Prints:

1. HTTP requests per read of each area, per refresh cycle and per minute at the azure workspace's
   cadence, for a workspace of 5 endpoints x 2 deployments and 1,000 jobs, against ARM's read
   budget (250 reads per principal per subscription per region, refilled at 25/s: 1,500 a minute
   sustained; target under 10 %); then ARM requests per refresh cycle and per minute with 5, 50
   and 200 endpoints, the endpoints area read at its cadence for ten minutes of the workspace's
   clocks (issue 16: under 10 % of the budget and under 50 a cycle at 50; `--growth` prints only this);
2. UI-thread time to apply an Azure refresh of that workspace (all five areas), median of N;
3. time to first frame of the console, its refresh on (the area workers start, and on Azure the
   first imports azure-ai-ml), on the azure workspace (the fake ARM, built in that worker) and on
   the local one, beside a bare Textual app (header, table, footer) started the same way,
   interleaved in one run, medians of at least 11 (target within 1.1x on both);
4. storage bytes per drift recompute of a monitor whose endpoint collects 10 requests/s: the
   first recompute, and the steady state five minutes later (`--drift` prints only this).

The workspace is the fake ARM of the tests (tests/fakes/arm.py, Azure's REST example payloads
filled with a demo's state) answered in-process, so the counts are azure-ai-ml 1.35.2's own
requests for each call the console makes; no network is used.
Run: .venv/bin/python benchmarks/azure_refresh.py [--runs N] [--growth | --drift]
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

ARM_READS_PER_MINUTE = 25 * 60  # the token bucket's refill; the 250 burst does not last a minute
ENDPOINTS, JOBS = 5, 1000
GROWTH = (5, 50, 200)  # endpoints, for the ARM requests as the workspace grows
SIMULATED_S = 600.0  # how long the endpoints area is read at its cadence for those


def big_fake(endpoints: int = ENDPOINTS):
    """The fake ARM with `endpoints` endpoints of blue and green (serving as churn-ep does), and 1,000 jobs."""
    from fakes.arm import FakeArm

    fake = FakeArm(jobs_page_size=100)  # ARM's own page size for jobs
    for i in range(1, endpoints):
        fake.copy_endpoint("churn-ep", f"churn-ep-{i}")
    template = next(iter(fake.jobs.values()))
    for i in range(JOBS - len(fake.jobs)):
        job = copy.deepcopy(template)
        job["name"] = f"bench_job_{i:05d}"
        job["id"] = job["id"].rsplit("/", 1)[0] + "/" + job["name"]
        job["properties"]["status"] = "Completed"
        fake.add_job(job)
    return fake


def workspace_over(fake, state: Path):
    from azure.ai.ml.constants._common import LROConfigurations

    from console.azure.target import AzureTarget
    from console.azure.workspace import AzureWorkspace
    from fakes.azure import FakeCredential, SleeplessTransport

    os.environ["XDG_DATA_HOME"] = str(state)
    LROConfigurations.POLL_INTERVAL = 0
    target = AzureTarget(fake.SUBSCRIPTION, fake.RESOURCE_GROUP, fake.WORKSPACE, source="benchmark")
    return AzureWorkspace(target, credential=FakeCredential(), transport=SleeplessTransport(fake.session()),
                          polling_interval=0)


def requests_per_area(ws, fake) -> tuple[dict[str, tuple[int, int]], dict[str, tuple[int, int]]]:
    """(ARM requests, others) of each area's first read, and of a read right after it: what the
    workspace keeps between reads (Azure Monitor's minute-grain metrics, a drift report for five
    minutes) is not asked again."""
    from console.ui.snapshot import AREAS, read_area, unavailable

    missing = unavailable(ws)
    read_area(ws, "quotas", missing)  # the first read also reads the workspace's location, once
    cold, warm = {}, {}
    for area in AREAS:
        for counts in (cold, warm):
            before = len(fake.requests)
            values, error = read_area(ws, area.name, missing)
            assert error is None, (area.name, error)
            sent = fake.requests[before:]
            arm = sum(c.host == "management.azure.com" for c in sent)
            counts[area.name] = (arm, len(sent) - arm)
    assert not fake.unhandled, fake.unhandled
    return cold, warm


def kept_for(area: str, arm: bool = True) -> float:
    """How long what an area's read keeps is kept: an endpoint's deployments (ARM: read again
    within five minutes unless it changed), Azure Monitor's metrics (not ARM: 30 s), a drift
    report (monitors: five minutes)."""
    from console.azure.drift import REPORT_MAX_AGE_S
    from console.azure.metrics import TTL_S
    from console.azure.workspace import CADENCE, DEPLOYMENTS_EVERY_S

    endpoints = DEPLOYMENTS_EVERY_S if arm else TTL_S
    return {"endpoints": endpoints, "monitors": REPORT_MAX_AGE_S}.get(area, CADENCE[area])


def per_minute(cold: int, warm: int, every_s: float, kept_s: float) -> float:
    """Requests a minute at the area's cadence; what is kept for `kept_s` is asked that often."""
    reads = 60 / every_s
    return warm * reads + (cold - warm) * min(reads, 60 / kept_s)


def endpoints_over_time(ws, fake, seconds: float = SIMULATED_S) -> tuple[list[int], int]:
    """The endpoints area read at its cadence for `seconds` of the workspace's clocks, moved by hand
    (the deployments' slow round, Azure Monitor's 30 s): ARM requests of each read, and the
    requests to Azure Monitor's batch API in all."""
    from console.azure.workspace import CADENCE
    from console.ui.snapshot import read_area, unavailable

    now = [time.monotonic()]
    ws.endpoints.clock = ws.monitor_metrics.clock = lambda: now[0]
    missing, reads, monitor = unavailable(ws), [], 0
    for _ in range(int(seconds / CADENCE["endpoints"])):
        now[0] += CADENCE["endpoints"]
        before = len(fake.requests)
        values, error = read_area(ws, "endpoints", missing)
        assert error is None and len(values["metrics"]) == len(values["endpoints"]), error
        sent = fake.requests[before:]
        reads.append(sum(c.host == "management.azure.com" for c in sent))
        monitor += sum(c.host.endswith(".metrics.monitor.azure.com") for c in sent)
    return reads, monitor


def growth(state: Path) -> None:
    """ARM requests per refresh cycle and per minute as the workspace's endpoints grow: the first
    cycle (every area read once, nothing kept yet), the most any later cycle sends, and a minute's
    (the endpoints area as read for ten minutes; the other areas as in the table above, which do
    not grow with the endpoints)."""
    from console.azure.workspace import CADENCE

    print(f"   as the endpoints grow (blue and green each; the endpoints area read every {CADENCE['endpoints']:.0f} s "
          f"for {SIMULATED_S / 60:.0f} minutes of the workspace's clocks):")
    print("   endpoints  ARM first cycle  ARM later cycles (most)  ARM/minute  of the budget   Azure Monitor/minute")
    for n in GROWTH:
        fake = big_fake(n)
        ws = workspace_over(fake, state / str(n))
        cold, warm = requests_per_area(ws, fake)
        reads, monitor = endpoints_over_time(ws, fake)
        rest = [a for a in cold if a != "endpoints"]
        minute = sum(reads) * 60 / SIMULATED_S + sum(
            per_minute(cold[a][0], warm[a][0], CADENCE[a], kept_for(a)) for a in rest)
        later = max(reads) + sum(warm[a][0] for a in rest)
        print(f"   {n:>9}  {sum(a for a, _ in cold.values()):>15}  {later:>23}  {minute:>10.0f}  "
              f"{minute / ARM_READS_PER_MINUTE:>13.1%}  {monitor * 60 / SIMULATED_S:>20.0f}")
        ws.close()
    print("   (targets: under 10 % of the budget, and at 50 endpoints under 50 ARM requests a cycle after the first. "
          "Before, every read listed each endpoint's deployments and asked ARM for each one's metrics twice: first "
          "cycle 26 / 161 / 611, later cycles 11 / 56 / 206, a minute 76 (5.1 %) / 526 (35.1 %) / 2,026 (135 %))")


async def apply_seconds(snapshot, runs: int) -> float:
    from console.ui.app import AmlopsApp

    class Quiet:  # never read: the snapshot is applied by hand
        name, backend, read_only, location = "bench", "azure", True, "fake ARM"
        capabilities, cadence, unsupported = frozenset(), {}, {}

        def throttled_for(self):  # the header asks; never throttled
            return None

    app = AmlopsApp(Quiet(), autorefresh=False)
    times = []
    async with app.run_test(size=(120, 40)) as pilot:
        while len(app.query("Pane")) < 5:
            await pilot.pause(0.01)
        for _ in range(runs + 1):
            start = time.perf_counter()
            app.console_screen.apply(snapshot)
            times.append(time.perf_counter() - start)
            await pilot.pause()
    return statistics.median(times[1:])  # the first apply builds every row


FIRST_FRAME = """
import sys, time
start = float(sys.argv[1])
if sys.argv[2] == "bare":
    from textual.app import App
    from textual.widgets import DataTable, Footer, Header

    class Bare(App):
        def compose(self):
            yield Header()
            yield DataTable()
            yield Footer()

        def on_mount(self):
            self.call_after_refresh(self.done)

        def done(self):
            print(time.time() - start, flush=True)
            self.exit()

    Bare().run(headless=True, size=(80, 24))  # a size of its own (benchmarks/ui.py says why)
elif sys.argv[2] == "local":
    # The local workspace's console as `amlops` opens it, its refresh on (a folder with no daemon:
    # the reads fail fast, after the frame).
    from pathlib import Path

    from console.cli import STARTED
    from console.local.client import LocalWorkspace
    from console.ui.app import AmlopsApp

    class Once(AmlopsApp):
        def _first_frame(self):
            print(time.time() - start, flush=True)
            self.exit()

    # cwd: a temporary folder; a size of its own (benchmarks/ui.py says why)
    Once(LocalWorkspace(Path.cwd() / "local-ws", autostart=False)).run(headless=True, size=(80, 24))
else:
    # The console as it runs: its refresh on, so the area workers start (and import azure-ai-ml)
    # as they would. Azure is the fake ARM, built in the first worker that sends a request, so
    # neither the fake nor its imports are charged to the first frame.
    from console.cli import STARTED
    from console.azure.workspace import open_azure
    from console.ui.app import AmlopsApp

    class LazyTransport:
        def __init__(self):
            self._real = None

        def _transport(self):
            if self._real is None:
                sys.path.insert(0, sys.argv[3])
                from fakes.arm import FakeArm
                from fakes.azure import SleeplessTransport

                self._real = SleeplessTransport(FakeArm().session())
            return self._real

        def __enter__(self):
            return self._transport().__enter__()

        def __exit__(self, *exc):
            return self._transport().__exit__(*exc)

        def __getattr__(self, name):
            return getattr(self._transport(), name)

    class Credential:
        def get_token(self, *scopes, **kwargs):
            from fakes.azure import FakeCredential

            return FakeCredential().get_token(*scopes, **kwargs)

    class Once(AmlopsApp):
        def _first_frame(self):
            print(time.time() - start, flush=True)
            self.exit()

    Once(open_azure(credential=Credential(), transport=LazyTransport(), polling_interval=0)).run(
        headless=True, size=(80, 24))  # a size of its own (benchmarks/ui.py says why)
"""


def first_frame(kind: str, cwd: Path) -> float:
    """Seconds from spawn to the first frame. Python as a user's runs it: bytecode cached. Textual
    was byte-compiled when pip installed it, the project's editable source is not: where
    PYTHONDONTWRITEBYTECODE is set (coding sandboxes set it) every start would compile the
    console's modules again, which no user pays, so the child runs without it."""
    start = time.time()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    out = subprocess.run([sys.executable, "-c", FIRST_FRAME, repr(start), kind, str(ROOT / "tests")],
                         capture_output=True, text=True,
                         check=True, timeout=60, cwd=cwd, env={**env, "PYTHONPATH": str(ROOT)})
    return float(out.stdout.strip().splitlines()[0])


COLLECTED_PER_S = 10  # requests a second the drift section's endpoint collects


def drift_bytes(state: Path) -> None:
    """Storage bytes per drift recompute (CollectedDrift.run over the last hour, as the pane asks
    every 5 minutes) for blue of churn-ep collecting COLLECTED_PER_S requests a second: an hour of
    model_inputs as the data collector writes it (a line a second, holding that second's requests,
    appended to the instance's file of the hour), then five more minutes before the next one."""
    from datetime import datetime, timedelta, timezone

    from console.azure.drift import RECENT, REPORT_MAX_AGE_S
    from fakes.arm import FakeArm, churn_rows

    fake = FakeArm()
    for name in [n for n in fake.blobs if n.startswith("modelDataCollector/")]:
        del fake.blobs[name]  # the seed's few rows: only the generated traffic is in the window
    ws = workspace_over(fake, state)
    rows = churn_rows()

    def collect(start: datetime, minutes: int) -> None:
        for minute in range(minutes):
            at = start + timedelta(minutes=minute)
            first = int(at.timestamp()) * COLLECTED_PER_S
            batch = [rows[(first + i) % len(rows)] for i in range(60 * COLLECTED_PER_S)]
            fake.collect("churn-ep", "blue", batch, at, per_line=COLLECTED_PER_S, every_s=1, instance="0")

    def recompute(end: datetime) -> tuple[int, int, float, int]:
        """(storage bytes, ARM requests, seconds, production rows) of one recompute ending at `end`."""
        bytes_before, sent = sum(ws.storage.received.values()), len(fake.requests)
        started = time.perf_counter()
        report = ws.drift.run("churn-drift", end - RECENT, end)
        seconds = time.perf_counter() - started
        arm = sum(c.host == "management.azure.com" for c in fake.requests[sent:])
        return sum(ws.storage.received.values()) - bytes_before, arm, seconds, report.production_rows

    def window_bytes(end: datetime) -> int:
        """What reading the window's hour folders whole costs: what each recompute read before."""
        hours = {(end - RECENT).strftime("%Y/%m/%d/%H"), (end - timedelta(microseconds=1)).strftime("%Y/%m/%d/%H")}
        return sum(len(b) for n, b in fake.blobs.items() if "/model_inputs/" in n and n.split("/model_inputs/")[1][:13]
                   in hours)

    end = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    collect(end - RECENT, int(RECENT.total_seconds() // 60))
    every = timedelta(seconds=REPORT_MAX_AGE_S)
    cold = recompute(end)
    whole = window_bytes(end)
    steady = []
    for _ in range(3):
        collect(end, int(every.total_seconds() // 60))
        end += every
        steady.append(recompute(end))
        whole = max(whole, window_bytes(end))
    warm = steady[-1]
    print(f"4. drift recompute over the last hour, blue collecting {COLLECTED_PER_S} requests/s "
          f"({cold[3]:,} rows in the window), every {REPORT_MAX_AGE_S / 60:.0f} minutes:")
    print(f"   first recompute: {cold[0] / 1e6:.2f} MB from storage, {cold[1]} ARM requests, {cold[2]:.2f} s")
    print(f"   steady state:    {warm[0] / 1e6:.2f} MB from storage, {warm[1]} ARM requests, {warm[2]:.2f} s "
          f"({warm[3]:,} rows; the {every.total_seconds() / 60:.0f} minutes the collector appended, and the listing)")
    print(f"   reading the window's hour folders whole, as each recompute did before: {whole / 1e6:.2f} MB "
          f"({whole / max(warm[0], 1):.0f}x the steady state)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--drift", action="store_true", help="print only 4., the drift recompute's storage bytes")
    parser.add_argument("--growth", action="store_true",
                        help="print only the ARM requests with 5, 50 and 200 endpoints (part of 1.)")
    args = parser.parse_args()
    if args.growth:
        with tempfile.TemporaryDirectory(prefix="amlops-azure-bench-") as tmp:
            growth(Path(tmp))
        return
    if args.drift:
        with tempfile.TemporaryDirectory(prefix="amlops-azure-bench-") as tmp:
            drift_bytes(Path(tmp))
        return
    from console.azure.workspace import CADENCE
    from console.ui.snapshot import fetch

    with tempfile.TemporaryDirectory(prefix="amlops-azure-bench-") as tmp:
        fake = big_fake()
        ws = workspace_over(fake, Path(tmp))
        counts, warm = requests_per_area(ws, fake)
        arm = {a: per_minute(counts[a][0], warm[a][0], CADENCE[a], kept_for(a)) for a in counts}
        other = {a: per_minute(counts[a][1], warm[a][1], CADENCE[a], kept_for(a, arm=False)) for a in counts}
        print(f"1. HTTP requests, a workspace of {ENDPOINTS} endpoints x 2 deployments and {len(fake.jobs):,} jobs "
              "(azure-ai-ml 1.35.2 over the fake ARM)")
        print("   area        ARM/read  every  ARM/minute   storage+MLflow+Monitor/read  /minute")
        for area, (n, rest) in counts.items():
            print(f"   {area:<10} {n:>8}  {CADENCE[area]:>4.0f} s  {arm[area]:>10.1f}   {rest:>27}  {other[area]:>7.1f}")
        print("   (endpoints: their deployments are read again when the listing says they changed, else within "
              "5 minutes; Azure Monitor's batch API, not ARM, has the metrics of 50 endpoints a request, read at "
              "most every 30 s; monitors: the drift report over the collected data is computed again every 5 minutes)")
        total = sum(arm.values())
        print(f"   one refresh cycle (every area once): {sum(n for n, _ in counts.values())} ARM requests, "
              f"{sum(r for _, r in counts.values())} to storage, MLflow and Azure Monitor")
        print(f"   ARM reads per minute at this cadence: {total:.0f} of the 1,500 ARM refills "
              f"({total / ARM_READS_PER_MINUTE:.1%}; target < 10 %): "
              f"{'MET' if total < 0.1 * ARM_READS_PER_MINUTE else 'NOT MET'}")
        growth(Path(tmp) / "growth")

        running = next(j.name for j in ws.jobs.list() if not j.is_terminal)
        fake.set_job_status(running, "Running", log="".join(f"epoch {i}\n" for i in range(200)))
        fake.log_metrics(running, "holdout_log_loss", [0.5] * 40)
        for _ in range(2):  # the second read is the steady state: datastore and tracking URI are known
            before = len(fake.requests)
            list(ws.jobs.logs(running))
            ws.jobs.metrics(running)
        detail = fake.requests[before:]
        arm = sum(c.host == "management.azure.com" for c in detail)
        print(f"   the highlighted running job's log and metrics, read again each jobs refresh: {len(detail)} requests "
              f"({arm} to ARM; the rest to the workspace's storage and MLflow tracking server)")

        snapshot = fetch(ws)
        seconds = asyncio.run(apply_seconds(snapshot, args.runs))
        print(f"2. UI time to apply an Azure refresh of it: median {seconds * 1000:.1f} ms of {args.runs} "
              "(target < 20 ms for 10,000 jobs / 500 endpoints: benchmarks/ui.py)")

        project = Path(tmp) / "project"
        (project / ".azureml").mkdir(parents=True)
        (project / ".azureml" / "config.json").write_text(json.dumps(
            {"subscription_id": fake.SUBSCRIPTION, "resource_group": fake.RESOURCE_GROUP,
             "workspace_name": fake.WORKSPACE}))
        bare, azure, local = [], [], []
        frames = max(args.runs, 11)  # the budget is a median of 11
        for kind in ("bare", "azure", "local"):  # once unmeasured: each writes its bytecode, as a first start does
            first_frame(kind, project)
        for _ in range(frames):  # interleaved: the machine's drift hits all three alike
            bare.append(first_frame("bare", project))
            azure.append(first_frame("azure", project))
            local.append(first_frame("local", project))
        b, a, lo = statistics.median(bare), statistics.median(azure), statistics.median(local)
        print(f"3. process start -> first frame, the console's refresh on, medians of {frames}: bare Textual "
              f"app {b * 1000:.0f} ms; amlops --workspace azure {a * 1000:.0f} ms ({a / b:.2f}x), local "
              f"{lo * 1000:.0f} ms ({lo / b:.2f}x); target <= 1.1x: "
              f"{'MET' if max(a, lo) <= 1.1 * b else 'NOT MET'}")

        drift_bytes(Path(tmp) / "drift")


if __name__ == "__main__":
    main()
