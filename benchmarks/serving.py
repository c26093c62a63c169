"""The demo deployment's budget: 100 requests/s on this machine, p99 under 100 ms, no 429.

Measured against what the local workspace runs: the demo model trained by training/train.py on
specs/data/churn-features (as the demo's job does), served by real `mlflow models serve` instances
started as console/local/endpoints.py starts them, with blue's shape from
specs/endpoints/blue-deployment.yml (instance_count, max_concurrent_requests_per_instance,
request_timeout_ms, data collection), behind the real router (console/local/serving/router.py).

Side by side in one run (this machine's absolute times drift, so both are measured under the same
load, interleaved): OLD, the demo model before it was made cheap to score (ColumnTransformer +
OrdinalEncoder + native categorical HistGradientBoosting; its builder is kept below for this
comparison only), and NEW, the model training/train.py builds now. `--model LABEL=PATH` measures
any MLflow model folder instead, or OLD / NEW again under another label, e.g. with another serving
environment: `--model OLD=OLD --model NEW=NEW --model NEW-omp1=NEW --env NEW-omp1:OMP_NUM_THREADS=1`.

For each model it prints:
1. the holdout AUC (scored as training/evaluate.py, the promotion gate, scores it);
2. model-only time per row: the pipeline's predict_proba on one row, and MLflow's pyfunc predict
   on one row (the schema enforcement the scoring server adds), medians; and predict_proba on one
   row after 100 ms idle, p50 and p95 (OpenMP's threads asleep, as between the demo's requests);
3. one request at a time: straight to a scoring server (MLflow's format) and through the router
   (Azure's payload), p50 and p99, the paths and models shuffled within each round;
4. open-loop load through the router at each rate (arrivals on a fixed schedule, each request
   sent at its time whatever is still in flight, latency counted from its scheduled time so a
   late send counts against it): sent, p50, p99, 429s, other failures, and the CPU the scoring
   servers and the router spent per request. Each (rate, model) runs `--repeats` times,
   interleaved; the figures are medians over the repeats, the counts are totals.

Run: .venv/bin/python benchmarks/serving.py [--rates 25,50,100] [--duration 15] [--repeats 3]
     [--model LABEL=PATH|OLD|NEW ...] [--env [LABEL:]NAME=VALUE ...] [--instance-count [LABEL:]N]
     [--max-concurrent [LABEL:]N] [--no-collect [LABEL]] [--poisson]
(training both models and starting instance_count scoring servers per model takes about a minute;
every process it starts is stopped by its process group when it ends, however it ends).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import aiohttp
import yaml

REPO = Path(__file__).resolve().parents[1]
TRAINING = REPO / "training"
sys.path[:0] = [str(REPO), str(TRAINING)]

from console.loadgen import churn_payloads  # noqa: E402
from console.local.endpoints import _serving_env  # noqa: E402 - the env the workspace serves with
from console.local.procs import free_port, stop_group  # noqa: E402
from console.local.serving.payloads import to_mlflow  # noqa: E402

BLUE = REPO / "specs" / "endpoints" / "blue-deployment.yml"
TARGET_RPS, TARGET_P99_MS = 100, 100.0
IDLE_CALLS = 60
CLOCK_TICK_S = 1 / os.sysconf("SC_CLK_TCK")


# --- the OLD model, for the before/after comparison only ------------------------------------


def build_old_pipeline(reg: float = 0.01, max_iter: int = 100, learning_rate: float = 0.05, seed: int = 0):
    """training/train.py's pipeline before the demo model was made cheap to score (issue 10,
    item 7): an OrdinalEncoder in a ColumnTransformer per request, then a booster with native
    categorical splits (and so its own internal ColumnTransformer)."""
    import numpy as np
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OrdinalEncoder

    from data import CATEGORICAL

    encode = ColumnTransformer(
        [("categories", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan), CATEGORICAL)],
        remainder="passthrough", verbose_feature_names_out=False,
    ).set_output(transform="pandas")
    booster = HistGradientBoostingClassifier(l2_regularization=reg, max_iter=max_iter, learning_rate=learning_rate,
                                             categorical_features=CATEGORICAL, random_state=seed)
    return Pipeline([("encode", encode), ("booster", booster)])


OLD_SKOPS_TRUSTED_TYPES = [
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.utils.validation.check_array",
    "functools.partial",
]


def save_old_model(path: Path) -> None:
    """Fit the OLD pipeline on the demo's training rows and save it as the old train.py logged it."""
    import mlflow.sklearn
    from mlflow.models import infer_signature

    import data
    from train import quiet_known_warnings

    quiet_known_warnings()
    train_rows, holdout = data.holdout_split(data.load_table(data.COMMITTED_TABLE_DIR))
    model = build_old_pipeline().fit(train_rows[data.FEATURES], train_rows[data.LABEL])
    example = holdout[data.FEATURES].head(5)
    mlflow.sklearn.save_model(
        model, str(path), signature=infer_signature(example, model.predict(example)), input_example=example,
        skops_trusted_types=OLD_SKOPS_TRUSTED_TYPES,
        pip_requirements=mlflow.sklearn.get_default_pip_requirements(include_skops=True))


