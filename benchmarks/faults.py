"""Faults under load on a local endpoint: requests lost across traffic flips, an instance kill and
a router kill, and the time until each is back (issue 17).

The endpoint is the demo's, in a temporary workspace folder with its own daemon: the demo model
trained by training/train.py on specs/data/churn-features (as the demo's job trains it, without
the job), registered as churn-classifier:1, served on churn-ep (specs/endpoints/churn-ep.yml) by
blue and green exactly as specs/endpoints/{blue,green}-deployment.yml say (2 instances each of
MLflow's scoring server, started as `mlflow models serve` starts it, max_concurrent_requests_per_
instance 2, the specs' probes: first after 2 s, then every second), behind the real router. Everything goes through the workspace API
(console.workspace.open_workspace("local", root=...)), as the CLI and the console do.

Load: open loop, one-row churn requests in Azure's payload on the scoring URI with the primary
key, evenly spaced arrivals, each sent at its time whatever is still in flight; latency counts
from the scheduled time. A request failed if it was not answered 2xx (429, 502, 503, 408 and
connection errors alike).

1. Capacity, with blue at 100 %: 4 s steps, doubling from 25 requests/s until a step fails, then
   3 bisections (in log space) between the highest step that passed and the lowest that failed.
   A step passes when >= 99 % of its requests were answered 2xx, their p99 is under 500 ms and
   the client sent >= 95 % of the rate on time. The capacity is the highest rate that passed;
   what follows runs at 80 % of it, in one continuous load, starting with 5 s of no fault (the
   "steady" row, for reference).
2. 20 traffic flips, one a second, through set_traffic: blue=100 green=0 <-> blue=0 green=100.
   All or nothing, so that every flip moves every request to the other deployment's instances
   (the harshest split change: a request lost between the two configs, a cold or unready
   deployment, or a stale connection pool shows at full weight; 90/10 would hide 90 % of it).
   Both deployments are warmed first (20 pinned requests each). Per flip: the requests sent
   until the next flip, how many failed, and the time from the set_traffic call until the first
   answer from the new deployment ("back"); medians over the 20 flips, totals for the counts.
3. Instance kill: SIGKILL to the process group of one instance of the deployment taking the
   traffic (its pid from the daemon's `daemon.processes`: the scoring server's process group, as
   a crashed container). Two times: until the endpoint reports the deployment's
   ready_instances back at instance_count (polled 4 times a second), and until requests succeed
   at the pre-kill rate ("back": the start of the run of one-second bins, by scheduled time,
   that lasts to the end of the window, at least 3 long, each with >= 99 % answered 2xx and
   >= 95 % of the median 2xx per second of the 5 s before the kill). The window runs from the
   kill until ready again + 3 s and back for 6 s, at most 60 s.
4. Router kill: SIGKILL to the endpoint's router. The load stays on the scoring URI the
   endpoint had (a client does not learn a new port); back as in 3, on THE SAME URI; the window
   runs until back for 6 s, at most 60 s, else "not back after 60 s". Every second the endpoint
   and `daemon.processes` are read: whether a new router process appeared, whether the
   scoring_uri's port changed (and when a router answers on the new one) are printed.

Prints the capacity ramp, then one table: scenario, requests sent, failed, failed %, time until
back, and what else was measured. At the end `amlops local down --all` stops the daemon and
every router and scoring server of the folder; any process of the folder still alive after it
is named and SIGKILLed by pid (in `finally`: on an error and on Ctrl-C too).

Run: .venv/bin/python benchmarks/faults.py [--workspace-dir DIR] [--flips 20] [--cap 60]
(2.5 to 4 minutes on 2 busy cores: ~50 s of set-up, ~40 s of ramp, 1 to 2 min of faults; DIR,
if given, must not exist yet: it is created, used and left behind stopped; by default a
temporary folder).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

import aiohttp

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from console.loadgen import churn_payloads  # noqa: E402
from console.local.procs import folder_processes  # noqa: E402

SPECS = REPO / "specs"
ENDPOINT, MODEL = "churn-ep", "churn-classifier"
LOAD_SHARE = 0.8
STEP_S, START_RPS, BISECTIONS = 4.0, 25.0, 3
PASS_OK, PASS_P99_MS, PASS_SENT = 0.99, 500.0, 0.95
BACK_RUN, BACK_RATE = 3, 0.95
STEADY_S, PRE_S, SETTLE_S = 5.0, 5.0, 3.0
CLIENT_TIMEOUT_S = 10.0  # above the specs' request_timeout_ms (5 s): the router's 408 comes first


# --- pure helpers (tests/unit/test_faults_bench.py) ------------------------------------------


class Rec(NamedTuple):
    """One request: scheduled at `sent`, over at `done` (loop.time()), the HTTP status or the
    exception's name, the deployment that answered (azureml-model-deployment) or None."""

    sent: float
    done: float
    status: int | str
    deployment: str | None = None

    @property
    def ok(self) -> bool:
        return isinstance(self.status, int) and 200 <= self.status < 300


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def step_passes(records: list[Rec], rate: float, duration: float) -> tuple[bool, dict]:
    """Did a capacity step hold: >= 99 % 2xx, p99 under 500 ms, >= 95 % of the rate sent?"""
    ok = [(r.done - r.sent) * 1000 for r in records if r.ok]
    share = len(ok) / len(records) if records else 0.0
    p99 = pct(ok, 99) if ok else math.inf
    sent = len(records) / (rate * duration)
    figures = {"sent": len(records), "ok": share, "p50": statistics.median(ok) if ok else math.inf, "p99": p99}
    return share >= PASS_OK and p99 < PASS_P99_MS and sent >= PASS_SENT, figures


