"""The local online endpoint's router: the data plane in front of real `mlflow models serve` instances.

One router process per endpoint. It answers scoring calls with Azure ML's managed online endpoint
semantics (keys, traffic split, pinning, mirroring, the 401/404/408/413/424/429 answers, the
`input_data` payload) and forwards them to the deployments' ready instances over keep-alive
connections. The daemon (the control plane) starts it, decides which instances are ready and pushes
the routing config; the router keeps serving with its last config if the daemon dies.

Run: `python -m console.local.serving.router --config PATH [--log-file PATH]`

The hot path is here, together; what it leans on is beside it: `config.py` (the config and its
validation), `http1.py` (parsing a request head and chunked bodies), `payloads.py` (Azure's
payload for MLflow), `collector.py` and `metrics.py`.

- The config file (JSON, see `config.validate_config`) holds everything, host and port included
  (port 0 = a free port; on a restart the router first tries the port it had before, so the
  scoring URI survives a router restart). Once listening, the router writes
  `{"pid", "running": true, "host", "port", "version", "started_at", "config"}` to the state file
  next to the config (`router.json` -> `router.state.json`), rewritten on each config change; a
  clean stop rewrites it with `"pid": null, "running": false` (the port kept). After a kill -9 the
  file still names the dead pid: check it. A lock file (`router.lock`) keeps one router per
  config file: a second one exits with status 3 (a config it cannot load: status 2).
- SIGTERM / SIGINT: stop listening, finish in-flight requests and mirror copies, flush collected
  data, exit 0. SIGHUP is ignored (the router outlives the SSH session that started it).

Scoring: `POST /score` or `POST /`, `Authorization: Bearer <primary|secondary key>`.
Admin (same port, header `x-amlops-admin-token`): `PUT /-/config`, `GET /-/config` (secrets
redacted), `GET /-/metrics`; `GET /-/health` needs no token.

Why plain asyncio protocols and not aiohttp: the budget is 0.3 ms added median latency against
calling the instance directly (DESIGN.md; benchmarks/router.py measures it). On the 2-core VM
this runs on, code that runs after a few milliseconds idle (waiting for the model) costs about
3x its warm CPU time, and aiohttp's server plus ClientSession spent ~320 us warm / ~900 us cold
per proxied request (1.2-1.5 ms added median against `mlflow models serve`). The request path here is callbacks only: one
`data_received` parses the client's request and writes the upstream request on a pooled
keep-alive connection, one `data_received` on that connection writes the answer back -- no task,
no future, no per-request timer object beyond one `call_at` for the request timeout (see
benchmarks/router.py for the figures). The HTTP/1.1 handled is what clients and uvicorn speak:
Content-Length and chunked bodies, keep-alive, pipelining (served in order), `Expect:
100-continue`, HTTP/1.0.

A config is swapped in by one reference assignment: every request reads `self.routing` once and
finishes with the config it started with, so a traffic change is in effect for the next request
and drops none. The request path does no file I/O and no logging; data collection only appends
to an in-memory buffer that a background task flushes.
"""

from __future__ import annotations

import argparse
import asyncio
import fcntl
import hmac
import json
import logging
import os
import random
import signal
import sys
import time
from pathlib import Path
from typing import Any
from uuid import uuid4

from console.local.serving.collector import INPUTS, OUTPUTS, Collector
from console.local.serving.config import (
    DEFAULT_TIMEOUT_MS,
    ConfigError,
    load_config,
    lock_path,
    redact,
    state_path,
    validate_config,
    write_json_atomic,
)
from console.local.serving.http1 import (
    _REQUEST_ID,
    _STATUS_LINES,
    MAX_HEAD,
    MAX_UPSTREAM_BODY,
    HttpError,
    _TooLarge,
    parse_chunked,
    parse_head,
)
from console.local.serving.metrics import RollingMetrics, summarize
from console.local.serving.payloads import _model_message, to_mlflow

log = logging.getLogger("amlops.router")

MAX_BODY = 1_572_864  # 1.5 MB, Azure's limit on a scoring request
ADMIN_HEADER = "x-amlops-admin-token"
DEPLOYMENT_HEADER = "azureml-model-deployment"
MODEL_ERROR_HEADER = "ms-azureml-model-error-statuscode"
CLIENT_IDLE_S = 120.0
LINGER_S = 5.0  # after an early answer (413, 401 on a big body), how long the rest of the body is drained
LINGER_BYTES = 64 * 1024 * 1024  # idle client keep-alive connections closed after this (longer than clients' pools)
# uvicorn (what `mlflow models serve` runs) closes idle keep-alive connections after 5 s; ours
# must give up first, or a request could be written to a connection the server is closing.
UPSTREAM_KEEPALIVE_S = 4.0

