"""Rolling request metrics for one deployment, as the router records them and the console reads them.

Recording is O(1) and allocation-free in the common case: a request adds to the current one-second
bucket (counters and an `array('d')` of latencies). Everything else -- windows, rates, percentiles,
the sparkline series -- is computed on read, from the buckets of the last 310 seconds. A window of
`seconds` counts the last `seconds` buckets, the current one included, and its rate divides by the
time they cover: the 10 s window is the console's live figure, the longer ones the trend's.

Status classes (the rollout analysis in DESIGN.md reads these):

- **failure**: 408 (timeout), 424 (the model failed), 429 (overloaded) and every 5xx (502 instance
  unreachable, 503 no ready instance, ...). These are the deployment's fault.
- **client error**: every other 4xx (401 bad key, 404, 413 body too large, 400 ...). They count in
  `requests` but are the client's fault, so they are not failures and are left out of
  `success_rate`, whose denominator is the requests the deployment was answerable for:
  `success_rate = 1 - failures / (requests - client_errors)` (None when that is 0). A flood of
  bad keys thus neither hides nor fakes a failing deployment.
- **success**: everything else (2xx).

Latency is recorded only for requests that were forwarded to an instance (answered, failed,
timed out); requests the router refused on its own (401, 413, 429, 503) are counted without a
latency, so instant refusals do not drag the percentiles down.

Pure: numpy and the standard library only.
"""

from __future__ import annotations

import time
from array import array
from collections import deque
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

WINDOWS_S = (10, 60, 300)
LIVE_WINDOW_S = 10  # the console's live figure: a traffic change shows within it (issue 18)
SERIES_INTERVAL_S = 10
SERIES_POINTS = 30
_KEEP_S = max(WINDOWS_S[-1], SERIES_INTERVAL_S * SERIES_POINTS) + SERIES_INTERVAL_S

_FAILURE_4XX = frozenset((408, 424, 429))


def is_failure(status: int) -> bool:
    """408, 424, 429 and 5xx: the deployment's fault."""
    return status >= 500 or status in _FAILURE_4XX


def is_client_error(status: int) -> bool:
    """Any other 4xx (401, 404, 413, 400, ...): counted, but not the deployment's fault."""
    return 400 <= status < 500 and status not in _FAILURE_4XX


class _Second:
    __slots__ = ("sec", "requests", "failures", "client_errors", "statuses", "latencies")

    def __init__(self, sec: int) -> None:
        self.sec = sec
        self.requests = 0
        self.failures = 0
        self.client_errors = 0
        self.statuses: dict[int, int] = {}
        self.latencies = array("d")


class Bucket(NamedTuple):
    """A frozen copy of one second, safe to summarise off the event loop."""

    sec: int
    requests: int
    failures: int
    client_errors: int
    statuses: dict[int, int]
    latencies: np.ndarray


class Snapshot(NamedTuple):
    now: float
    since: float  # when recording started: rates over a window younger than that use its age
    buckets: list[Bucket]


