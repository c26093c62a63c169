"""A load generator for endpoints: churn rows from training/data.py, optionally drifted, sent at a
steady rate to the endpoint's scoring URI (the local router over http, an Azure endpoint over
https), with a summary of what came back.

Requests are queued on schedule and sent by a fixed pool of workers on keep-alive connections,
so a slow deployment shows up as latency (and, past the pool, as a lower achieved rate).
"""

from __future__ import annotations

import http.client
import importlib.util
import json
import queue
import statistics
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TRAINING_DATA = Path(__file__).resolve().parent.parent / "training" / "data.py"


def churn_payloads(count: int, *, drift: float = 0.0, seed: int = 7, rows_per_request: int = 1) -> list[bytes]:
    """`count` Azure-format request bodies of churn rows (the label left out)."""
    spec = importlib.util.spec_from_file_location("amlops_training_data", TRAINING_DATA)
    if spec is None or spec.loader is None:
        raise FileNotFoundError(TRAINING_DATA)
    data = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(data)
    table = data.make_churn(count * rows_per_request, seed=seed, drift=drift)[data.FEATURES]
    columns = list(table.columns)
    rows = json.loads(table.to_json(orient="values"))
    return [json.dumps({"input_data": {"columns": columns, "data": rows[i:i + rows_per_request]}}).encode()
            for i in range(0, len(rows), rows_per_request)]


@dataclass
class LoadSummary:
    sent: int = 0
    statuses: Counter = field(default_factory=Counter)
    by_deployment: Counter = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)
    errors: Counter = field(default_factory=Counter)
    seconds: float = 0.0

    @property
    def failures(self) -> int:
        return sum(n for code, n in self.statuses.items() if code != 200) + sum(self.errors.values())

    def percentile(self, q: float) -> float | None:
        if not self.latencies_ms:
            return None
        ordered = sorted(self.latencies_ms)
        return ordered[min(int(q / 100 * len(ordered)), len(ordered) - 1)]

    def to_dict(self) -> dict[str, Any]:
        return {"sent": self.sent, "seconds": round(self.seconds, 2),
                "rps": round(self.sent / self.seconds, 1) if self.seconds else 0.0,
                "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
                "by_deployment": dict(self.by_deployment), "errors": dict(self.errors),
                "failures": self.failures,
                "p50_ms": self.percentile(50), "p95_ms": self.percentile(95), "p99_ms": self.percentile(99),
                "mean_ms": statistics.fmean(self.latencies_ms) if self.latencies_ms else None}


def run_load(scoring_uri: str, key: str | None, payloads: list[bytes], *, rps: float, duration_s: float,
             deployment: str | None = None, concurrency: int = 16,
             on_tick: Callable[[LoadSummary], None] | None = None) -> LoadSummary:
    """Send payloads round-robin at `rps` for `duration_s` seconds from `concurrency` workers,
    each on its own keep-alive connection; returns what happened."""
    url = urllib.parse.urlsplit(scoring_uri)
    path = url.path or "/score"
    # The local router speaks http; an Azure endpoint's scoring URI is https (port 443 by default).
    connection = http.client.HTTPSConnection if url.scheme == "https" else http.client.HTTPConnection
    headers = {"content-type": "application/json"}
    if key:
        headers["authorization"] = f"Bearer {key}"
    if deployment:
        headers["azureml-model-deployment"] = deployment
    summary, lock = LoadSummary(), threading.Lock()
    work: queue.Queue[bytes | None] = queue.Queue()

    def post(conn: http.client.HTTPConnection, body: bytes) -> http.client.HTTPResponse:
        conn.request("POST", path, body=body, headers=headers)
        reply = conn.getresponse()
        reply.read()
        return reply

    def worker() -> None:
        conn = connection(url.hostname, url.port, timeout=30)
        while (body := work.get()) is not None:
            began = time.perf_counter()
            try:
                try:
                    reply = post(conn, body)
                except (OSError, http.client.HTTPException):
                    conn.close()  # a keep-alive connection the server closed: once more on a fresh one
                    conn = connection(url.hostname, url.port, timeout=30)
                    reply = post(conn, body)
                elapsed = (time.perf_counter() - began) * 1000
                with lock:
                    summary.statuses[reply.status] += 1
                    summary.latencies_ms.append(elapsed)
                    summary.by_deployment[reply.getheader("azureml-model-deployment") or "-"] += 1
            except Exception as err:  # counted, never raised: a load run reports what broke
                with lock:
                    summary.errors[type(err).__name__] += 1
        conn.close()

    workers = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    for thread in workers:
        thread.start()
    total = max(int(rps * duration_s), 1)
    start = time.perf_counter()
    for i in range(total):
        delay = start + i / rps - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        work.put(payloads[i % len(payloads)])
        summary.sent += 1
        if on_tick and i and i % max(int(rps), 1) == 0:
            on_tick(summary)
    for _ in workers:
        work.put(None)
    for thread in workers:
        thread.join(timeout=60)
    summary.seconds = time.perf_counter() - start
    return summary