def train_new_model(tmp: Path, env: dict[str, str]) -> Path:
    """Run training/train.py as the demo's job runs it; return its logged model's folder."""
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    proc = subprocess.run([sys.executable, str(TRAINING / "train.py"), "--data", str(REPO / "specs/data/churn-features")],
                          cwd=tmp, env=env | {"MLFLOW_TRACKING_URI": uri}, capture_output=True, text=True,
                          timeout=600, check=False)
    if proc.returncode != 0:
        sys.exit(f"training/train.py failed:\n{proc.stderr[-3000:]}")
    run_id = proc.stdout.split("run_id=")[1].split()[0]
    client = MlflowClient(uri)
    [output] = client.get_run(run_id).outputs.model_outputs
    return Path(client.get_logged_model(output.model_id).artifact_location.removeprefix("file://"))


# --- model-only figures ---------------------------------------------------------------------


def interleaved_medians(fns: dict, rounds: int, per_round: int = 20) -> dict:
    """Median ms per call of each fn, measured in alternating rounds so that a change in the
    machine's load falls on all of them alike."""
    times: dict = {name: [] for name in fns}
    for fn in fns.values():
        for _ in range(20):
            fn()
    for _ in range(rounds):
        for name, fn in fns.items():
            for _ in range(per_round):
                t = time.perf_counter()
                fn()
                times[name].append((time.perf_counter() - t) * 1000)
    return {name: statistics.median(ts) for name, ts in times.items()}


