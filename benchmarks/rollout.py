"""Safe rollouts under load on a local endpoint (issue 19): the time from a bad candidate's fault
onset to the rollback in effect, and the requests that failed during a full good rollout and
during a rolled-back one, at 80 % of the demo endpoint's measured capacity.

The endpoint is faults.py's (the demo model trained by training/train.py, churn-ep with blue and
green as specs/endpoints/ say, two instances each, behind the real router, in a temporary
workspace with its own daemon), measured the same way (faults.capacity). The daemon hosts the
controller (console/local/rollouts.py), as it does for `amlops rollout start`.

1. A good rollout: green is the same model; plan 10 % -> 50 % -> 100 %, each held --hold s,
   analysed every second (the router's 10 s window), at least 20 requests a window, success
   >= 99 %, p99 <= 500 ms, 3 failed analyses in a row roll back. Counted: requests sent from the
   start to Succeeded, and how many failed.
2. A rolled-back one: green is redeployed with a model that raises on half its requests (the
   router answers 424), same plan. Fault onset: the moment the first step is reported applied
   (green starts taking traffic). Rollback in effect: the first moment after which no request
   reaches green (the last answer from green, by the client's clock) and, from the controller's
   history, the time it recorded the rollback. Counted: requests failed from the start to the
   rollback, and after it.

Run: .venv/bin/python benchmarks/rollout.py [--hold 5] (about 3 to 4 minutes on 2 cores). Every
process it starts is stopped by pid at the end (faults.tear_down), on an error or ctrl-c too.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

import faults  # noqa: E402  (the endpoint, the load, the capacity: one way to measure)

from console.loadgen import churn_payloads  # noqa: E402

REPO = faults.REPO
ENDPOINT = faults.ENDPOINT
SPECS = faults.SPECS


def save_flaky_model(target: Path, share: float) -> None:
    """training/flaky.py's candidate that fails `share` of its requests (the router answers 424)."""
    subprocess.run([sys.executable, str(REPO / "training" / "flaky.py"), "--out", str(target), "--share", str(share)],
                   check=True, timeout=180, capture_output=True)


def write_plan(folder: Path, hold: float) -> Path:
    path = folder / "bench-plan.yml"
    path.write_text(yaml.safe_dump({
        "type": "rollout", "endpoint": ENDPOINT, "stable": "blue", "candidate": "green", "steps": [10, 50, 100],
        "hold": f"{hold:g}s", "analysis": {"interval": "1s", "failure_threshold": 3, "min_requests": 20,
                                           "inconclusive_timeout": "60s", "success_rate": "99%", "p99": "500ms"}}))
    return path


def redeploy_green(ws, model: str) -> None:
    ws.operations.wait(ws.endpoints.set_traffic(ENDPOINT, {"blue": 100, "green": 0}).id, timeout_s=60)
    ws.operations.wait(ws.endpoints.delete_deployment(ENDPOINT, "green").id, timeout_s=120)
    done = ws.operations.wait(ws.endpoints.create_deployment(str(SPECS / "endpoints" / "green-deployment.yml"),
                                                             {"model": model}).id, timeout_s=300)
    if done.status != "Succeeded":
        sys.exit(f"redeploying green ended {done.status}: {done.error}")


async def one_rollout(ws, session, url: str, key: str, bodies: list[bytes], rate: float, plan: Path,
                      timeout_s: float) -> dict:
    loop = asyncio.get_running_loop()
    load = faults.Load(session, url, key, bodies)
    stop = asyncio.Event()
    runner = loop.create_task(load.run(rate, stop=stop))
    await asyncio.sleep(2.0)  # the load steady before the rollout begins
    t_start, wall_start = loop.time(), time.time()
    await asyncio.to_thread(ws.rollouts.start, str(plan))
    deadline = loop.time() + timeout_s
    rollout = None
    while loop.time() < deadline:
        rollout = await asyncio.to_thread(ws.rollouts.get, ENDPOINT)
        if rollout.ended or rollout.phase == "Paused":
            break
        await asyncio.sleep(0.25)
    t_end = loop.time()
    await asyncio.sleep(3.0)  # what follows the end, on the same load
    stop.set()
    await runner
    await load.drain()
    # Wall clock (the controller's history) to the loop's clock (the client's records).
    to_loop = t_start - wall_start
    return {"rollout": rollout, "records": load.records, "t_start": t_start, "t_end": t_end, "to_loop": to_loop}


