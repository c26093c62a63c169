"""The local endpoint router as a real process on real sockets, in front of fake scoring instances
(a small aiohttp app that answers like `mlflow models serve`, told to be slow or to fail) and, at
the end, a real `mlflow models serve` of a LogisticRegression saved in tmp_path.

One router serves most tests; each test pushes the config it needs through the admin API. The
real model is built and served in the background from the first test on, so its ~15 s of imports
and start-up overlap the rest of the module."""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from helpers import wait_until

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
ENDPOINT = "churn-ep"
AZURE_ROW = {"input_data": {"columns": ["tenure", "charges", "calls"], "index": [0], "data": [[3, 70.5, 1]]}}


# --- helpers -------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(port: int, body=None, headers: dict | None = None, path: str = "/score", method: str = "POST",
         raw: bytes | None = None, timeout: float = 10):
    """One request on a fresh connection -> (status, headers (lower-case), body bytes)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        conn.request(method, path, body=data, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


class FakeInstance:
    """A stand-in for `mlflow models serve`: GET /ping, POST /invocations -> {"predictions": [...]},
    one prediction per row. `delay` makes it slow, `fail` (a status) makes it answer an error."""

    def __init__(self, name: str, value: int = 1) -> None:
        self.name = name
        self.value = value
        self.delay = 0.0
        self.fail: int | None = None
        self.count = 0
        self.received: list[tuple[str | None, object]] = []
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _invocations(self, request: web.Request) -> web.Response:
        self.count += 1
        body = await request.json()
        if len(self.received) < 2000:
            self.received.append((request.headers.get("x-request-id"), body))
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.fail:
            return web.json_response({"error_code": "BAD_REQUEST", "message": f"{self.name} cannot score this"},
                                     status=self.fail)
        rows = 1
        for key in ("dataframe_split", "dataframe_records", "inputs", "instances"):
            if key in body:
                part = body[key]
                rows = len(part["data"]) if key == "dataframe_split" else len(part)
        return web.json_response({"predictions": [self.value] * rows})

    async def _ping(self, request: web.Request) -> web.Response:
        return web.Response(text="\n")

    def start(self) -> FakeInstance:
        started = threading.Event()

        async def main() -> None:
            app = web.Application(client_max_size=4 * 1024 * 1024)
            app.router.add_post("/invocations", self._invocations)
            app.router.add_get("/ping", self._ping)
            self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=5)
            await self._runner.setup()
            site = web.TCPSite(self._runner, "127.0.0.1", self.port)
            await site.start()
            self.port = self._runner.addresses[0][1]
            started.set()

        self._loop = asyncio.new_event_loop()
        threading.Thread(target=self._loop.run_forever, daemon=True, name=f"fake-{self.name}").start()
        asyncio.run_coroutine_threadsafe(main(), self._loop)
        assert started.wait(5), f"fake instance {self.name} did not start"
        return self

    def stop(self) -> None:
        """Stop listening and finish what is in flight (like a graceful instance restart)."""
        if self._runner is not None and self._loop is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
            self._runner = None

    def reset(self) -> None:
        self.delay, self.fail, self.count = 0.0, None, 0
        self.received.clear()


class RouterProcess:
    """`python -m console.local.serving.router --config PATH` and its admin API."""

    def __init__(self, folder: Path, cfg: dict) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.config_path = folder / "router.json"
        self.state_path = folder / "router.state.json"
        self.cfg = cfg
        self.proc: subprocess.Popen | None = None
        if not self.config_path.exists():
            self.config_path.write_text(json.dumps(cfg))

    def start(self) -> RouterProcess:
        log = open(self.folder / "router.log", "ab")  # noqa: SIM115 - the child keeps it
        self.proc = subprocess.Popen([sys.executable, "-m", "console.local.serving.router", "--config",
                                      str(self.config_path)], cwd=REPO, stdout=log, stderr=log,
                                     start_new_session=True)
        self.wait_ready(self.proc.pid)
        return self

    def wait_ready(self, pid: int) -> None:
        def ready():
            try:
                state = json.loads(self.state_path.read_text())
            except (OSError, ValueError):
                return None
            return state if state.get("pid") == pid and state.get("running") else None

        self.state = wait_until(ready, 10, "the router's state file")
        self.port = self.state["port"]

    def admin(self, method: str, path: str, body=None, token: str | None = None):
        headers = {"x-amlops-admin-token": self.cfg["admin_token"] if token is None else token}
        status, _, out = call(self.port, body, headers, path=path, method=method)
        return status, json.loads(out)

    def push(self, **changes) -> dict:
        """PUT a full config: the current one with `changes` and the next version."""
        cfg = json.loads(json.dumps(self.cfg)) | changes
        cfg["version"] = self.cfg["version"] + 1
        status, body = self.admin("PUT", "/-/config", cfg)
        assert status == 200, body
        assert body == {"version": cfg["version"]}
        self.cfg = cfg
        return cfg

    def score(self, body=AZURE_ROW, key: str | None = "primary", headers: dict | None = None, **kw):
        h = {"Content-Type": "application/json"}
        if key:
            h["Authorization"] = f"Bearer {self.cfg['keys'][key]}"
        return call(self.port, body, h | (headers or {}), **kw)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def base_config(instances: dict[str, FakeInstance], collect_dir: Path) -> dict:
    return {
        "endpoint": ENDPOINT, "host": "127.0.0.1", "port": 0, "auth_mode": "key",
        "keys": {"primary": secrets.token_urlsafe(24), "secondary": secrets.token_urlsafe(24)},
        "admin_token": secrets.token_urlsafe(24), "collect_dir": str(collect_dir),
        "traffic": {"blue": 100, "green": 0}, "mirror": {},
        "deployments": {
            "blue": {"instances": [instances["blue1"].url, instances["blue2"].url], "request_timeout_ms": 5000,
                     "max_concurrent_requests_per_instance": 1, "instance_count": 2, "collect": []},
            "green": {"instances": [instances["green1"].url], "request_timeout_ms": 5000,
                      "max_concurrent_requests_per_instance": 1, "instance_count": 1, "collect": []},
        },
        "version": 1,
    }


# --- fixtures ------------------------------------------------------------------------------------


MODEL_SCRIPT = r"""
import json, os, sys
import numpy as np, pandas as pd
import mlflow.sklearn
from mlflow.models import infer_signature
from sklearn.linear_model import LogisticRegression

