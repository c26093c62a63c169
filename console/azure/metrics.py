"""An Azure online endpoint's serving figures from Azure Monitor, per deployment.

Two requests per endpoint: `MetricsQueryClient.query_resource` (azure-monitor-query) for
RequestsPerMinute and RequestLatency_P50/P95/P99 over the last 30 minutes at Azure Monitor's
1-minute grain, split by the `deployment` dimension, and RequestsPerMinute split by deployment
and status code (the latencies have no status code dimension, so it cannot be one query). Azure Monitor ingests a minute a minute or
two late, so "now" is the newest minute with requests it has reported for the endpoint; the window
ends there.
Its figures change once a minute, so one endpoint is read at most every `TTL_S` seconds.

The success rate is a second query of the same endpoint: RequestsPerMinute split by deployment
and status code, read with the local router's rule (console/local/serving/metrics.py): 408, 424,
429 and 5xx are the deployment's failures, the other 4xx the client's and left out.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from console.azure.session import Session
    from console.domain import DeploymentMetrics

NAMES = ("RequestsPerMinute", "RequestLatency_P50", "RequestLatency_P95", "RequestLatency_P99")
SPAN = timedelta(minutes=30)  # the sparkline's reach
OUTCOME = {"failure": "failures", "client": "client_errors", "success": "successes"}


def _outcome(code: object) -> str:
    """A status code as the local router counts it: the deployment's failure, the client's, or success."""
    try:
        status = int(str(code))
    except ValueError:
        return "failure"  # Azure Monitor names no code: count it against the deployment, never for it
    if status in (408, 424, 429) or status >= 500:
        return "failure"
    return "client" if 400 <= status < 500 else "success"
TTL_S = 30.0
MAX_SERIES = 1000


class EndpointMetrics:
    """Azure Monitor's metrics of the workspace's endpoints, read through one client, cached briefly."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._client: Any = None
        self._cache: dict[str, tuple[float, dict[str, dict[str, dict[datetime, float]]]]] = {}
        self._lock = threading.Lock()

    def closable(self) -> Any:
        """What close() releases: the client of our own, if one was built."""
        return self._client

    def _query(self, resource_id: str) -> dict[str, dict[str, dict[datetime, float]]]:
        """metric -> deployment -> minute -> value (minutes without a value are left out)."""
        with self._lock:
            hit = self._cache.get(resource_id)
            if hit and time.monotonic() - hit[0] < TTL_S:
                return hit[1]
            if self._client is None:
                from azure.monitor.query import MetricsQueryClient

                from console.azure.session import RETRY_TOTAL

                self._client = MetricsQueryClient(self.session.credential(), retry_total=RETRY_TOTAL,
                                                  per_retry_policies=[self.session.counting()],
                                                  **self.session.transport_kwargs())
        from azure.core.exceptions import HttpResponseError

        # A filtered query answers 10 series unless told more: deployments x status codes pass that.
        result = self._client.query_resource(resource_id, list(NAMES), timespan=SPAN,
                                             granularity=timedelta(minutes=1), aggregations=["Total", "Average"],
                                             filter="deployment eq '*'", max_results=MAX_SERIES)
        try:
            codes = self._client.query_resource(resource_id, ["RequestsPerMinute"], timespan=SPAN,
                                                granularity=timedelta(minutes=1), aggregations=["Total", "Average"],
                                                filter="deployment eq '*' and statusCode eq '*'",
                                                max_results=MAX_SERIES).metrics
        except HttpResponseError as err:  # the rest stands without a success rate
            if err.status_code == 429:
                raise
            codes = []
        found: dict[str, dict[str, dict[datetime, float]]] = {}
        for metric, split in [(m, False) for m in result.metrics] + [(m, True) for m in codes]:
            for series in metric.timeseries:
                meta = {str(k).lower(): v for k, v in (series.metadata_values or {}).items()}
                deployment = meta.get("deployment") or ""
                key = f"{OUTCOME[_outcome(meta.get('statuscode'))]}" if split else metric.name
                points = found.setdefault(key, {}).setdefault(deployment, {})
                for point in series.data:
                    value = point.average
                    if metric.name == "RequestsPerMinute":  # a count: its Total, Average where Total is missing
                        value = point.total if point.total is not None else point.average
                    if value is not None:
                        points[point.timestamp] = points.get(point.timestamp, 0.0) + float(value)
        with self._lock:
            self._cache[resource_id] = (time.monotonic(), found)
        return found

    def of(self, resource_id: str, endpoint: str, deployments: list[str], window_s: int) -> list[DeploymentMetrics]:
        from console.domain import DeploymentMetrics

        found = self._query(resource_id)
        rpm = found.get("RequestsPerMinute", {})
        # The newest minute that saw requests: Azure Monitor may report the minutes it has not
        # ingested yet (or had no requests in) as 0.
        reported = [t for points in rpm.values() for t, n in points.items() if n > 0]
        newest = max(reported) if reported else None
        minutes = max(1, round(window_s / 60))
        out = []
        for name in deployments:
            counts = rpm.get(name, {})
            window = [newest - timedelta(minutes=i) for i in range(minutes)] if newest else []
            requests = sum(counts.get(t, 0.0) for t in window)

            def weighted(metric: str) -> float | None:
                values = found.get(metric, {}).get(name, {})
                pairs = [(values[t], counts.get(t, 0.0)) for t in window if t in values]
                weight = sum(w for _, w in pairs)
                if not pairs:
                    return None
                return sum(v * w for v, w in pairs) / weight if weight else sum(v for v, _ in pairs) / len(pairs)

            def counted(key: str) -> float:
                return sum(found.get(key, {}).get(name, {}).get(t, 0.0) for t in window)

            failures = counted("failures")
            answerable = failures + counted("successes")  # the client's errors are left out
            # (no status code split read: no success rate, rather than 100 % from nothing)
            p50 = found.get("RequestLatency_P50", {}).get(name, {})
            out.append(DeploymentMetrics(
                endpoint_name=endpoint, deployment=name, window_s=minutes * 60, requests=int(round(requests)),
                rps=requests / (minutes * 60),
                success_rate=1 - failures / answerable if answerable else None, p50_ms=weighted("RequestLatency_P50"),
                p95_ms=weighted("RequestLatency_P95"), p99_ms=weighted("RequestLatency_P99"),
                latency_series_ms=tuple(p50[t] for t in sorted(p50))))
        return out