class RollingMetrics:
    """Per-second buckets over the last ~5 minutes; `record` is O(1), `summary` computes on read."""

    __slots__ = ("_clock", "_buckets", "_cur", "since", "total")

    def __init__(self, clock: Callable[[], float] = time.time, now: float | None = None) -> None:
        self._clock = clock
        self._buckets: deque[_Second] = deque()
        self._cur: _Second | None = None
        self.since = clock() if now is None else now
        self.total = 0  # requests recorded since creation (never rolls)

    def record(self, status: int, latency_ms: float | None = None, now: float | None = None) -> None:
        sec = int(self._clock() if now is None else now)
        b = self._cur
        if b is None or sec > b.sec:
            b = self._roll(sec)
        # An out-of-order timestamp (the wall clock stepped back) lands in the current second.
        b.requests += 1
        self.total += 1
        if status >= 500 or status in _FAILURE_4XX:
            b.failures += 1
        elif status >= 400:
            b.client_errors += 1
        statuses = b.statuses
        statuses[status] = statuses.get(status, 0) + 1
        if latency_ms is not None:
            b.latencies.append(latency_ms)

    def _roll(self, sec: int) -> _Second:
        b = _Second(sec)
        buckets = self._buckets
        buckets.append(b)
        horizon = sec - _KEEP_S
        while buckets[0].sec <= horizon:
            buckets.popleft()
        self._cur = b
        return b

    def snapshot(self, now: float | None = None) -> Snapshot:
        """Copy the buckets that matter (cheap; do this on the thread that records)."""
        now = self._clock() if now is None else now
        horizon = int(now) - _KEEP_S
        frozen = [
            Bucket(b.sec, b.requests, b.failures, b.client_errors, dict(b.statuses),
                   np.array(b.latencies, dtype=np.float64))
            for b in self._buckets if b.sec > horizon
        ]
        return Snapshot(now, self.since, frozen)

    def summary(self, now: float | None = None) -> dict[str, Any]:
        return summarize(self.snapshot(now))


def _round(x: float | None, digits: int = 3) -> float | None:
    return None if x is None else round(float(x), digits)


def _window(snap: Snapshot, seconds: int) -> dict[str, Any]:
    first = int(snap.now) - seconds + 1  # the last `seconds` seconds, the current one included
    requests = failures = client_errors = 0
    statuses: dict[int, int] = {}
    lat: list[np.ndarray] = []
    for b in snap.buckets:
        if b.sec < first:
            continue
        requests += b.requests
        failures += b.failures
        client_errors += b.client_errors
        for code, n in b.statuses.items():
            statuses[code] = statuses.get(code, 0) + n
        if len(b.latencies):
            lat.append(b.latencies)
    answerable = requests - client_errors
    # The time the counted seconds cover: the current one only as far as it has gone (a whole
    # second for it would read a 10 s window up to 10 % low), and no more than recording has.
    span = max(min(snap.now - first, snap.now - snap.since), 1.0)
    out: dict[str, Any] = {
        "requests": requests,
        "rps": round(requests / span, 3),
        "failures": failures,
        "client_errors": client_errors,
        "success_rate": round(1.0 - failures / answerable, 6) if answerable else None,
        "statuses": {str(code): n for code, n in sorted(statuses.items())},
        "p50_ms": None, "p95_ms": None, "p99_ms": None,
    }
    if lat:
        values = np.concatenate(lat) if len(lat) > 1 else lat[0]
        p50, p95, p99 = np.percentile(values, (50, 95, 99))
        out.update(p50_ms=_round(p50), p95_ms=_round(p95), p99_ms=_round(p99))
    return out


def _series(snap: Snapshot) -> tuple[int, list[float | None]]:
    """p50 per 10 s interval (aligned to the wall clock), the last 30 intervals, oldest first;
    None where an interval had no request with a latency."""
    last = int(snap.now) // SERIES_INTERVAL_S
    first = last - SERIES_POINTS + 1
    per: list[list[np.ndarray]] = [[] for _ in range(SERIES_POINTS)]
    for b in snap.buckets:
        i = b.sec // SERIES_INTERVAL_S - first
        if 0 <= i < SERIES_POINTS and len(b.latencies):
            per[i].append(b.latencies)
    series = [
        _round(np.median(np.concatenate(arrs) if len(arrs) > 1 else arrs[0])) if arrs else None
        for arrs in per
    ]
    return first * SERIES_INTERVAL_S, series


def summarize(snap: Snapshot) -> dict[str, Any]:
    """{"10": {...}, "60": {...}, "300": {...}, "series_p50_ms": [30 values], "series_start": epoch s, ...}."""
    out: dict[str, Any] = {str(w): _window(snap, w) for w in WINDOWS_S}
    start, series = _series(snap)
    out["series_p50_ms"] = series
    out["series_start"] = start
    out["series_interval_s"] = SERIES_INTERVAL_S
    return out