model_dir, port = sys.argv[1], sys.argv[2]
rng = np.random.default_rng(0)
X = pd.DataFrame({"tenure": rng.normal(24, 10, 300), "charges": rng.normal(70, 20, 300),
                  "calls": rng.integers(0, 6, 300).astype(float)})
y = ((X.calls > 2) | (X.tenure < 12)).astype(int)
model = LogisticRegression(max_iter=500).fit(X, y)
mlflow.sklearn.save_model(model, model_dir, signature=infer_signature(X, model.predict(X)))
rows = X.head(5)
with open(os.path.join(os.path.dirname(model_dir), "expected.json"), "w") as f:
    json.dump({"columns": list(rows.columns), "data": rows.values.tolist(),
               "predictions": model.predict(rows).tolist()}, f)
sys.stdout.flush()
os.execvp("mlflow", ["mlflow", "models", "serve", "-m", model_dir, "--env-manager", "local",
                     "-p", port, "--host", "127.0.0.1"])
"""


@pytest.fixture(scope="module")
def real_model(tmp_path_factory):
    """A LogisticRegression saved with MLflow and served by `mlflow models serve`, started in the
    background at the module's first test; `wait()` blocks until /ping answers 200."""
    folder = tmp_path_factory.mktemp("mlflow-model")
    port = free_port()
    bin_dir = str(Path(sys.executable).parent)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env |= {"PATH": f"{bin_dir}:{env.get('PATH', '')}", "OMP_NUM_THREADS": "1",
            "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"}
    log = open(folder / "serve.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen([sys.executable, "-c", MODEL_SCRIPT, str(folder / "model"), str(port)], env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    class Served:
        url = f"http://127.0.0.1:{port}"

        def wait(self) -> dict:
            def ping():
                assert proc.poll() is None, (folder / "serve.log").read_text()[-3000:]
                try:
                    return call(port, path="/ping", method="GET", timeout=2)[0] == 200
                except OSError:
                    return False

            wait_until(ping, 90, "mlflow models serve to answer /ping", interval=0.2)
            return json.loads((folder / "expected.json").read_text())

    yield Served()
    try:
        os.killpg(proc.pid, signal.SIGTERM)  # mlflow and the uvicorn it started
        proc.wait(10)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(proc.pid, signal.SIGKILL)
    log.close()


@pytest.fixture(scope="module")
def fakes():
    instances = {name: FakeInstance(name, value=v).start()
                 for name, v in (("blue1", 1), ("blue2", 1), ("green1", 0), ("spare", 7))}
    yield instances
    for inst in instances.values():
        inst.stop()


@pytest.fixture(scope="module")
def router(tmp_path_factory, fakes, real_model):
    folder = tmp_path_factory.mktemp("router")
    r = RouterProcess(folder, base_config(fakes, folder / "collected")).start()
    yield r
    r.stop()


@pytest.fixture
def fresh(router, fakes):
    """Each test starts from the base traffic (blue 100) with quiet, healthy fakes."""
    for inst in fakes.values():
        inst.reset()
    base = base_config(fakes, Path(router.cfg["collect_dir"]))
    router.push(traffic=base["traffic"], mirror={}, deployments=base["deployments"])
    return router


# --- scoring semantics ---------------------------------------------------------------------------


def test_keys_are_required_and_either_key_works(fresh):
    assert fresh.score(key=None)[0] == 401
    status, headers, body = fresh.score(headers={"Authorization": "Bearer wrong"}, key=None)
    assert status == 401 and "key" in json.loads(body)["message"]
    assert fresh.score(headers={"Authorization": fresh.cfg["keys"]["primary"]}, key=None)[0] == 401  # no Bearer
    for key in ("primary", "secondary"):
        status, headers, body = fresh.score(key=key)
        assert status == 200 and json.loads(body) == [1]
        assert headers["azureml-model-deployment"] == "blue"
        assert len(headers["x-request-id"]) == 36  # a generated uuid4
    status, headers, _ = fresh.score(headers={"x-request-id": "my-req-42"})
    assert headers["x-request-id"] == "my-req-42"


def test_input_data_is_translated_and_predictions_unwrapped(fresh, fakes):
    fresh.push(traffic={"blue": 0, "green": 100})
    status, _, body = fresh.score({"input_data": {"columns": ["a", "b"], "index": [7, 8], "data": [[1, 2], [3, 4]]}})
    assert status == 200 and json.loads(body) == [0, 0]
    assert fakes["green1"].received[-1][1] == {"dataframe_split": {"columns": ["a", "b"], "index": [7, 8],
                                                                   "data": [[1, 2], [3, 4]]}}
    status, _, body = fresh.score({"input_data": [{"a": 1}, {"a": 2}, {"a": 3}]})
    assert status == 200 and json.loads(body) == [0, 0, 0]
    assert fakes["green1"].received[-1][1] == {"dataframe_records": [{"a": 1}, {"a": 2}, {"a": 3}]}
    # MLflow's own payloads pass through unchanged, and so does MLflow's answer
    mlflow_body = {"dataframe_split": {"columns": ["a"], "data": [[1]]}}
    status, _, body = fresh.score(mlflow_body)
    assert status == 200 and json.loads(body) == {"predictions": [0]}
    assert fakes["green1"].received[-1][1] == mlflow_body
    status, _, body = fresh.score({"inputs": [[1, 2]]}, path="/")
    assert status == 200 and json.loads(body) == {"predictions": [0]}


def test_header_pins_a_deployment_even_at_zero_traffic(fresh, fakes):
    for _ in range(5):
        status, headers, body = fresh.score(headers={"azureml-model-deployment": "green"})
        assert status == 200 and headers["azureml-model-deployment"] == "green" and json.loads(body) == [0]
    assert fakes["green1"].count == 5
    status, _, body = fresh.score(headers={"azureml-model-deployment": "red"})
    assert status == 404 and "red" in json.loads(body)["message"]


def test_weighted_split(fresh):
    fresh.push(traffic={"blue": 70, "green": 30})
    n = 400
    seen = Counter(fresh.score()[1]["azureml-model-deployment"] for _ in range(n))
    # binomial(400, 0.3): mean 120, sd 9.2; 4.5 sd either side
    assert abs(seen["green"] - 120) < 4.5 * (n * 0.3 * 0.7) ** 0.5, seen
    assert seen["blue"] + seen["green"] == n


def test_mirror_copies_about_ten_percent_and_never_pinned_requests(fresh, fakes):
    fresh.push(traffic={"blue": 100, "green": 0}, mirror={"green": 10})
    before = fresh.admin("GET", "/-/metrics")[1]["deployments"]["green"]
    n = 400
    for _ in range(n):
        status, headers, _ = fresh.score()
        assert status == 200 and headers["azureml-model-deployment"] == "blue"  # the live answer is blue's
    def mirrored() -> int:
        return fresh.admin("GET", "/-/metrics")[1]["deployments"]["green"]["mirrored"] - before["mirrored"]

    # Copies are fire-and-forget: wait until every copy the router sent has reached green.
    copies = wait_until(lambda: (m := mirrored()) == fakes["green1"].count and m or None, 10, "the copies to land")
    assert abs(copies - 40) < 4.5 * (n * 0.1 * 0.9) ** 0.5, copies  # binomial(400, 0.1): sd 6
    for _ in range(100):
        assert fresh.score(headers={"azureml-model-deployment": "blue"})[0] == 200
    # Pinned requests are not mirrored: the router sent no copy of them (its count says so at
    # once, since it counts a copy when it sends it), and green received none.
    assert mirrored() == copies and fakes["green1"].count == copies
    status, metrics = fresh.admin("GET", "/-/metrics")
    green = metrics["deployments"]["green"]
    assert green["mirrored"] - before["mirrored"] == copies
    assert green["mirror"]["60"]["requests"] - before["mirror"]["60"]["requests"] == copies
    assert green["60"]["requests"] == before["60"]["requests"]  # mirrored requests are not live requests
    assert fakes["blue1"].count + fakes["blue2"].count == n + 100


def test_no_traffic_anywhere_is_404(fresh):
    fresh.push(traffic={"blue": 0, "green": 0})
    status, _, body = fresh.score()
    assert status == 404 and "No valid deployments to route to" in json.loads(body)["message"]
    assert fresh.score(headers={"azureml-model-deployment": "blue"})[0] == 200  # pinning still works


def test_body_over_1_5_mb_is_413(fresh):
    limit = 1_572_864
    pad = limit - len(json.dumps({"inputs": [[1]], "pad": ""}))
    exact = json.dumps({"inputs": [[1]], "pad": "x" * pad}).encode()
    assert len(exact) == limit
    assert fresh.score(raw=exact)[0] == 200
    status, _, body = fresh.score(raw=exact + b" ")
    assert status == 413 and "limit" in json.loads(body)["message"]
    # the same without a Content-Length: chunked, counted as it arrives
    conn = http.client.HTTPConnection("127.0.0.1", fresh.port, timeout=10)
    chunks = (exact[i:i + 65536] for i in range(0, len(exact), 65536))
    conn.request("POST", "/score", body=[*chunks, b"  "], encode_chunked=True,
                 headers={"Authorization": f"Bearer {fresh.cfg['keys']['primary']}"})
    assert conn.getresponse().status == 413
    conn.close()
    # a bad key on a big body is still a 401
    assert fresh.score(raw=exact + b" ", key=None)[0] == 401


def test_slow_model_is_408_at_request_timeout(fresh, fakes):
    deployments = json.loads(json.dumps(fresh.cfg["deployments"]))
    deployments["green"]["request_timeout_ms"] = 300
    fresh.push(deployments=deployments, traffic={"blue": 0, "green": 100})
    fakes["green1"].delay = 2.0
    start = time.monotonic()
    status, headers, body = fresh.score()
    elapsed = time.monotonic() - start
    assert status == 408 and headers["azureml-model-deployment"] == "green"
    assert 0.29 < elapsed < 1.9, elapsed  # answered at the timeout, not when the model (2 s) finished
    assert "300 ms" in json.loads(body)["message"]


def test_failing_model_is_424_with_its_status(fresh, fakes):
    fresh.push(traffic={"blue": 0, "green": 100})
    for code in (400, 500):
        fakes["green1"].fail = code
        status, headers, body = fresh.score()
        assert status == 424
        assert headers["ms-azureml-model-error-statuscode"] == str(code)
        assert json.loads(body)["model_message"] == "green1 cannot score this"


def test_overload_is_429(fresh, fakes):
    # green: 1 instance x 1 concurrent request -> at most 2 in flight, the rest 429
    fresh.push(traffic={"blue": 0, "green": 100})
    fakes["green1"].delay = 0.5

    async def burst():
        async with aiohttp.ClientSession() as s:
            async def one():
                async with s.post(f"http://127.0.0.1:{fresh.port}/score", json=AZURE_ROW,
                                  headers={"Authorization": f"Bearer {fresh.cfg['keys']['primary']}"}) as resp:
                    await resp.read()
                    return resp.status
            return await asyncio.gather(*(one() for _ in range(6)))

    statuses = Counter(asyncio.run(burst()))
    assert statuses == {200: 2, 429: 4}, statuses


def test_unreachable_instance_retries_on_another_then_502(fresh, fakes):
    dead = f"http://127.0.0.1:{free_port()}"
    deployments = json.loads(json.dumps(fresh.cfg["deployments"]))
    deployments["blue"]["instances"] = [dead, fakes["blue1"].url]
    fresh.push(deployments=deployments)
    assert all(fresh.score()[0] == 200 for _ in range(20))
    deployments["blue"]["instances"] = [dead]
    fresh.push(deployments=deployments)
    status, _, body = fresh.score()
    assert status == 502 and "unreachable" in json.loads(body)["message"]
    deployments["blue"]["instances"] = []
    fresh.push(deployments=deployments)
    assert fresh.score()[0] == 503


def _raw(port: int, data: bytes, expect_answers: int, timeout: float = 5) -> bytes:
    """Send raw bytes on one connection and read until `expect_answers` answers (or EOF)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        got = b""
        while got.count(b"HTTP/1.1 ") < expect_answers or not got.endswith((b"]", b"}")):
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
        return got


def test_http_edges_pipelining_continue_chunked_and_malformed(fresh):
    key = fresh.cfg["keys"]["primary"]
    body = json.dumps(AZURE_ROW).encode()
    one = (b"POST /score HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Length: %d\r\n"
           b"x-request-id: pipe-%d\r\n\r\n%s")
    pipelined = b"".join(one % (key.encode(), len(body), i, body) for i in range(3))
    got = _raw(fresh.port, pipelined, 3)
    assert got.count(b"HTTP/1.1 200 OK") == 3
    assert got.index(b"pipe-0") < got.index(b"pipe-1") < got.index(b"pipe-2")  # answered in order
    # Expect: 100-continue, then a chunked body
    with socket.create_connection(("127.0.0.1", fresh.port), timeout=5) as s:
        s.sendall(b"POST /score HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nExpect: 100-continue\r\n"
                  b"Transfer-Encoding: chunked\r\n\r\n" % key.encode())
        assert s.recv(100).startswith(b"HTTP/1.1 100 Continue")
        half = len(body) // 2
        s.sendall(b"%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n" % (half, body[:half], len(body) - half, body[half:]))
        answer = s.recv(65536)
        assert answer.startswith(b"HTTP/1.1 200 OK") and answer.endswith(b"[1]")
    # HTTP/1.0: answered, then closed
    got = _raw(fresh.port, b"POST /score HTTP/1.0\r\nAuthorization: Bearer %s\r\nContent-Length: %d\r\n\r\n%s"
               % (key.encode(), len(body), body), 1)
    assert got.startswith(b"HTTP/1.1 200 OK") and b"Connection: close" in got
    # malformed: 400 and closed; smuggling shapes refused
    assert _raw(fresh.port, b"POST /score HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}", 1
                ).startswith(b"HTTP/1.1 400")
    assert _raw(fresh.port, b"GARBAGE\r\n\r\n", 1).startswith(b"HTTP/1.1 400")
    assert call(fresh.port, path="/score", method="GET")[0] == 405
    assert call(fresh.port, path="/elsewhere", method="GET")[0] == 404
    assert fresh.score()[0] == 200


# --- admin API -------------------------------------------------------------------------------------


def test_admin_needs_its_token_and_hides_secrets(fresh):
    for path in ("/-/config", "/-/metrics"):
        assert fresh.admin("GET", path, token="")[0] == 401
        assert fresh.admin("GET", path, token="wrong")[0] == 401
    assert fresh.admin("PUT", "/-/config", fresh.cfg | {"version": 10_000}, token="wrong")[0] == 401
    status, health = fresh.admin("GET", "/-/health", token="")
    assert status == 200 and health["ok"] and health["version"] == fresh.cfg["version"]
    status, cfg = fresh.admin("GET", "/-/config")
    assert status == 200 and cfg["keys"] == {"primary": "***", "secondary": "***"} and cfg["admin_token"] == "***"
    assert fresh.cfg["keys"]["primary"] not in json.dumps(cfg)
    # the scoring key is not an admin token
    assert fresh.admin("GET", "/-/config", token=fresh.cfg["keys"]["primary"])[0] == 401


@pytest.mark.parametrize("change, fragment", [
    ({"traffic": {"blue": 60, "green": 30}}, "sum to 0 or 100"),
    ({"traffic": {"blue": 100, "nope": 0}}, "unknown deployment"),
    ({"mirror": {"blue": 10}}, "0% live traffic"),
    ({"mirror": {"green": 60}}, "between 0 and 50"),
    ({"endpoint": "other-ep"}, "this router serves"),
])
def test_invalid_config_is_rejected_and_nothing_changes(fresh, change, fragment):
    before = fresh.admin("GET", "/-/config")[1]
    status, body = fresh.admin("PUT", "/-/config", fresh.cfg | change | {"version": fresh.cfg["version"] + 1})
    assert status == 400 and fragment in body["message"]
    assert fresh.admin("GET", "/-/config")[1] == before
    assert json.loads(fresh.config_path.read_text())["version"] == fresh.cfg["version"]
    status, body = fresh.admin("PUT", "/-/config", fresh.cfg | {"version": fresh.cfg["version"] - 1})
    assert status == 409  # an older version never overwrites a newer one
    assert fresh.score()[0] == 200


# --- data collection and metrics -------------------------------------------------------------------


def test_data_collection_joins_inputs_and_outputs(fresh):
    deployments = json.loads(json.dumps(fresh.cfg["deployments"]))
    deployments["blue"]["collect"] = ["model_inputs", "model_outputs"]
    fresh.push(deployments=deployments)
    ids = [f"collect-{i}" for i in range(3)]
    for rid in ids:
        assert fresh.score(headers={"x-request-id": rid})[0] == 200
    status, headers, _ = fresh.score()  # no id given: the router's own, returned to the caller
    ids.append(headers["x-request-id"])
    base = Path(fresh.cfg["collect_dir"]) / ENDPOINT / "blue"

    def lines(collection):
        hour = datetime.now(timezone.utc)
        files = [base / collection / hour.strftime("%Y/%m/%d/%H") / "data.jsonl"]
        files += list((base / collection).rglob("data.jsonl"))  # across an hour boundary
        found = {}
        for f in set(files):
            if f.exists():
                for line in f.read_text().splitlines():
                    rec = json.loads(line)
                    found[rec["correlationid"]] = rec
        return found if all(i in found for i in ids) else None

    inputs = wait_until(lambda: lines("model_inputs"), 5, "collected inputs")
    outputs = wait_until(lambda: lines("model_outputs"), 5, "collected outputs")
    for rid in ids:
        assert inputs[rid]["data"] == [{"tenure": 3, "charges": 70.5, "calls": 1}]
        assert outputs[rid]["data"] == [{"prediction": 1}]
        t = datetime.fromisoformat(inputs[rid]["time"].replace("Z", "+00:00"))
        assert abs((datetime.now(timezone.utc) - t).total_seconds()) < 60
        assert inputs[rid]["time"] == outputs[rid]["time"]
    path = next((base / "model_inputs").rglob("data.jsonl")).relative_to(base / "model_inputs")
    assert len(path.parts) == 5 and len(path.parts[0]) == 4 and len(path.parts[3]) == 2  # yyyy/MM/dd/HH


def test_metrics_report_counts_success_and_percentiles(fresh, fakes):
    deployments = json.loads(json.dumps(fresh.cfg["deployments"]))
    deployments["canary"] = {"instances": [fakes["spare"].url], "request_timeout_ms": 5000,
                             "max_concurrent_requests_per_instance": 1, "instance_count": 1}
    fresh.push(deployments=deployments)
    pin = {"azureml-model-deployment": "canary"}
    for _ in range(20):
        assert fresh.score(headers=pin)[0] == 200
    fakes["spare"].fail = 500
    for _ in range(5):
        assert fresh.score(headers=pin)[0] == 424
    fresh.score(headers=pin, key=None)  # 401: the client's fault
    status, metrics = fresh.admin("GET", "/-/metrics")
    assert status == 200 and metrics["version"] == fresh.cfg["version"]
    canary = metrics["deployments"]["canary"]
    w = canary["60"]
    assert w["requests"] == 26 and w["failures"] == 5 and w["client_errors"] == 1
    assert w["success_rate"] == pytest.approx(20 / 25)
    assert w["statuses"] == {"200": 20, "401": 1, "424": 5}
    assert 0 < w["p50_ms"] <= w["p95_ms"] <= w["p99_ms"] < 1000
    assert canary["300"]["requests"] == 26 and canary["in_flight"] == 0 and canary["mirrored"] == 0
    assert len(canary["series_p50_ms"]) == 30 and canary["series_p50_ms"][-1] is not None
    assert set(metrics["deployments"]) == {"blue", "green", "canary"}


# --- traffic changes and instance restarts under load ----------------------------------------------


async def _load(port: int, key: str, duration: float, rate: float, workers: int, during):
    """Requests at `rate`/s spread over `workers` keep-alive clients while `during()` runs;
    returns [(start, end, status or exception, deployment)]."""
    results: list[tuple[float, float, object, str | None]] = []
    stop = asyncio.Event()
    headers = {"Authorization": f"Bearer {key}"}

    async def worker(i: int, session: aiohttp.ClientSession) -> None:
        period = workers / rate
        next_at = time.monotonic() + random.random() * period
        while not stop.is_set():
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            next_at += period
            t = time.monotonic()
            try:
                async with session.post(f"http://127.0.0.1:{port}/score", json=AZURE_ROW, headers=headers) as resp:
                    await resp.read()
                    results.append((t, time.monotonic(), resp.status, resp.headers.get("azureml-model-deployment")))
            except Exception as err:  # noqa: BLE001 - every failure counts
                results.append((t, time.monotonic(), err, None))

    async with aiohttp.ClientSession() as session:
        tasks = [asyncio.create_task(worker(i, session)) for i in range(workers)]
        started = time.monotonic()
        await during()
        await asyncio.sleep(max(0.0, duration - (time.monotonic() - started)))
        stop.set()
        await asyncio.gather(*tasks)
    return results


def test_traffic_changes_under_load_drop_nothing(fresh):
    deployments = json.loads(json.dumps(fresh.cfg["deployments"]))
    for d in deployments.values():
        d["max_concurrent_requests_per_instance"] = 8
    fresh.push(deployments=deployments)
    splits = [{"blue": 100, "green": 0}, {"blue": 50, "green": 50}, {"blue": 0, "green": 100}]
    changes: list[tuple[float, float, dict]] = []
    loop_cfg = dict(fresh.cfg)

    async def change_traffic():
        async with aiohttp.ClientSession() as s:
            for i in range(20):
                await asyncio.sleep(0.12)
                traffic = splits[(i + 1) % 3]
                loop_cfg["version"] += 1
                body = loop_cfg | {"traffic": traffic}
                t = time.monotonic()
                async with s.put(f"http://127.0.0.1:{fresh.port}/-/config", json=body,
                                 headers={"x-amlops-admin-token": fresh.cfg["admin_token"]}) as resp:
                    assert resp.status == 200, await resp.text()
                changes.append((t, time.monotonic(), traffic))
            await asyncio.sleep(0.12)

    results = asyncio.run(_load(fresh.port, fresh.cfg["keys"]["primary"], 3.0, 150, 6, change_traffic))
    fresh.cfg = loop_cfg
    failures = [r for r in results if r[2] != 200]
    assert len(changes) == 20
    assert failures == [], failures[:5]
    # in effect at once: a request sent after a PUT returned sees the new split (until the next PUT)
    late = []
    for (put_start, put_done, traffic), nxt in zip(changes, [*changes[1:], (float("inf"),) * 3]):
        for start, _, _, dep in results:
            if put_done <= start < nxt[0] and traffic[dep] == 0:
                late.append((start - put_done, traffic, dep))
    assert late == [], late[:5]


def test_instance_restart_under_load_drops_nothing(fresh, fakes):
    """An instance goes away under load, first abruptly (still in the config: the router retries
    on the other instance), then the daemon's way (taken out of the config, then stopped)."""
    victim = FakeInstance("victim", value=1).start()
    deployments = json.loads(json.dumps(fresh.cfg["deployments"]))
    deployments["blue"]["instances"] = [fakes["blue1"].url, victim.url]
    deployments["blue"]["max_concurrent_requests_per_instance"] = 8
    fresh.push(deployments=deployments)
    victim.delay = fakes["blue1"].delay = 0.01

    async def restart():
        await asyncio.sleep(0.4)
        await asyncio.to_thread(victim.stop)  # in-flight requests finish; new connections refused
        await asyncio.sleep(0.5)
        replacement = FakeInstance("replacement", value=1).start()
        deployments["blue"]["instances"] = [fakes["blue1"].url, replacement.url]
        await asyncio.to_thread(fresh.push, deployments=deployments)
        await asyncio.sleep(0.5)
        deployments["blue"]["instances"] = [fakes["blue1"].url]  # taken out, then stopped
        await asyncio.to_thread(fresh.push, deployments=deployments)
        await asyncio.to_thread(replacement.stop)

    results = asyncio.run(_load(fresh.port, fresh.cfg["keys"]["primary"], 2.0, 100, 4, restart))
    assert victim.count > 0
    failures = [r for r in results if r[2] != 200]
    assert failures == [], failures[:5]
    assert len(results) >= 100


# --- the process: orphaned, killed, restarted, stopped ---------------------------------------------


STARTER = r"""
import subprocess, sys, time
proc = subprocess.Popen([sys.executable, "-m", "console.local.serving.router", "--config", sys.argv[1]],
                        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                        start_new_session=True)
print(proc.pid, flush=True)
time.sleep(600)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:
        return f.read().split(")")[1].split()[0] != "Z"


def test_router_outlives_its_starter_and_restarts_with_its_config(tmp_path, fakes):
    r = RouterProcess(tmp_path / "ep", base_config(fakes, tmp_path / "collected"))
    starter = subprocess.Popen([sys.executable, "-c", STARTER, str(r.config_path)], cwd=REPO,
                               stdout=subprocess.PIPE, text=True)
    pid = int(starter.stdout.readline())
    try:
        r.wait_ready(pid)
        assert r.score()[0] == 200
        r.push(traffic={"blue": 30, "green": 70}, mirror={})
        starter.kill()  # the control plane dies: kill -9
        starter.wait()
        time.sleep(0.3)
        assert _alive(pid)
        status, headers, _ = r.score(headers={"azureml-model-deployment": "green"})
        assert status == 200 and headers["azureml-model-deployment"] == "green"
        port, version = r.port, r.cfg["version"]

        os.kill(pid, signal.SIGKILL)  # now the router itself crashes ...
        wait_until(lambda: not _alive(pid), 5, "the router to die")
        assert json.loads(r.state_path.read_text())["pid"] == pid  # a stale state file names the dead pid
        r.start()  # ... and comes back from the same config file
        assert r.proc.pid != pid
        assert r.port == port  # the previous port, so the scoring URI survives
        status, cfg = r.admin("GET", "/-/config")
        assert cfg["traffic"] == {"blue": 30, "green": 70} and cfg["version"] == version
        seen = Counter(r.score()[1]["azureml-model-deployment"] for _ in range(60))
        assert seen["green"] > seen["blue"] > 0
        # one router per config file
        second = subprocess.run([sys.executable, "-m", "console.local.serving.router", "--config",
                                 str(r.config_path)], cwd=REPO, capture_output=True, text=True, timeout=30)
        assert second.returncode == 3 and "already running" in second.stderr
    finally:
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
        r.stop()


def test_sigterm_finishes_in_flight_requests_and_flushes_collected_data(tmp_path, fakes):
    slow = FakeInstance("slow", value=1).start()
    slow.delay = 0.8
    cfg = base_config(fakes, tmp_path / "collected")
    cfg["deployments"]["blue"] |= {"instances": [slow.url], "collect": ["model_inputs", "model_outputs"]}
    r = RouterProcess(tmp_path / "ep", cfg).start()
    out: dict = {}

    def slow_call():
        out["result"] = r.score(headers={"x-request-id": "in-flight-1"})

    t = threading.Thread(target=slow_call)
    t.start()
    wait_until(lambda: slow.count == 1, 5, "the request to reach the instance")
    r.proc.send_signal(signal.SIGTERM)
    t.join(10)
    assert out["result"][0] == 200 and json.loads(out["result"][2]) == [1]
    assert r.proc.wait(10) == 0
    with pytest.raises(OSError):
        call(r.port, path="/-/health", method="GET", timeout=1)
    files = list((tmp_path / "collected" / ENDPOINT / "blue").rglob("data.jsonl"))
    assert len(files) == 2 and all("in-flight-1" in f.read_text() for f in files)
    state = json.loads(r.state_path.read_text())
    assert state["running"] is False and state["pid"] is None and state["port"] == r.port
    slow.stop()


# --- a real MLflow scoring server --------------------------------------------------------------------


def test_real_mlflow_model_behind_the_router(router, real_model):
    expected = real_model.wait()
    deployments = json.loads(json.dumps(router.cfg["deployments"]))
    deployments["mlflow"] = {"instances": [real_model.url], "request_timeout_ms": 10000,
                             "max_concurrent_requests_per_instance": 1, "instance_count": 1}
    router.push(deployments=deployments, traffic={"blue": 0, "green": 0, "mlflow": 100}, mirror={})
    body = {"input_data": {"columns": expected["columns"], "index": list(range(5)), "data": expected["data"]}}
    status, headers, out = router.score(body, timeout=30)
    assert status == 200, out
    assert json.loads(out) == expected["predictions"] and headers["azureml-model-deployment"] == "mlflow"
    # MLflow's own format, through the same router: MLflow's answer, unchanged
    status, _, out = router.score({"dataframe_split": {"columns": expected["columns"], "data": expected["data"]}})
    assert status == 200 and json.loads(out) == {"predictions": expected["predictions"]}
    # the model refuses a payload without its columns: 424 carrying MLflow's 400 and message
    status, headers, out = router.score({"input_data": {"columns": ["tenure"], "data": [[1.0]]}})
    assert status == 424 and headers["ms-azureml-model-error-statuscode"] == "400"
    assert "charges" in json.loads(out)["model_message"]