def model_figures(paths: dict[str, Path], calls: int) -> dict[str, dict[str, float]]:
    """Holdout AUC as the promotion gate computes it, and one-row predict times."""
    import mlflow.pyfunc
    import pandas as pd

    import data
    import evaluate

    _, holdout = data.holdout_split(data.load_table(data.COMMITTED_TABLE_DIR))
    row = holdout[data.FEATURES].head(1)
    # What the scoring server hands the model: a frame built from JSON (object columns).
    served = pd.DataFrame(row.to_numpy(dtype=object).tolist(), columns=data.FEATURES)
    figures, fns = {}, {}
    for label, path in paths.items():
        scores = evaluate.score_model(label, str(path), holdout[data.FEATURES], holdout[data.LABEL])
        figures[label] = {"auc": scores["auc"]}
        model = mlflow.pyfunc.load_model(str(path))
        raw = model.get_raw_model()
        fns[(label, "predict_proba_ms")] = lambda raw=raw: raw.predict_proba(row)
        fns[(label, "pyfunc_ms")] = lambda model=model: model.predict(served)
    for (label, key), ms in interleaved_medians(fns, max(1, calls // 20)).items():
        figures[label][key] = ms
    # The demo's 2 requests/s leave the model idle between rows: thread pools go to sleep.
    idle: dict[str, list[float]] = {label: [] for label in paths}
    for _ in range(IDLE_CALLS):
        for label in paths:
            time.sleep(0.1)
            t = time.perf_counter()
            fns[(label, "predict_proba_ms")]()
            idle[label].append((time.perf_counter() - t) * 1000)
    for label, times in idle.items():
        figures[label]["idle_p50_ms"], figures[label]["idle_p95_ms"] = statistics.median(times), pct(times, 95)
    return figures


# --- processes ------------------------------------------------------------------------------


class Processes:
    """Everything this benchmark starts, each in its own process group, stopped by pid."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen] = []

    def start(self, argv: list[str], log: Path, env: dict[str, str], cwd: Path) -> subprocess.Popen:
        with open(log, "ab") as out:
            proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append(proc)
        return proc

    def stop(self) -> None:
        for proc in reversed(self.procs):
            try:
                os.killpg(proc.pid, signal.SIGTERM)  # mlflow, its shell and uvicorn; or the router
            except ProcessLookupError:
                pass
        for proc in self.procs:
            stop_group(proc.pid, None, timeout_s=15, proc=proc)


def group_cpu_s(pgid: int) -> float:
    """User + system CPU seconds of every live process in a process group."""
    total = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[2]) == pgid:
                total += int(fields[11]) + int(fields[12])
    return total * CLOCK_TICK_S


def wait_ready(url: str, proc: subprocess.Popen, log: Path, deadline_s: float = 180) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"{' '.join(map(str, proc.args[:3]))} exited:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as reply:
                if reply.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    sys.exit(f"{url} not ready after {deadline_s:.0f} s")


def blue_shape() -> dict:
    spec = yaml.safe_load(BLUE.read_text())
    settings = spec.get("request_settings") or {}
    collections = (spec.get("data_collector") or {}).get("collections") or {}
    return {
        "instance_count": int(spec.get("instance_count", 1)),
        # Azure's defaults where the spec says nothing.
        "max_concurrent_requests_per_instance": int(settings.get("max_concurrent_requests_per_instance", 1)),
        "request_timeout_ms": int(settings.get("request_timeout_ms", 5000)),
        "collect": [c for c in ("model_inputs", "model_outputs")
                    if str((collections.get(c) or {}).get("enabled", "false")).lower() == "true"],
    }


class Deployment:
    """One model served as blue: instance_count scoring servers behind their own router."""

    def __init__(self, label: str, model: Path, folder: Path, shape: dict, env: dict[str, str],
                 procs: Processes) -> None:
        self.label = label
        folder.mkdir(parents=True)
        shutil.copytree(model, folder / "model")  # as the workspace copies a deployment's model
        self.instances = []
        for idx in range(shape["instance_count"]):
            port = free_port()
            log = folder / f"instance-{idx}.log"
            proc = procs.start([str(Path(sys.executable).parent / "mlflow"), "models", "serve", "-m",
                                str(folder / "model"), "--env-manager", "local", "-h", "127.0.0.1", "-p", str(port),
                                "-w", "1"], log, env, folder)
            self.instances.append((f"http://127.0.0.1:{port}", proc, log))
        self.config = {
            "endpoint": f"bench-{label}".lower()[:32], "host": "127.0.0.1", "port": 0, "auth_mode": "key",
            "keys": {"primary": secrets.token_urlsafe(24), "secondary": secrets.token_urlsafe(24)},
            "admin_token": secrets.token_urlsafe(24), "collect_dir": str(folder / "collected"),
            "traffic": {"blue": 100}, "mirror": {},
            "deployments": {"blue": {"instances": [url for url, _, _ in self.instances],
                                     "request_timeout_ms": shape["request_timeout_ms"],
                                     "max_concurrent_requests_per_instance":
                                         shape["max_concurrent_requests_per_instance"],
                                     "instance_count": shape["instance_count"], "collect": shape["collect"]}},
            "version": 1,
        }
        config_path = folder / "router.json"
        config_path.write_text(json.dumps(self.config))
        self.router_log = folder / "router.log"
        self.router = procs.start([sys.executable, "-m", "console.local.serving.router", "--config", str(config_path)],
                                  self.router_log, env, folder)
        self.state_path = folder / "router.state.json"
        self.port = 0

    def wait(self) -> None:
        for url, proc, log in self.instances:
            wait_ready(f"{url}/ping", proc, log)
        deadline = time.monotonic() + 15
        while True:
            try:
                state = json.loads(self.state_path.read_text())
                if state.get("pid") == self.router.pid:
                    self.port = state["port"]
                    return
            except (OSError, ValueError):
                pass
            if time.monotonic() > deadline or self.router.poll() is not None:
                sys.exit(f"router did not start:\n{self.router_log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.05)

    @property
    def score_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/score"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.config['keys']['primary']}", "Content-Type": "application/json"}

    def server_cpu_s(self) -> float:
        return sum(group_cpu_s(proc.pid) for _, proc, _ in self.instances)

    def router_cpu_s(self) -> float:
        return group_cpu_s(self.router.pid)


# --- load -----------------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


async def one_at_a_time(deployments: dict[str, Deployment], azure: list[bytes], mlflow_bodies: list[bytes],
                        n: int, warmup: int) -> dict[tuple[str, str], list[float]]:
    paths = {}
    for label, dep in deployments.items():
        paths[(label, "direct")] = (dep.instances[0][0] + "/invocations", mlflow_bodies,
                                    {"Content-Type": "application/json"})
        paths[(label, "routed")] = (dep.score_url, azure, dep.headers)
    times: dict[tuple[str, str], list[float]] = {key: [] for key in paths}
    sessions = {key: aiohttp.ClientSession() for key in paths}  # keep-alive, one per path
    try:
        for i in range(warmup + n):
            order = list(paths)
            random.shuffle(order)
            for key in order:
                url, bodies, headers = paths[key]
                t = time.perf_counter()
                async with sessions[key].post(url, data=bodies[i % len(bodies)], headers=headers) as resp:
                    await resp.read()
                    if resp.status != 200:
                        sys.exit(f"{url} answered {resp.status}: {(await resp.text())[:500]}")
                if i >= warmup:
                    times[key].append((time.perf_counter() - t) * 1000)
    finally:
        for session in sessions.values():
            await session.close()
    return times


async def open_loop(dep: Deployment, bodies: list[bytes], rate: float, duration: float, poisson: bool,
                    rng: random.Random) -> dict:
    """Requests at `rate` per second for `duration` seconds, each sent at its scheduled time
    whatever is still in flight (no client-side queue: the connection pool is unbounded)."""
    loop = asyncio.get_running_loop()
    results: list[tuple[object, float]] = []
    headers = dep.headers
    timeout = aiohttp.ClientTimeout(total=30)

    async def one(session: aiohttp.ClientSession, body: bytes, at: float) -> None:
        try:
            async with session.post(dep.score_url, data=body, headers=headers) as resp:
                await resp.read()
                status: object = resp.status
        except Exception as err:  # noqa: BLE001 - every failure is counted
            status = type(err).__name__
        results.append((status, (loop.time() - at) * 1000))

    n = max(1, int(rate * duration))
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), timeout=timeout) as session:
        # Warm the connection pool so the first second does not pay for connects.
        await asyncio.gather(*(one(session, bodies[0], loop.time()) for _ in range(4)))
        results.clear()
        cpu0 = dep.server_cpu_s(), dep.router_cpu_s()
        tasks = []
        at = start = loop.time() + 0.05
        for i in range(n):
            delay = at - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(loop.create_task(one(session, bodies[i % len(bodies)], at)))
            at += rng.expovariate(rate) if poisson else 1.0 / rate
        sent_s = loop.time() - start
        await asyncio.gather(*tasks)
        cpu1 = dep.server_cpu_s(), dep.router_cpu_s()
    ok = [ms for status, ms in results if status == 200]
    return {
        "sent": n, "rate": n / sent_s if sent_s > 0 else float(n),
        "p50": statistics.median(ok) if ok else float("nan"), "p99": pct(ok, 99) if ok else float("nan"),
        "429": sum(1 for status, _ in results if status == 429),
        "failed": sum(1 for status, _ in results if status not in (200, 429)),
        "server_ms": (cpu1[0] - cpu0[0]) * 1000 / n, "router_ms": (cpu1[1] - cpu0[1]) * 1000 / n,
        "load": os.getloadavg()[0],
    }


# --- main -----------------------------------------------------------------------------------


def serving_env(label: str, model: str, env: dict[str, str]) -> dict[str, str]:
    """The scoring servers' environment. OLD runs as the workspace ran it before (no one-thread
    OpenMP default: that came with the new model, see _serving_env), so "before" is before."""
    if model == "OLD" and "OMP_NUM_THREADS" not in os.environ:
        return {k: v for k, v in env.items() if k != "OMP_NUM_THREADS"}
    return env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="25,50,100", help="requests/s, comma-separated")
    parser.add_argument("--duration", type=float, default=15.0, help="seconds per rate and run")
    parser.add_argument("--repeats", type=int, default=3, help="runs per (rate, model); medians are printed")
    parser.add_argument("--model", action="append", metavar="LABEL=PATH",
                        help="an MLflow model folder to measure, or OLD / NEW for the models trained here "
                             "(repeatable; default: OLD=OLD NEW=NEW)")
    parser.add_argument("--env", action="append", default=[], metavar="[LABEL:]NAME=VALUE",
                        help="extra environment for the scoring servers and routers (e.g. OMP_NUM_THREADS=1), "
                             "of one model's only with LABEL: (repeatable)")
    parser.add_argument("--instance-count", action="append", default=[], metavar="[LABEL:]N",
                        help="instead of blue's instance_count (for one model only with LABEL:)")
    parser.add_argument("--max-concurrent", action="append", default=[], metavar="[LABEL:]N",
                        help="instead of blue's max_concurrent_requests_per_instance (for one model only with LABEL:)")
    parser.add_argument("--no-collect", nargs="?", const="", metavar="LABEL",
                        help="turn blue's data collection off (of one model's only, with LABEL)")
    parser.add_argument("--poisson", action="store_true", help="Poisson arrivals instead of evenly spaced ones")
    parser.add_argument("--sequential", type=int, default=500, help="rounds of one-at-a-time requests (section 2)")
    args = parser.parse_args()
    rates = [float(r) for r in args.rates.split(",")]
    shape = blue_shape()
    if args.no_collect == "":
        shape["collect"] = []
    shapes: dict[str, dict] = {}  # label ("" for all) -> overrides of blue's shape
    for key, items in (("instance_count", args.instance_count),
                       ("max_concurrent_requests_per_instance", args.max_concurrent)):
        for item in items:
            label, _, n = item.rpartition(":")
            shapes.setdefault(label, {})[key] = int(n)
    shape |= shapes.get("", {})
    extra: dict[str, dict[str, str]] = {}  # label ("" for all) -> env
    for item in args.env:
        name, value = item.split("=", 1)
        label, _, name = name.rpartition(":")
        extra.setdefault(label, {})[name] = value
    env = {k: v for k, v in (_serving_env() | extra.get("", {})).items() if not k.startswith("MLFLOW_")} | {
        "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"}
    # One OpenMP thread for the fit only (as the tests train): on a shared 2-core machine OpenMP
    # threads fighting over the cores make it many times slower; the model is the same either way.
    train_env = env | {"OMP_NUM_THREADS": "1"}
    procs = Processes()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that `finally` stops the servers
    print(f"machine: {os.cpu_count()} cores, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
          f"(1, 5, 15 min) at start")
    print(f"blue: instance_count {shape['instance_count']}, max_concurrent_requests_per_instance "
          f"{shape['max_concurrent_requests_per_instance']} -> 429 beyond "
          f"{2 * shape['max_concurrent_requests_per_instance'] * shape['instance_count']} in flight; "
          f"request_timeout_ms {shape['request_timeout_ms']}; collecting {shape['collect'] or 'nothing'}"
          + (f"; serving env {' '.join(args.env)}" if args.env else ""))
    with tempfile.TemporaryDirectory(prefix="amlops-bench-serving-") as tmp_name:
        tmp = Path(tmp_name)
        try:
            t = time.perf_counter()
            wanted = dict(m.split("=", 1) for m in args.model) if args.model else {"OLD": "OLD", "NEW": "NEW"}
            trained = {}
            if "OLD" in wanted.values():
                save_old_model(tmp / "old-model")
                trained["OLD"] = tmp / "old-model"
            if "NEW" in wanted.values():
                trained["NEW"] = train_new_model(tmp, train_env)
            models = {label: trained.get(path) or Path(path).resolve() for label, path in wanted.items()}
            print(f"models: {', '.join(f'{k} {v}' for k, v in models.items())} ({time.perf_counter() - t:.0f} s)")

            figures = model_figures(models, 500)
            deployments = {label: Deployment(label, path, tmp / label,
                                             shape | shapes.get(label, {})
                                             | ({"collect": []} if args.no_collect == label else {}),
                                             serving_env(label, wanted[label], env) | extra.get(label, {}), procs)
                           for label, path in models.items()}
            for label, dep in deployments.items():
                if shapes.get(label) or args.no_collect == label:
                    d = dep.config["deployments"]["blue"]
                    print(f"{label}: instance_count {d['instance_count']}, max_concurrent_requests_per_instance "
                          f"{d['max_concurrent_requests_per_instance']}, collecting {d['collect'] or 'nothing'}")
            for dep in deployments.values():
                dep.wait()
            print(f"servers: {sum(len(d.instances) for d in deployments.values())} `mlflow models serve` and "
                  f"{len(deployments)} routers ready ({time.perf_counter() - t:.0f} s in all)\n")
            asyncio.run(measure(args, rates, figures, deployments))
        finally:
            procs.stop()


async def measure(args, rates: list[float], figures: dict, deployments: dict[str, Deployment]) -> None:
    azure = []
    for body in churn_payloads(200):
        payload = json.loads(body)
        payload["input_data"]["index"] = [0]
        azure.append(json.dumps(payload).encode())
    mlflow_bodies = [json.dumps(to_mlflow(json.loads(b))).encode() for b in azure]
    labels = list(deployments)
    width = max(len(label) for label in labels)

    print("1. holdout AUC (scored as training/evaluate.py scores it) and model-only time per row: "
          "predict_proba and MLflow's pyfunc predict back to back (medians of 500 calls, interleaved), and "
          f"predict_proba after 100 ms idle ({IDLE_CALLS} calls, as at the demo's 2 requests/s)")
    print(f"   {'model':<{width}}  {'AUC':>7}  {'predict_proba':>13}  {'pyfunc predict':>14}  "
          f"{'after idle p50':>14}  {'p95':>9}")
    for label in labels:
        f = figures[label]
        print(f"   {label:<{width}}  {f['auc']:>7.4f}  {f['predict_proba_ms']:>10.2f} ms  {f['pyfunc_ms']:>11.2f} ms  "
              f"{f['idle_p50_ms']:>11.2f} ms  {f['idle_p95_ms']:>6.2f} ms")

    print(f"\n2. one request at a time, {args.sequential} rounds (after 100 warm-up), each round one request "
          "per model and path in shuffled order: straight to a scoring server (MLflow's format) and through "
          "the router (Azure's)")
    print(f"   {'model':<{width}}  {'direct p50':>10}  {'direct p99':>10}  {'routed p50':>10}  {'routed p99':>10}")
    seq = await one_at_a_time(deployments, azure, mlflow_bodies, args.sequential, 100)
    for label in labels:
        direct, routed = seq[(label, "direct")], seq[(label, "routed")]
        print(f"   {label:<{width}}  {statistics.median(direct):>7.2f} ms  {pct(direct, 99):>7.2f} ms  "
              f"{statistics.median(routed):>7.2f} ms  {pct(routed, 99):>7.2f} ms")

    runs: dict[tuple[str, float], list[dict]] = {(label, rate): [] for label in labels for rate in rates}
    rng = random.Random(7)
    print(f"\n3. open-loop load through the router, one-row churn requests in Azure's payload, "
          f"{args.duration:.0f} s per run, {args.repeats} runs per rate and model, interleaved"
          f"{', Poisson arrivals' if args.poisson else ', evenly spaced'}")
    for repeat in range(args.repeats):
        for rate in rates:
            order = labels if repeat % 2 == 0 else labels[::-1]
            for label in order:
                result = await open_loop(deployments[label], azure, rate, args.duration, args.poisson, rng)
                runs[(label, rate)].append(result)
                print(f"   run {repeat + 1} {label:<{width}} {rate:>4.0f}/s: p50 {result['p50']:6.1f} ms  "
                      f"p99 {result['p99']:6.1f} ms  429 {result['429']:>4}  failed {result['failed']:>3}  "
                      f"(load {result['load']:.2f})", flush=True)
                await asyncio.sleep(1.0)

    print(f"\n   {'model':<{width}} {'rate':>5} {'sent':>6} {'achieved':>8} {'p50 ms':>7} {'p99 ms':>7} "
          f"{'429':>5} {'failed':>6} {'server CPU':>10} {'router CPU':>10}   (medians of {args.repeats}; "
          "sent, 429 and failed are totals; CPU in ms per request)")
    verdicts = {}
    for label in labels:
        for rate in rates:
            rs = runs[(label, rate)]

            def med(key: str, rs: list[dict] = rs) -> float:
                return statistics.median(r[key] for r in rs)

            n429, failed = sum(r["429"] for r in rs), sum(r["failed"] for r in rs)
            print(f"   {label:<{width}} {rate:>5.0f} {sum(r['sent'] for r in rs):>6} {med('rate'):>8.1f} "
                  f"{med('p50'):>7.1f} {med('p99'):>7.1f} {n429:>5} {failed:>6} {med('server_ms'):>10.2f} "
                  f"{med('router_ms'):>10.2f}")
            if rate == TARGET_RPS:
                verdicts[label] = (med("p99") < TARGET_P99_MS and n429 == 0 and failed == 0, med("p99"), n429, failed)
    print(f"\n   target: {TARGET_RPS} requests/s, p99 under {TARGET_P99_MS:.0f} ms, no 429 (and no failure)")
    for label, (ok, p99, n429, failed) in verdicts.items():
        print(f"   {label}: {'MET' if ok else 'NOT MET'} (p99 {p99:.1f} ms, {n429} x 429, {failed} other failures)")
    print(f"   load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