try:  # orjson if the environment happens to have it; never a dependency
    import orjson

    def _dumps(obj: Any) -> bytes:
        return orjson.dumps(obj)

    _loads = orjson.loads
except ImportError:  # pragma: no cover - depends on the environment
    _encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))

    def _dumps(obj: Any) -> bytes:
        return _encoder.encode(obj).encode()

    _loads = json.loads


class _Client(asyncio.Protocol):
    """A client's connection: parses requests, one at a time, and writes their answers."""

    __slots__ = ("router", "transport", "buf", "busy", "closing", "closed", "paused", "idle_since", "_head",
                 "linger", "discarded")

    def __init__(self, router: Router) -> None:
        self.router = router
        self.transport: asyncio.Transport = None  # type: ignore[assignment]
        self.buf = bytearray()
        self.busy = False
        self.closing = False
        self.closed = False
        self.paused = False
        self.idle_since = time.monotonic()
        self._head: tuple | None = None
        self.linger = False  # answered before the body was read: drain it before closing
        self.discarded = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.router.clients.add(self)
        if self.router.stopping:
            self.closing = True

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.router.clients.discard(self)

    def eof_received(self) -> bool:
        self.closing = True  # half-closed: answer what is in progress, then close
        return self.busy and not self.closed

    def data_received(self, data: bytes) -> None:
        if self.closed:  # lingering after an early answer: read and drop what the client still sends
            self.discarded += len(data)
            if self.discarded > LINGER_BYTES:
                self.transport.close()
            return
        self.buf += data
        if not self.busy:
            self.process()
        elif not self.paused and len(self.buf) > MAX_HEAD + MAX_BODY:
            self.transport.pause_reading()  # a pipelining client is far ahead of us
            self.paused = True

    def process(self) -> None:
        if self.busy or self.closed:
            return
        buf = self.buf
        head = self._head
        if head is None:
            while buf[:2] == b"\r\n":  # stray empty lines between requests are allowed
                del buf[:2]
            end = buf.find(b"\r\n\r\n")
            if end < 0 or end > MAX_HEAD:
                if len(buf) > MAX_HEAD:
                    self.fail(431, "request head too large")
                return
            try:
                head = parse_head(bytes(buf[:end]))
            except HttpError as err:
                self.fail(err.status, err.message)
                return
            del buf[:end + 4]
            length = head[4]
            if length is not None and length > MAX_BODY:
                self.busy = self.linger = True
                self.router.too_large(self, head[1], head[3], length)
                return
            if head[3].get(b"expect", b"").lower() == b"100-continue" and (head[5] or len(buf) < (length or 0)):
                self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            self._head = head
        method, path, keep, headers, length, chunked = head
        if chunked:
            try:
                got = parse_chunked(buf, MAX_BODY)
            except _TooLarge:
                self.busy = self.linger = True
                self.router.too_large(self, path, headers, None)
                return
            except HttpError as err:
                self.fail(err.status, err.message)
                return
            if got is None:
                return
            body, used = got
            del buf[:used]
        elif length:
            if len(buf) < length:
                return
            body = bytes(buf[:length])
            del buf[:length]
        else:
            body = b""
        self._head = None
        self.busy = True
        try:
            self.router.dispatch(self, method, path, headers, body, keep)
        except Exception:  # noqa: BLE001 - answer, never leave the client hanging
            log.exception("request failed")
            if self.busy:
                self.respond(500, b'{"message":"router error"}', b"", False)

    def respond(self, status: int, body: bytes, headers: bytes, keep: bool) -> None:
        """Write one answer (`headers`: preformatted `Name: value\\r\\n` lines)."""
        if self.closed:
            return
        close = not keep or self.closing
        self.transport.write(b"%sContent-Type: application/json\r\nContent-Length: %d\r\n%s%s\r\n%s" % (
            _STATUS_LINES.get(status) or b"HTTP/1.1 %d Unknown\r\n" % status, len(body), headers,
            b"Connection: close\r\n" if close else b"", body))
        self.busy = False
        if close:
            self.closed = True
            if self.linger and self.transport.can_write_eof():
                # Closing with the client's body still arriving would reset the connection and
                # lose our answer: half-close, drop what still comes, close when it is done.
                self.buf.clear()
                self.transport.write_eof()
                asyncio.get_running_loop().call_later(LINGER_S, self.transport.close)
            else:
                self.transport.close()
            return
        self.idle_since = time.monotonic()
        if self.paused:
            self.paused = False
            self.transport.resume_reading()
        if self.buf:  # pipelined requests: next turn of the loop, not recursion
            asyncio.get_running_loop().call_soon(self.process)

    def fail(self, status: int, message: str) -> None:
        self.busy = self.linger = True
        self.respond(status, _dumps({"message": message}), b"", False)


# --- upstream: keep-alive connections to the instances -----------------------------------------