def summary(name: str, run: dict) -> None:
    r, records = run["rollout"], run["records"]
    during = [x for x in records if run["t_start"] <= x.sent <= run["t_end"]]
    failed = [x for x in during if not x.ok]
    print(f"   {name}: {r.phase if r else 'no rollout'} after {run['t_end'] - run['t_start']:.1f} s"
          f"{': ' + r.reason if r and r.reason else ''}")
    print(f"     requests during it {len(during)}, failed {len(failed)} ({len(failed) / max(len(during), 1):.2%})"
          f"{' (' + faults.failure_kinds(failed) + ')' if failed else ''}")


async def bench(ws, args, url: str, key: str, bodies: list[bytes], flaky: str) -> None:
    timeout = aiohttp.ClientTimeout(total=faults.CLIENT_TIMEOUT_S)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), timeout=timeout) as session:
        cap = await faults.capacity(session, url, key, bodies)
        rate = faults.LOAD_SHARE * cap
        print(f"   capacity {cap:.1f} requests/s; the rollouts run at {faults.LOAD_SHARE:.0%} of it: "
              f"{rate:.1f} requests/s", flush=True)
        plan = write_plan(Path(args.scratch), args.hold)

        print(f"\n2. a good rollout: 10 % -> 50 % -> 100 %, {args.hold:g} s each", flush=True)
        good = await one_rollout(ws, session, url, key, bodies, rate, plan, timeout_s=120)
        summary("good candidate", good)
        if good["rollout"] is not None and not good["rollout"].ended:  # paused or stuck: end it for the next
            await asyncio.to_thread(ws.rollouts.command, ENDPOINT, "abort", "the benchmark goes on")

        print("\n3. a bad candidate (raises on half its requests): green redeployed with it", flush=True)
        await asyncio.to_thread(redeploy_green, ws, flaky)
        bad = await one_rollout(ws, session, url, key, bodies, rate, plan, timeout_s=120)
        summary("bad candidate", bad)
        r = bad["rollout"]
        history = r.history if r else ()
        applied = next((h["at"] for h in history if h["event"] == "step applied"), None)
        rolled = next((h["at"] for h in history if h["event"] == "rolled back"), None)
        from_green = [x for x in bad["records"] if x.deployment == "green"]
        if applied is not None and rolled is not None:
            onset = applied + bad["to_loop"]
            last_green = max(x.done for x in from_green) if from_green else None
            failed_before = [x for x in bad["records"] if bad["t_start"] <= x.sent <= rolled + bad["to_loop"]
                             and not x.ok]
            failed_after = [x for x in bad["records"] if x.sent > rolled + bad["to_loop"] and not x.ok]
            print(f"     fault onset (green's first step reported applied) -> rollback recorded: "
                  f"{rolled - applied:.1f} s (plan: 1 s interval x 3 failed analyses)")
            if last_green is not None:
                print(f"     fault onset -> the last answer from green (rollback in effect for clients): "
                      f"{last_green - onset:.1f} s")
            print(f"     failed requests before the rollback: {len(failed_before)}; after it: {len(failed_after)}")
        else:
            print(f"     no rollback recorded: {r.phase if r else '-'} {r.reason if r else ''}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hold", type=float, default=5.0, help="seconds each step holds (default 5)")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="amlops-bench-rollout-") as tmp:
        root = Path(tmp) / "ws"
        args.scratch = tmp
        try:
            ws = faults.set_up(root, Path(tmp))
            flaky_dir = Path(tmp) / "flaky"
            save_flaky_model(flaky_dir, 0.5)
            flaky = ws.models.register("churn-flaky", path=str(flaky_dir))
            key = ws.endpoints.keys(ENDPOINT).primary
            print("\n1. capacity (faults.py's ramp)", flush=True)
            asyncio.run(bench(ws, args, ws.endpoints.get(ENDPOINT).scoring_uri, key, churn_payloads(200),
                              f"azureml:{flaky.name}:{flaky.version}"))
        except KeyboardInterrupt:
            print("\ninterrupted: stopping the workspace")
            raise SystemExit(130) from None
        finally:
            faults.tear_down(root)
            print(f"wall time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