def next_rate(steps: list[tuple[float, bool]]) -> float | None:
    """The ramp, from the steps so far ((rate, passed) in order): START_RPS, doubling while every
    step passes; after the first failure BISECTIONS steps at the geometric mean of the highest
    pass and the lowest failure (halving instead while nothing passed); then None."""
    if not steps:
        return START_RPS
    first_fail = next((i for i, (_, ok) in enumerate(steps) if not ok), None)
    if first_fail is None:
        return steps[-1][0] * 2
    if len(steps) - 1 - first_fail >= BISECTIONS:
        return None
    passed = [rate for rate, ok in steps if ok]
    low = min(rate for rate, ok in steps if not ok)
    return math.sqrt(max(passed) * low) if passed else low / 2


def in_window(records: list[Rec], start: float, end: float) -> list[Rec]:
    return [r for r in records if start <= r.sent < end]


def success_bins(records: list[Rec], start: float, end: float, width: float = 1.0) -> list[tuple[int, int]]:
    """(requests, 2xx) per full bin of `width` s from `start`, by scheduled time."""
    n = int((end - start) // width)
    bins = [[0, 0] for _ in range(max(n, 0))]
    for r in records:
        i = int((r.sent - start) // width)
        if 0 <= i < n and r.sent >= start:
            bins[i][0] += 1
            bins[i][1] += r.ok
    return [(a, b) for a, b in bins]


def back_after(bins: list[tuple[int, int]], baseline_ok: float, width: float = 1.0) -> float | None:
    """Seconds from the first bin to the start of the good run that lasts to the last bin, at
    least BACK_RUN bins long: each bin >= 99 % 2xx and >= BACK_RATE of `baseline_ok` 2xx. None
    if the last BACK_RUN bins are not all good. (A good second before a later bad one is not
    back: an instance kill halves capacity and the queue takes a moment to overflow.)"""
    good = [sent > 0 and ok >= PASS_OK * sent and ok >= BACK_RATE * baseline_ok for sent, ok in bins]
    i = len(good)
    while i > 0 and good[i - 1]:
        i -= 1
    return i * width if len(good) - i >= BACK_RUN else None


def flip_figures(records: list[Rec], flips: list[tuple[float, float, str]], end: float) -> list[dict]:
    """Per flip (call start, call end, the deployment now at 100 %): requests sent until the next
    flip, how many failed, the set_traffic round trip and the time from its start until the
    first answer by the new deployment (None if none came before the next flip)."""
    out = []
    for i, (t0, t1, new) in enumerate(flips):
        until = flips[i + 1][0] if i + 1 < len(flips) else end
        window = in_window(records, t0, until)
        firsts = [r.done for r in window if r.ok and r.deployment == new]
        out.append({"sent": len(window), "failed": sum(not r.ok for r in window), "call_s": t1 - t0,
                    "back_s": min(firsts) - t0 if firsts else None})
    return out


def failure_kinds(records: list[Rec]) -> str:
    """'502 x3, ClientConnectorError x40': what the failures were, most frequent first."""
    counts: dict[str, int] = {}
    for r in records:
        if not r.ok:
            counts[str(r.status)] = counts.get(str(r.status), 0) + 1
    return ", ".join(f"{k} x{v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1])) or "none"


# --- load -------------------------------------------------------------------------------------


class Load:
    """Open-loop load on one URL: each request sent at its scheduled time (no client-side queue)."""

    def __init__(self, session: aiohttp.ClientSession, url: str, key: str, bodies: list[bytes]) -> None:
        self.session, self.url, self.bodies = session, url, bodies
        self.headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        self.records: list[Rec] = []
        self.tasks: set[asyncio.Task] = set()

    async def one(self, body: bytes, at: float, headers: dict[str, str]) -> None:
        loop = asyncio.get_running_loop()
        deployment = None
        try:
            async with self.session.post(self.url, data=body, headers=headers) as resp:
                await resp.read()
                status: int | str = resp.status
                deployment = resp.headers.get("azureml-model-deployment")
        except Exception as err:  # noqa: BLE001 - every failure is counted
            status = type(err).__name__
        self.records.append(Rec(at, loop.time(), status, deployment))

    async def run(self, rate: float, stop: asyncio.Event | None = None, duration: float | None = None) -> float:
        """Send at `rate` until `stop` is set or `duration` has passed; returns the start time."""
        loop = asyncio.get_running_loop()
        start = at = loop.time() + 0.02
        i = 0
        while not (stop is not None and stop.is_set()) and not (duration is not None and at >= start + duration):
            delay = at - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            task = loop.create_task(self.one(self.bodies[i % len(self.bodies)], at, self.headers))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
            i += 1
            at = start + i / rate
        return start

    async def drain(self) -> None:
        if self.tasks:
            await asyncio.gather(*list(self.tasks), return_exceptions=True)


# --- the workspace ------------------------------------------------------------------------------


def train(folder: Path) -> subprocess.Popen:
    """training/train.py as serving.py runs it (one OpenMP thread for the fit), in `folder`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env |= {"OMP_NUM_THREADS": "1", "MLFLOW_TRACKING_URI": f"sqlite:///{folder / 'mlflow.db'}",
            "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"}
    folder.mkdir(parents=True)
    with open(folder / "train.log", "wb") as log:
        return subprocess.Popen([sys.executable, str(REPO / "training" / "train.py"), "--data",
                                 str(SPECS / "data" / "churn-features")], cwd=folder, env=env,
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)


def set_up(root: Path, scratch: Path):
    from console.workspace import open_workspace

    t = time.perf_counter()
    trainer = train(scratch / "train")
    try:
        ws = open_workspace("local", root=root)
        ws.endpoints.list()  # starts the daemon while the model trains
        if trainer.wait(timeout=600) != 0:
            sys.exit(f"training/train.py failed:\n{(scratch / 'train' / 'train.log').read_text()[-3000:]}")
    finally:
        if trainer.poll() is None:
            trainer.kill()
            trainer.wait()
    [mlmodel] = list((scratch / "train").glob("**/MLmodel"))
    model = ws.models.register(MODEL, path=str(mlmodel.parent), description="the demo churn model (faults bench)")
    print(f"set-up: daemon up and {model.name}:{model.version} trained and registered "
          f"({time.perf_counter() - t:.0f} s)", flush=True)
    ws.endpoints.create(str(SPECS / "endpoints" / "churn-ep.yml"))
    ops = [ws.endpoints.create_deployment(str(SPECS / "endpoints" / f"{d}-deployment.yml")) for d in ("blue", "green")]
    for op in ops:  # side by side: their model servers start together
        done = ws.operations.wait(op.id, timeout_s=300)
        if done.status != "Succeeded":
            sys.exit(f"deploying ended {done.status}: {done.error}")
    ws.endpoints.set_traffic(ENDPOINT, {"blue": 100, "green": 0})
    endpoint = ws.endpoints.get(ENDPOINT)
    shape = ", ".join(f"{d.name} {d.ready_instances}/{d.instance_count} ready" for d in endpoint.deployments)
    print(f"set-up: {ENDPOINT} serves blue=100 green=0 at {endpoint.scoring_uri} ({shape}; "
          f"{time.perf_counter() - t:.0f} s in all)", flush=True)
    return ws


def tear_down(root: Path) -> None:
    """`amlops local down --all`, then SIGKILL by pid whatever of the folder still runs."""
    if not root.exists():
        return
    t = time.perf_counter()
    down = subprocess.run([sys.executable, "-m", "console.cli", "--workspace-dir", str(root), "local", "down", "--all"],
                          cwd=REPO, capture_output=True, text=True, timeout=180, check=False)
    if down.returncode != 0:
        print(f"amlops local down --all exited {down.returncode}: {(down.stderr or down.stdout).strip()[-500:]}")
    left = folder_processes(root)
    for pid, cmdline in left:
        print(f"still running after local down --all, SIGKILLed: {pid} {cmdline[:120]}")
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    time.sleep(0.2 if left else 0)
    remaining = folder_processes(root)
    print(f"stopped: amlops local down --all ({time.perf_counter() - t:.0f} s); processes of the folder left: "
          f"{len(remaining) or 'none'}")


# --- the scenarios -------------------------------------------------------------------------------


async def call(fn, *args):
    """A blocking workspace call, off the event loop (the load keeps its schedule)."""
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    result = await asyncio.to_thread(fn, *args)
    return t0, loop.time(), result


async def capacity(session: aiohttp.ClientSession, url: str, key: str, bodies: list[bytes]) -> float:
    print(f"\n1. capacity, blue=100: open loop, {STEP_S:.0f} s steps doubling from {START_RPS:.0f}/s, then "
          f"{BISECTIONS} bisections; a step passes with >= {PASS_OK:.0%} 2xx, p99 < {PASS_P99_MS:.0f} ms and "
          f">= {PASS_SENT:.0%} sent on time")
    steps: list[tuple[float, bool]] = []
    while (rate := next_rate(steps)) is not None:
        load = Load(session, url, key, bodies)
        await load.run(rate, duration=STEP_S)
        await load.drain()
        ok, f = step_passes(load.records, rate, STEP_S)
        steps.append((rate, ok))
        print(f"   {rate:6.1f}/s: sent {f['sent']:5}  2xx {f['ok']:7.2%}  p50 {f['p50']:7.1f} ms  "
              f"p99 {f['p99']:7.1f} ms  {'pass' if ok else 'FAIL'}  ({failure_kinds(load.records)})", flush=True)
        await asyncio.sleep(1.0)
    passed = [rate for rate, ok in steps if ok]
    if not passed:
        sys.exit("no rate passed: the endpoint sustains nothing on this machine now")
    return max(passed)


async def faults(ws, args, url: str, key: str, bodies: list[bytes]) -> None:
    loop = asyncio.get_running_loop()
    timeout = aiohttp.ClientTimeout(total=CLIENT_TIMEOUT_S)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), timeout=timeout) as session:
        warm = Load(session, url, key, bodies)
        for dep in ("blue", "green"):  # one at a time: the in-flight limit is 8
            for i in range(20):
                await warm.one(bodies[i], loop.time(), warm.headers | {"azureml-model-deployment": dep})
        if not all(r.ok for r in warm.records):
            sys.exit(f"warming the deployments failed: {failure_kinds(warm.records)}")

        cap = await capacity(session, url, key, bodies)
        rate = LOAD_SHARE * cap
        print(f"   capacity {cap:.1f} requests/s; the faults run at {LOAD_SHARE:.0%} of it: {rate:.1f} requests/s",
              flush=True)

        load = Load(session, url, key, bodies)
        stop = asyncio.Event()
        runner = loop.create_task(load.run(rate, stop=stop))
        rows: list[tuple] = []
        try:
            # 2. steady
            steady = (loop.time(), loop.time() + STEADY_S)
            await asyncio.sleep(STEADY_S)

            # 3. traffic flips
            flips = []
            print(f"\n2. {args.flips} traffic flips, one every {args.flip_every:g} s ...", flush=True)
            split = {"blue": 100, "green": 0}
            for i in range(args.flips):
                split = {"blue": split["green"], "green": split["blue"]}
                new = "blue" if split["blue"] else "green"
                t_call, t_ret, _ = await call(ws.endpoints.set_traffic, ENDPOINT, split)
                flips.append((t_call, t_ret, new))
                await asyncio.sleep(max(0.0, t_call + args.flip_every - loop.time()))
            flips_end = loop.time()
            await asyncio.sleep(SETTLE_S)
            if split["blue"] != 100:
                await call(ws.endpoints.set_traffic, ENDPOINT, {"blue": 100, "green": 0})
                await asyncio.sleep(SETTLE_S)

            # 4. instance kill
            serving = "blue"
            procs = (await call(ws.connection.call, "daemon.processes"))[2]
            victim = next(p["pid"] for p in procs if p["kind"] == "instance" and p["name"] == f"{ENDPOINT}/{serving}")
            print(f"3. SIGKILL to instance {victim}'s process group ({ENDPOINT}/{serving}) ...", flush=True)
            t_kill = loop.time()
            os.killpg(victim, signal.SIGKILL)
            unready = ready = None
            while loop.time() - t_kill < args.cap:
                _, t, endpoint = await call(ws.endpoints.get, ENDPOINT)
                dep = next(d for d in endpoint.deployments if d.name == serving)
                if unready is None and dep.ready_instances < dep.instance_count:
                    unready = t
                elif unready is not None and ready is None and dep.ready_instances == dep.instance_count:
                    ready = t
                if ready is not None and recovered(load.records, t_kill, loop.time()) and loop.time() > ready + SETTLE_S:
                    break
                await asyncio.sleep(0.25)
            kill_end = loop.time()
            instance_kill = (t_kill, kill_end, unready, ready)
            await asyncio.sleep(SETTLE_S)

            # 5. router kill
            before = ws.endpoints.get(ENDPOINT)
            procs = (await call(ws.connection.call, "daemon.processes"))[2]
            router = next(p["pid"] for p in procs if p["kind"] == "router" and p["name"] == ENDPOINT)
            print(f"4. SIGKILL to router {router} ({before.scoring_uri}); waiting up to {args.cap:g} s ...", flush=True)
            t_rkill = loop.time()
            os.kill(router, signal.SIGKILL)
            new_uri, new_uri_at, new_uri_ok, restarted, now = None, None, None, None, None
            next_read = t_rkill
            while loop.time() - t_rkill < args.cap:
                if loop.time() >= next_read:
                    next_read += 1.0
                    try:
                        _, t, now = await call(ws.endpoints.get, ENDPOINT)
                        procs = (await call(ws.connection.call, "daemon.processes"))[2]
                    except Exception as err:  # noqa: BLE001 - the endpoint read is a figure, not a step
                        print(f"   reading {ENDPOINT} failed: {err}")
                        now, procs = None, []
                    if restarted is None and any(p["kind"] == "router" and p["name"] == ENDPOINT
                                                 and p["pid"] != router for p in procs):
                        restarted = t
                    if now is not None and now.scoring_uri != before.scoring_uri and now.scoring_uri:
                        if now.scoring_uri != new_uri:
                            new_uri, new_uri_at, new_uri_ok = now.scoring_uri, t, None
                        if new_uri_ok is None:
                            probe = Load(session, new_uri, key, bodies)
                            await probe.one(bodies[0], loop.time(), probe.headers)
                            if probe.records[-1].ok:
                                new_uri_ok = probe.records[-1].done
                if recovered(load.records, t_rkill, loop.time()):
                    break
                await asyncio.sleep(0.25)
            rkill_end = loop.time()
        finally:
            stop.set()
            await runner
            await load.drain()

    # --- figures (every request of the windows is over now) ---
    records = load.records
    window = in_window(records, *steady)
    p99 = pct([(r.done - r.sent) * 1000 for r in window if r.ok] or [math.nan], 99)
    rows.append(("steady, no fault", window, None, f"p99 {p99:.0f} ms"))
    per_flip = flip_figures(records, flips, flips_end + SETTLE_S)
    flipped = in_window(records, flips[0][0], flips_end + SETTLE_S)
    backs = [f["back_s"] for f in per_flip if f["back_s"] is not None]
    rows.append((f"{len(flips)} traffic flips 100/0<->0/100", flipped,
                 statistics.median(backs) if backs else None,
                 f"per flip: median {statistics.median(f['failed'] for f in per_flip):g} failed of "
                 f"{statistics.median(f['sent'] for f in per_flip):g}, max {max(f['failed'] for f in per_flip)}; "
                 f"set_traffic median {statistics.median(f['call_s'] for f in per_flip) * 1000:.0f} ms; "
                 f"{len(per_flip) - len(backs)} flips never answered by the new deployment; "
                 f"back = first answer from the new deployment, median"))

    t_kill, kill_end, unready, ready = instance_kill
    baseline = baseline_ok(records, t_kill)
    back = back_after(success_bins(records, t_kill, kill_end), baseline)
    killed = in_window(records, t_kill, kill_end)
    ready_txt = (f"ready_instances back at instance_count after {ready - t_kill:.1f} s" if ready is not None
                 else "never reported unready" if unready is None else f"not ready again after {args.cap:g} s")
    p99 = pct([(r.done - r.sent) * 1000 for r in killed if r.ok] or [math.nan], 99)
    rows.append(("instance kill (SIGKILL group)", killed, back, f"{ready_txt}; p99 {p99:.0f} ms over the window"))

    baseline = baseline_ok(records, t_rkill)
    back = back_after(success_bins(records, t_rkill, rkill_end), baseline)
    rkilled = in_window(records, t_rkill, rkill_end)
    first = min((r.done for r in rkilled if r.ok), default=None)
    old_port = before.scoring_uri.split(":")[-1].split("/")[0]
    router_txt = (f"no new router process within {rkill_end - t_rkill:.0f} s" if restarted is None
                  else f"a new router process after {restarted - t_rkill:.1f} s")
    port_txt = (f"scoring_uri port unchanged ({old_port})" if new_uri is None else
                f"PORT CHANGED {old_port} -> {new_uri.split(':')[-1].split('/')[0]} (seen after "
                f"{new_uri_at - t_rkill:.1f} s" + (f", answering 200 after {new_uri_ok - t_rkill:.1f} s)"
                                                  if new_uri_ok else ", never answered 200)"))
    if now is not None:
        port_txt += (f"; the endpoint read {now.provisioning_state}"
                     + (f", healthy {now.healthy}" if hasattr(now, "healthy") else ""))
    first_txt = f"first 200 on the same URI after {first - t_rkill:.1f} s" if first else "no 200 on the same URI"
    rows.append(("router kill (SIGKILL)", rkilled, back, f"{first_txt}; {router_txt}; {port_txt}"))

    print(f"\n   load: {rate:.1f} requests/s ({LOAD_SHARE:.0%} of {cap:.1f}), open loop, one continuous run; "
          f"a fault's window runs from it until back + {BACK_RUN + SETTLE_S:.0f} s (the instance kill's also until "
          f"ready again + {SETTLE_S:.0f} s), at most {args.cap:g} s; the flips' from the first until 3 s after the last; "
          "back = 3 one-second bins in a row at >= 99 % 2xx and >= 95 % of the pre-fault 2xx/s")
    print(f"\n   {'scenario':<31} {'sent':>6} {'failed':>6} {'failed %':>8} {'time until back':>20}")
    for name, window, back, _ in rows:
        failed = sum(not r.ok for r in window)
        share = failed / len(window) if window else 0.0
        back_txt = "-" if name.startswith("steady") else (f"{back:.2f} s" if back is not None
                                                           else f"not back after {args.cap:g} s")
        print(f"   {name:<31} {len(window):>6} {failed:>6} {share:>8.2%} {back_txt:>20}")
    print()
    for name, window, _, more in rows:
        print(f"   {name.split(' (')[0]}: failed as {failure_kinds(window)}; {more}")


def baseline_ok(records: list[Rec], t: float) -> float:
    """Median 2xx per second over the PRE_S seconds before `t`."""
    bins = success_bins(records, t - PRE_S, t)
    return statistics.median(ok for _, ok in bins) if bins else 0.0


def recovered(records: list[Rec], t_fault: float, now: float) -> bool:
    """Watching can stop: on what has come back so far (bins ending >= 1 s ago), the load has
    been back for BACK_RUN + SETTLE_S seconds."""
    back = back_after(success_bins(records, t_fault, now - 1.0), baseline_ok(records, t_fault))
    return back is not None and now - 1.0 - (t_fault + back) >= BACK_RUN + SETTLE_S


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace-dir", type=Path, help="a folder that does not exist yet (default: a temporary one)")
    parser.add_argument("--flips", type=int, default=20)
    parser.add_argument("--flip-every", type=float, default=1.0, help="seconds between traffic flips")
    parser.add_argument("--cap", type=float, default=60.0, help="seconds to wait for an endpoint to be back")
    args = parser.parse_args()
    if args.workspace_dir and args.workspace_dir.exists():
        sys.exit(f"{args.workspace_dir} exists: give a new folder (the benchmark stops everything in it)")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that `finally` stops the workspace
    started = time.perf_counter()
    print(f"machine: {os.cpu_count()} cores, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
          "(1, 5, 15 min) at start")
    with tempfile.TemporaryDirectory(prefix="amlops-bench-faults-") as tmp:
        root = (args.workspace_dir or Path(tmp) / "ws").resolve()
        try:
            ws = set_up(root, Path(tmp))
            endpoint = ws.endpoints.get(ENDPOINT)
            key = ws.endpoints.keys(ENDPOINT).primary
            bodies = churn_payloads(200)
            asyncio.run(faults(ws, args, endpoint.scoring_uri, key, bodies))
        except KeyboardInterrupt:
            print("\ninterrupted: stopping the workspace")
            raise SystemExit(130) from None
        finally:
            tear_down(root)
            print(f"wall time {time.perf_counter() - started:.0f} s; load average "
                  f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} at the end")


if __name__ == "__main__":
    main()