class UpstreamError(ConnectionError):
    """The instance could not be reached, or dropped the connection before answering."""


class _Upstream(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection to an instance, one exchange at a time."""

    __slots__ = ("inst", "transport", "buf", "ex", "closed", "idle_since", "_head", "_status", "_length",
                 "_chunked", "_close")

    def __init__(self, inst: Instance) -> None:
        self.inst = inst
        self.transport: asyncio.Transport = None  # type: ignore[assignment]
        self.buf = bytearray()
        self.ex: _Exchange | None = None
        self.closed = False
        self.idle_since = 0.0
        self._head = False
        self._status = 0
        self._length: int | None = None
        self._chunked = False
        self._close = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def start(self, ex: _Exchange) -> None:
        self.ex = ex
        ex.conn = self
        self._head = False
        self.buf.clear()
        self.transport.write(b"%s%s\r\nContent-Length: %d\r\n\r\n%s" % (self.inst.head, ex.rid, len(ex.data),
                                                                            ex.data))

    def _detach(self) -> _Exchange | None:
        ex = self.ex
        if ex is not None:
            self.ex = None
            ex.conn = None
            self.inst.in_flight -= 1
        return ex

    def abandon(self) -> None:
        """The exchange gave up (timeout): the connection's state is unknown, so it goes."""
        self._detach()
        self.closed = True
        self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        ex = self._detach()
        if ex is not None:
            if self._head and self._length is None and not self._chunked:
                ex.on_response(self._status, bytes(self.buf))  # a body delimited by the close
            else:
                ex.on_error(UpstreamError(f"{self.inst.url} closed the connection before answering"
                                          f"{': ' + str(exc) if exc else ''}"))

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        if self.ex is None:
            return  # an answer nobody waits for (its exchange timed out): dropped with the connection
        if not self._head:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > MAX_HEAD:
                    self._broken("response head too large")
                return
            head = bytes(buf[:end]).lower()
            del buf[:end + 4]
            if not head.startswith(b"http/1.") or not head[9:12].isdigit():
                self._broken("malformed response")
                return
            status = int(head[9:12])
            if status < 200:  # 100 Continue and friends: the real answer follows
                if buf:
                    self.data_received(b"")
                return
            self._head = True
            self._status = status
            self._length = None
            self._chunked = False
            self._close = head.startswith(b"http/1.0")
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name == b"content-length":
                    value = value.strip()
                    if not value.isdigit():
                        self._broken("malformed Content-Length")
                        return
                    self._length = int(value)
                elif name == b"transfer-encoding":
                    self._chunked = b"chunked" in value
                elif name == b"connection":
                    self._close = b"close" in value
            if status in (204, 304):
                self._length = 0
        if self._chunked:
            try:
                got = parse_chunked(buf, MAX_UPSTREAM_BODY)
            except (HttpError, _TooLarge):
                self._broken("malformed chunked response")
                return
            if got is None:
                return
            body = got[0]
        elif self._length is not None:
            if len(buf) < self._length:
                return
            body = bytes(buf[:self._length]) if self._length else b""
        else:
            return  # delimited by the close
        buf.clear()
        self._head = False
        if self._close:
            self.closed = True
            self.transport.close()
        ex = self._detach()
        if not self.closed:
            self.idle_since = time.monotonic()
            self.inst.idle.append(self)
        ex.on_response(self._status, body)  # type: ignore[union-attr]

    def _broken(self, why: str) -> None:
        ex = self._detach()
        self.closed = True
        self.transport.close()
        if ex is not None:
            ex.on_error(UpstreamError(f"{self.inst.url}: {why}"))


class Instance:
    """One ready instance: its in-flight count and a LIFO pool of idle keep-alive connections."""

    __slots__ = ("url", "host", "port", "head", "in_flight", "idle", "connecting")

    def __init__(self, url: str) -> None:
        from urllib.parse import urlsplit

        self.url = url
        parts = urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.head = (f"POST {parts.path.rstrip('/')}/invocations HTTP/1.1\r\nHost: {parts.netloc}\r\n"
                     f"Content-Type: application/json\r\nx-request-id: ").encode()
        self.in_flight = 0
        self.idle: list[_Upstream] = []
        self.connecting: set[asyncio.Task] = set()

    def send(self, ex: _Exchange) -> None:
        """Start `ex` on a pooled connection (or a new one); it hears back through its callbacks."""
        self.in_flight += 1
        ex.inst = self
        idle = self.idle
        now = time.monotonic()
        while idle:
            conn = idle.pop()
            if not conn.closed and now - conn.idle_since < UPSTREAM_KEEPALIVE_S:
                conn.start(ex)
                return
            conn.closed = True
            conn.transport.close()
        task = asyncio.get_running_loop().create_task(self._connect(ex))
        self.connecting.add(task)
        task.add_done_callback(self.connecting.discard)

    async def _connect(self, ex: _Exchange) -> None:
        try:
            _, conn = await asyncio.get_running_loop().create_connection(lambda: _Upstream(self), self.host,
                                                                         self.port)
        except OSError as err:
            self.in_flight -= 1
            ex.on_error(UpstreamError(f"cannot connect to {self.url}: {err}"))
            return
        if ex.done:  # timed out while connecting: keep the connection for the next one
            self.in_flight -= 1
            conn.idle_since = time.monotonic()
            self.idle.append(conn)
            return
        conn.start(ex)

    def close(self) -> None:
        for conn in self.idle:
            conn.closed = True
            conn.transport.close()
        self.idle.clear()


# --- routing state -----------------------------------------------------------------------------


class DeploymentState:
    """What outlives config swaps: metrics and counters, keyed by deployment name."""

    __slots__ = ("name", "metrics", "mirror_metrics", "in_flight", "mirrored", "rr")

    def __init__(self, name: str) -> None:
        self.name = name
        self.metrics = RollingMetrics()
        self.mirror_metrics = RollingMetrics()
        self.in_flight = 0
        self.mirrored = 0
        self.rr = 0


class DeploymentView:
    """A deployment as one config version sees it (immutable once built)."""

    __slots__ = ("name", "state", "instances", "limit", "timeout_s", "collect_inputs", "collect_outputs",
                 "collect_base", "header")

    def __init__(self, name: str, d: dict[str, Any], state: DeploymentState, instances: tuple[Instance, ...],
                 endpoint: str, collect_dir: str | None) -> None:
        self.name = name
        self.state = state
        self.instances = instances
        # Azure: 429 beyond 2 x max_concurrent_requests_per_instance x instance_count in flight.
        self.limit = 2 * d["max_concurrent_requests_per_instance"] * d["instance_count"]
        self.timeout_s = d["request_timeout_ms"] / 1000.0
        self.collect_inputs = INPUTS in d["collect"]
        self.collect_outputs = OUTPUTS in d["collect"]
        self.collect_base = os.path.join(collect_dir, endpoint, name) if collect_dir else ""
        self.header = f"{DEPLOYMENT_HEADER}: {name}\r\n".encode()


class Routing:
    """One config version, ready to route: swapped in whole by one assignment."""

    __slots__ = ("config", "version", "deployments", "by_header", "table", "mirror", "mirror_p", "keys",
                 "admin_token")

    def __init__(self, cfg: dict[str, Any], states: dict[str, DeploymentState],
                 instances: dict[str, Instance]) -> None:
        self.config = cfg
        self.version = cfg["version"]
        self.deployments: dict[str, DeploymentView] = {}
        for name, d in cfg["deployments"].items():
            state = states.get(name) or DeploymentState(name)
            insts = tuple(instances.get(u) or Instance(u) for u in d["instances"])
            self.deployments[name] = DeploymentView(name, d, state, insts, cfg["endpoint"], cfg["collect_dir"])
        self.by_header = {name.encode(): view for name, view in self.deployments.items()}
        # 100 slots, one per percent: a weighted pick is one random index.
        table: list[DeploymentView] = []
        for name, pct in cfg["traffic"].items():
            table.extend([self.deployments[name]] * pct)
        self.table = table if len(table) == 100 else None
        self.mirror: DeploymentView | None = None
        self.mirror_p = 0.0
        for name, pct in cfg["mirror"].items():
            self.mirror, self.mirror_p = self.deployments[name], pct / 100.0
        # aml_token mode is treated as key mode locally: the same two secrets are accepted.
        self.keys = tuple(f"Bearer {cfg['keys'][k]}".encode() for k in ("primary", "secondary"))
        self.admin_token = cfg["admin_token"].encode()

    def authorized(self, header: bytes | None) -> bool:
        if header is None:
            return False
        ok = False
        for key in self.keys:  # compare with both, always: the time says nothing about which
            ok |= hmac.compare_digest(header, key)
        return ok


TIMED_OUT = -1  # finish() statuses that are not the instance's: answered 408
UNREACHABLE = -2  # and 502


class _Exchange:
    """One forwarded request (live or a mirror copy), driven by callbacks from `_Upstream`."""

    __slots__ = ("router", "client", "keep", "dep", "rid", "t0", "t_req", "azure", "payload", "data",
                 "timer", "conn", "inst", "retried", "done")

    def __init__(self, router: Router, client: _Client | None, keep: bool, dep: DeploymentView, rid: bytes,
                 azure: bool, payload: Any, data: bytes) -> None:
        self.router = router
        self.client = client  # None for a mirror copy
        self.keep = keep
        self.dep = dep
        self.rid = rid
        self.t0 = time.perf_counter()
        self.t_req = time.time()
        self.azure = azure
        self.payload = payload
        self.data = data
        self.timer: asyncio.TimerHandle | None = None
        self.conn: _Upstream | None = None
        self.inst: Instance | None = None
        self.retried = False
        self.done = False

    def on_response(self, status: int, body: bytes) -> None:
        if not self.done:
            self._finish(status, body)

    def on_error(self, err: Exception) -> None:
        if self.done:
            return
        if not self.retried:
            self.retried = True
            if self.router.retry(self):
                return
        self._finish(UNREACHABLE, str(err).encode())

    def on_timeout(self) -> None:
        if self.done:
            return
        self.timer = None
        if self.conn is not None:
            self.conn.abandon()
        self._finish(TIMED_OUT, b"")

    def _finish(self, status: int, body: bytes) -> None:
        try:
            self.router.finish(self, status, body)
        except Exception:  # noqa: BLE001 - a bug here must not leave the client hanging
            log.exception("finishing a request failed")
            client = self.client
            if client is not None and client.busy:
                client.respond(500, b'{"message":"router error"}', b"", False)


# --- the router --------------------------------------------------------------------------------


_NO_ROUTE = ("No valid deployments to route to. Please check that the endpoint has at least one "
             "deployment with positive weight values or use a deployment specific header to route.")


class Router:
    def __init__(self, cfg: dict[str, Any], config_path: Path | None = None) -> None:
        self.config_path = config_path
        self.states: dict[str, DeploymentState] = {}
        self.instances: dict[str, Instance] = {}
        self.routing = self._build(cfg)
        self.endpoint_metrics = RollingMetrics()
        self.collector = Collector()
        self.clients: set[_Client] = set()
        self.admin_tasks: set[asyncio.Task] = set()
        self.in_flight = 0  # live requests and mirror copies, for the graceful stop
        self.port = 0
        self.started_at = time.time()
        self.stopping = False
        self._admin_lock: asyncio.Lock | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _build(self, cfg: dict[str, Any]) -> Routing:
        routing = Routing(cfg, self.states, self.instances)
        # Keep runtime objects for what the new config still has; forget the rest (in-flight
        # requests keep their own references).
        self.states = {name: view.state for name, view in routing.deployments.items()}
        instances = {i.url: i for view in routing.deployments.values() for i in view.instances}
        for url, inst in self.instances.items():
            if url not in instances:
                inst.close()  # idle connections only; in-flight requests finish on theirs
        self.instances = instances
        return routing

    # --- dispatch ------------------------------------------------------------------------------

    def dispatch(self, client: _Client, method: bytes, path: bytes, headers: dict[bytes, bytes], body: bytes,
                 keep: bool) -> None:
        if path == b"/score" or path == b"/":
            if method == b"POST":
                self.score(client, headers, body, keep)
            else:
                client.respond(405, b'{"message":"use POST to score"}', b"Allow: POST\r\n", keep)
        elif path.startswith(b"/-/"):
            task = asyncio.get_running_loop().create_task(self.admin(client, method, path, headers, body, keep))
            self.admin_tasks.add(task)
            task.add_done_callback(self.admin_tasks.discard)
        else:
            client.respond(404, _dumps({"message": f"no such path: {path.decode('latin-1')}"}), b"", keep)

    # --- scoring -------------------------------------------------------------------------------

    def score(self, client: _Client, headers: dict[bytes, bytes], body: bytes, keep: bool) -> None:
        r = self.routing  # this request's config, whatever is pushed meanwhile
        rid = headers.get(b"x-request-id")
        if rid is None or _REQUEST_ID.fullmatch(rid) is None:
            rid = str(uuid4()).encode()
        pinned = headers.get(b"azureml-model-deployment")
        dep = r.by_header.get(pinned) if pinned is not None else None

        if not r.authorized(headers.get(b"authorization")):
            self._refuse(client, keep, dep, 401, "Authentication failed: a valid key is required "
                                                 "(Authorization: Bearer <key>)", rid)
            return
        if pinned is not None:
            if dep is None:
                self._refuse(client, keep, None, 404, f"Deployment '{pinned.decode('latin-1')}' not found in "
                                                      f"endpoint '{r.config['endpoint']}'", rid)
                return
        else:
            table = r.table
            if table is None:
                self._refuse(client, keep, None, 404, _NO_ROUTE, rid)
                return
            dep = table[int(random.random() * 100)]

        state = dep.state
        if state.in_flight >= dep.limit:
            self._refuse(client, keep, dep, 429, f"Too many requests in flight on deployment '{dep.name}' "
                                                 f"(limit {dep.limit})", rid)
            return
        if not dep.instances:
            self._refuse(client, keep, dep, 503, f"Deployment '{dep.name}' has no ready instance", rid)
            return

        try:
            payload = _loads(body)
        except ValueError:
            payload = None  # not JSON: the scoring server will say so (-> 424)
        azure = type(payload) is dict and "input_data" in payload
        data = _dumps(to_mlflow(payload)) if azure else body

        if pinned is None and r.mirror is not None and random.random() < r.mirror_p:
            self._start(_Exchange(self, None, False, r.mirror, rid, azure, payload, data))
        self._start(_Exchange(self, client, keep, dep, rid, azure, payload, data))

    def _start(self, ex: _Exchange) -> None:
        dep = ex.dep
        state = dep.state
        if ex.client is None:  # a mirror copy: never more than the deployment takes, never blocking
            state.mirrored += 1
            if state.in_flight >= dep.limit or not dep.instances:
                state.mirror_metrics.record(429 if dep.instances else 503)
                return
        state.in_flight += 1
        self.in_flight += 1
        loop = self._loop or asyncio.get_running_loop()
        ex.timer = loop.call_at(loop.time() + dep.timeout_s, ex.on_timeout)
        self._choose(dep.instances, state).send(ex)  # type: ignore[union-attr]

    def retry(self, ex: _Exchange) -> bool:
        """Once more after a connection error, on another ready instance as the *current* config
        has them (an instance being restarted has been taken out of it by now); with a single
        instance, on the same one over a fresh connection (the server may have just closed a
        keep-alive connection). Scoring is a pure function of the payload, so a resend is safe."""
        current = self.routing.deployments.get(ex.dep.name) or ex.dep
        if not current.instances:
            return False
        inst = self._choose(current.instances, ex.dep.state, avoid=ex.inst) or current.instances[0]
        inst.send(ex)
        return True

    def _choose(self, instances: tuple[Instance, ...], state: DeploymentState,
                avoid: Instance | None = None) -> Instance | None:
        """Least in flight; ties go round robin."""
        n = len(instances)
        if n == 1:
            inst = instances[0]
            return None if inst is avoid else inst
        state.rr = start = (state.rr + 1) % n
        best = None
        for i in range(n):
            inst = instances[(start + i) % n]
            if inst is not avoid and (best is None or inst.in_flight < best.in_flight):
                best = inst
        return best

    def finish(self, ex: _Exchange, status: int, body: bytes) -> None:
        """The exchange is over: the instance's answer (any status), TIMED_OUT or UNREACHABLE."""
        ex.done = True
        if ex.timer is not None:
            ex.timer.cancel()
        dep = ex.dep
        state = dep.state
        state.in_flight -= 1
        self.in_flight -= 1
        latency = (time.perf_counter() - ex.t0) * 1000.0
        client = ex.client
        if 200 <= status < 300:
            if dep.collect_inputs and ex.payload is not None:
                self.collector.add(dep.collect_base, INPUTS, ex.rid, ex.t_req, ex.payload)
            if dep.collect_outputs:
                self.collector.add(dep.collect_base, OUTPUTS, ex.rid, ex.t_req, body)
            if client is None:
                state.mirror_metrics.record(status, latency)
                return
            if ex.azure:
                try:
                    parsed = _loads(body)
                    if type(parsed) is dict and "predictions" in parsed:
                        body = _dumps(parsed["predictions"])
                except ValueError:
                    pass
            state.metrics.record(status, latency)
            self.endpoint_metrics.record(status, latency)
            client.respond(status, body, b"x-request-id: %s\r\n%s" % (ex.rid, dep.header), ex.keep)
            return
        extra = b""
        if status == TIMED_OUT:
            status = 408
            message: Any = {"message": f"Request timed out after {int(dep.timeout_s * 1000)} ms "
                                       f"(request_timeout_ms of deployment '{dep.name}')"}
        elif status == UNREACHABLE:
            status = 502
            message = {"message": f"Deployment '{dep.name}' instance unreachable: "
                                  f"{body.decode('utf-8', 'replace')}"}
        else:  # the model answered with an error: Azure's 424, the model's status in a header
            extra = b"%s: %d\r\n" % (MODEL_ERROR_HEADER.encode(), status)
            message = {"message": "The model failed to score the request", "model_status_code": status,
                       "model_message": _model_message(body)}
            status = 424
        if client is None:
            state.mirror_metrics.record(status, latency)
            return
        state.metrics.record(status, latency)
        self.endpoint_metrics.record(status, latency)
        client.respond(status, _dumps(message), b"x-request-id: %s\r\n%s%s" % (ex.rid, dep.header, extra), ex.keep)

    def _refuse(self, client: _Client, keep: bool, dep: DeploymentView | None, status: int, message: str,
                rid: bytes) -> None:
        """An answer the router gives on its own, without forwarding: counted, no latency."""
        if dep is not None:
            dep.state.metrics.record(status)
        self.endpoint_metrics.record(status)
        client.respond(status, _dumps({"message": message}),
                       b"x-request-id: %s\r\n%s" % (rid, dep.header if dep is not None else b""), keep)

    def too_large(self, client: _Client, path: bytes, headers: dict[bytes, bytes], length: int | None) -> None:
        """A body over the limit (unread, so the connection closes after the answer). A scoring
        call without a valid key still gets its 401 first."""
        r = self.routing
        rid = headers.get(b"x-request-id")
        if rid is None or _REQUEST_ID.fullmatch(rid) is None:
            rid = str(uuid4()).encode()
        pinned = headers.get(b"azureml-model-deployment")
        dep = r.by_header.get(pinned) if pinned is not None else None
        if path in (b"/score", b"/") and not r.authorized(headers.get(b"authorization")):
            self._refuse(client, False, dep, 401, "Authentication failed: a valid key is required", rid)
            return
        size = f"{length} bytes" if length is not None else "over the limit"
        self._refuse(client, False, dep, 413, f"Request body is {size}; the limit is {MAX_BODY} bytes (1.5 MB)",
                     rid)

    # --- admin ---------------------------------------------------------------------------------

    async def admin(self, client: _Client, method: bytes, path: bytes, headers: dict[bytes, bytes], body: bytes,
                    keep: bool) -> None:
        try:
            status, obj = await self._admin(method, path.decode("latin-1"), headers, body)
        except Exception as err:  # noqa: BLE001 - answer, never leave the caller hanging
            log.exception("admin call failed")
            status, obj = 500, {"message": f"router error: {err}"}
        client.respond(status, _dumps(obj), b"", keep)

    async def _admin(self, method: bytes, path: str, headers: dict[bytes, bytes], body: bytes) -> tuple[int, Any]:
        r = self.routing
        if path == "/-/health" and method == b"GET":
            return 200, {"ok": True, "version": r.version, "pid": os.getpid(), "port": self.port,
                         "endpoint": r.config["endpoint"], "uptime_s": round(time.time() - self.started_at, 3)}
        if not hmac.compare_digest(headers.get(ADMIN_HEADER.encode(), b""), r.admin_token):
            return 401, {"message": f"admin calls need a valid {ADMIN_HEADER} header"}
        if path == "/-/config" and method == b"GET":
            return 200, redact(r.config)
        if path == "/-/config" and method == b"PUT":
            return await self.put_config(body)
        if path == "/-/metrics" and method == b"GET":
            return 200, await self.metrics()
        known = path in ("/-/config", "/-/metrics", "/-/health")
        return (405 if known else 404), {"message": f"no admin call {method.decode('latin-1')} {path}"}

    async def put_config(self, body: bytes) -> tuple[int, Any]:
        try:
            raw = _loads(body)
        except ValueError as err:
            return 400, {"message": f"config is not JSON: {err}"}
        if self._admin_lock is None:
            self._admin_lock = asyncio.Lock()
        async with self._admin_lock:  # one change at a time: the file and the live config agree
            current = self.routing
            try:
                cfg = validate_config(raw)
                if cfg["endpoint"] != current.config["endpoint"]:
                    raise ConfigError(f"endpoint: this router serves {current.config['endpoint']!r}, "
                                      f"not {cfg['endpoint']!r}")
            except ConfigError as err:
                return 400, {"message": str(err), "version": current.version}
            if cfg["version"] < current.version:
                return 409, {"message": f"version {cfg['version']} is older than the current version "
                                        f"{current.version}", "version": current.version}
            if self.config_path is not None:
                try:  # persist first: a router restarted from the file comes back with this config
                    await asyncio.to_thread(write_json_atomic, self.config_path, cfg)
                except OSError as err:
                    log.error("cannot write %s: %s", self.config_path, err)
                    return 500, {"message": f"cannot persist the config: {err}", "version": current.version}
            self.routing = self._build(cfg)  # the swap: one reference assignment
            log.info("config version %s: traffic %s mirror %s", cfg["version"], cfg["traffic"], cfg["mirror"])
            if self.config_path is not None:
                try:
                    await asyncio.to_thread(self.write_state)
                except OSError as err:
                    log.error("cannot write the state file: %s", err)
        return 200, {"version": cfg["version"]}

    async def metrics(self) -> dict[str, Any]:
        now = time.time()
        r = self.routing
        snaps = {name: (view.state.metrics.snapshot(now), view.state.mirror_metrics.snapshot(now),
                        view.state.in_flight, view.state.mirrored, view.state.metrics.total)
                 for name, view in r.deployments.items()}
        endpoint_snap = self.endpoint_metrics.snapshot(now)
        collector = {"pending": self.collector.pending(), "written": self.collector.written,
                     "dropped": self.collector.dropped, "errors": self.collector.errors}

        def compute() -> dict[str, Any]:  # percentiles off the event loop
            out: dict[str, Any] = {}
            for name, (snap, msnap, in_flight, mirrored, total) in snaps.items():
                d = summarize(snap)
                m = summarize(msnap)
                d.update(in_flight=in_flight, mirrored=mirrored, total_requests=total,
                         mirror={"60": m["60"], "300": m["300"]},
                         traffic=r.config["traffic"].get(name, 0), mirror_percent=r.config["mirror"].get(name, 0),
                         instances=len(r.deployments[name].instances))
                out[name] = d
            e = summarize(endpoint_snap)
            return {"deployments": out, "endpoint": {"60": e["60"], "300": e["300"]}, "version": r.version,
                    "time": now, "collector": collector}

        return await asyncio.to_thread(compute)

    # --- process -------------------------------------------------------------------------------

    def write_state(self) -> None:
        assert self.config_path is not None
        write_json_atomic(state_path(self.config_path), {
            "pid": os.getpid(), "running": True, "host": self.routing.config["host"], "port": self.port,
            "version": self.routing.version, "started_at": self.started_at, "config": str(self.config_path),
        }, mode=0o644)

    def shutdown_timeout(self) -> float:
        timeouts = [v.timeout_s for v in self.routing.deployments.values()]
        return max(timeouts, default=DEFAULT_TIMEOUT_MS / 1000) + 2.0

    async def _sweep(self) -> None:
        """Close client connections idle for longer than CLIENT_IDLE_S."""
        while True:
            await asyncio.sleep(5.0)
            limit = time.monotonic() - CLIENT_IDLE_S
            for c in list(self.clients):
                if not c.busy and c.idle_since < limit:
                    c.closed = True
                    c.transport.close()

    async def serve(self, stop: asyncio.Event, ready: asyncio.Event | None = None) -> None:
        """Listen until `stop` is set, then stop gracefully."""
        loop = self._loop = asyncio.get_running_loop()
        cfg = self.routing.config
        server = None
        for port in self._candidate_ports(cfg):
            try:
                server = await loop.create_server(lambda: _Client(self), cfg["host"], port, backlog=1024,
                                                  reuse_address=True)
                break
            except OSError:
                if port == cfg["port"]:
                    raise
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]
        background = [loop.create_task(self.collector.run()), loop.create_task(self._sweep())]
        if self.config_path is not None:
            self.write_state()
        log.info("router %s for %s listening on %s:%s (config version %s)", os.getpid(), cfg["endpoint"],
                 cfg["host"], self.port, self.routing.version)
        if ready is not None:
            ready.set()
        try:
            await stop.wait()
        finally:
            await self._stop(server, background)

    async def _stop(self, server: asyncio.AbstractServer, background: list[asyncio.Task]) -> None:
        log.info("stopping: %d requests in flight", self.in_flight)
        self.stopping = True
        server.close()  # no new connections
        for c in list(self.clients):
            c.closing = True  # busy ones close after their answer
            if not c.busy:
                c.closed = True
                c.transport.close()
        deadline = time.monotonic() + self.shutdown_timeout()
        while (self.in_flight or self.admin_tasks) and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        await self.collector.flush()
        for inst in self.instances.values():
            inst.close()
        if self.config_path is not None:  # keep the port for the next start; say we are gone
            try:
                write_json_atomic(state_path(self.config_path), {
                    "pid": None, "running": False, "host": self.routing.config["host"], "port": self.port,
                    "version": self.routing.version, "stopped_at": time.time(), "config": str(self.config_path),
                }, mode=0o644)
            except OSError as err:
                log.error("cannot write the state file: %s", err)
        log.info("router %s stopped (%d requests were still in flight)", os.getpid(), self.in_flight)

    def _candidate_ports(self, cfg: dict[str, Any]) -> list[int]:
        if cfg["port"] != 0 or self.config_path is None:
            return [cfg["port"]]
        try:  # the port of the previous run, so the scoring URI survives a restart
            previous = int(json.loads(state_path(self.config_path).read_text())["port"])
            return [previous, 0] if previous > 0 else [0]
        except (OSError, ValueError, KeyError, TypeError):
            return [0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="amlops-router", description="local online endpoint router")
    parser.add_argument("--config", required=True, help="the endpoint's router config (JSON)")
    parser.add_argument("--log-file", help="append the router's log here (default: stderr)")
    args = parser.parse_args(argv)
    config_path = Path(args.config).resolve()
    logging.basicConfig(filename=args.log_file, level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # outlive the session that started us
    try:
        cfg = load_config(config_path)
    except (OSError, ValueError) as err:
        print(f"amlops router: cannot load {config_path}: {err}", file=sys.stderr)
        return 2
    lock = open(lock_path(config_path), "a+")  # noqa: SIM115 - held for the process's lifetime
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        print(f"amlops router already running for {config_path}", file=sys.stderr)
        return 3

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await Router(cfg, config_path).serve(stop)

    asyncio.run(run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
