"""Azure online endpoints' serving figures from Azure Monitor, per deployment, read for many
endpoints at once and off ARM's read budget.

Azure Monitor's batch API, `metrics:getBatch` on the region's data plane
(https://{region}.metrics.monitor.azure.com, azure-monitor-querymetrics' `MetricsClient`), takes up
to 50 endpoints a request and is not ARM: its requests do not count against ARM's reads. Two
requests a batch: RequestsPerMinute and RequestLatency_P50/P95/P99 over the last 30 minutes at the
1-minute grain split by the `deployment` dimension, and RequestsPerMinute split by deployment and
status code (the latencies have no status code dimension, so it cannot be one query). Asked for
one endpoint whose figures are older than `TTL_S`, the batch also takes the other endpoints the
workspace last listed whose figures are as old: a refresh that asks each endpoint in turn sends
those two requests once for every 50 endpoints. Figures change once a minute, so an endpoint is
read at most every `TTL_S` seconds; a batch that failed says why for its endpoints as long (a 429
until its Retry-After).

Every metric is asked its Average: online-endpoint metrics list no other aggregation (no Total,
no Count), and RequestsPerMinute's Average at the minute's grain is that minute's count. A metric
Azure Monitor answers with an `errorCode` other than Success (and no series) is an error, never
zero requests. Azure Monitor ingests a minute a minute or two late, so "now" is the newest complete
minute (one that has ended) with requests it has reported for the endpoint; the window ends there,
and each record says how long before the read it ended (`age_s`), so the console labels the figure
with its age instead of passing it off as live.

The success rate is read with the local router's rule (console/local/serving/metrics.py): 408,
424, 429 and 5xx are the deployment's failures, the other 4xx the client's and left out. Without
the status code split (refused, or failed) the figures stand and the success rate is unknown.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from console.azure.session import Session
    from console.domain import DeploymentMetrics

NAMES = ("RequestsPerMinute", "RequestLatency_P50", "RequestLatency_P95", "RequestLatency_P99")
NAMESPACE = "Microsoft.MachineLearningServices/workspaces/onlineEndpoints"
AGGREGATION = "Average"  # the only one Azure Monitor lists for online endpoints' metrics
SPAN = timedelta(minutes=30)  # the sparkline's reach
BATCH = 50  # resource ids a metrics:getBatch request takes
TTL_S = 30.0
MAX_SERIES = 1000  # a filtered query answers 10 series a resource unless told more: deployments x codes pass that
OUTCOME = {"failure": "failures", "client": "client_errors", "success": "successes"}

Figures = dict[str, dict[str, dict[datetime, float]]]  # metric (or outcome) -> deployment -> minute -> value


def _outcome(code: object) -> str:
    """A status code as the local router counts it: the deployment's failure, the client's, or success."""
    try:
        status = int(str(code))
    except ValueError:
        return "failure"  # Azure Monitor names no code: count it against the deployment, never for it
    if status in (408, 424, 429) or status >= 500:
        return "failure"
    return "client" if 400 <= status < 500 else "success"


def _resource_of(metric_id: str) -> str:
    """The resource a metric's id belongs to, lower-cased: Azure Monitor may change its case."""
    return metric_id.lower().split("/providers/microsoft.insights/metrics/", 1)[0]


class EndpointMetrics:
    """Azure Monitor's metrics of the workspace's endpoints, read in batches through one client,
    kept briefly."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._client: Any = None
        self.clock = time.monotonic  # tests and the refresh benchmark move it
        self.wall = lambda: datetime.now(timezone.utc)  # what a minute's end and a figure's age are told against
        # endpoint -> (time.monotonic() it is good until, its figures or why they could not be read)
        self._kept: dict[str, tuple[float, Figures | Exception]] = {}
        self._lock = threading.Lock()

    def closable(self) -> Any:
        """What close() releases: the client of our own, if one was built."""
        return self._client

    def resource(self, endpoint: str) -> str:
        return f"{self.session.target.arm_id}/onlineEndpoints/{endpoint}"

    def _metrics_client(self) -> Any:
        if self._client is None:
            from azure.monitor.querymetrics import MetricsClient

            from console.azure.session import RETRY_TOTAL

            self._client = MetricsClient(f"https://{self.session.location()}.metrics.monitor.azure.com",
                                         self.session.credential(), retry_total=RETRY_TOTAL,
                                         per_retry_policies=[self.session.counting()],
                                         **self.session.transport_kwargs())
        return self._client

    def figures(self, endpoint: str, others: Iterable[str] = ()) -> Figures:
        """`endpoint`'s figures, read with as many of `others` as are as old when they must be read."""
        with self._lock:  # one batch at a time: a second caller finds the first one's figures
            now = self.clock()
            kept = self._kept.get(endpoint)
            if kept is None or now >= kept[0]:
                stale = [n for n in dict.fromkeys(others) if n != endpoint and now >= self._kept.get(n, (0.0,))[0]]
                self._read([endpoint, *stale][:BATCH])
                kept = self._kept[endpoint]
        if isinstance(kept[1], Exception):
            raise kept[1]
        return kept[1]

    def _read(self, endpoints: list[str]) -> None:
        """Read one batch; keep each endpoint's figures, or the reason it has none."""
        from azure.core.exceptions import HttpResponseError

        from console.errors import BackendUnavailable, OperationFailed

        resources = {self.resource(n).lower(): n for n in endpoints}
        until = self.clock() + TTL_S
        try:
            found, refused = self._query(list(map(self.resource, endpoints)), NAMES, "deployment eq '*'")
            try:
                codes, _ = self._query(list(map(self.resource, endpoints)), ["RequestsPerMinute"],
                                       "deployment eq '*' and statusCode eq '*'")
            except HttpResponseError as err:  # the rest stands without a success rate
                if err.status_code == 429:
                    raise
                codes = {}
        except HttpResponseError as err:
            why: Exception = err
            if err.status_code == 429:
                from console.azure.session import retry_after_s

                wait = retry_after_s(err.response.headers.get("Retry-After") if err.response is not None else None,
                                     default=TTL_S)
                why = BackendUnavailable(f"throttled by Azure Monitor: next refresh in {wait:.0f} s")
                until = self.clock() + wait
            for name in endpoints:
                self._kept[name] = (until, why)
            return
        for resource, name in resources.items():
            if resource in refused:
                self._kept[name] = (until, OperationFailed(f"Azure Monitor refused {refused[resource]}"))
                continue
            figures = found.get(resource, {})
            for key, split in codes.get(resource, {}).items():
                figures[key] = split
            self._kept[name] = (until, figures)

    def _query(self, resources: list[str], names: Iterable[str], where: str) -> tuple[dict[str, Figures], dict[str, str]]:
        """One getBatch request: figures by resource (lower-cased), and the metrics it refused."""
        refused: dict[str, str] = {}

        def check(pipeline_response: Any, answer: Any, headers: Any) -> Any:
            for item in answer.get("values") or []:
                for metric in item.get("value") or []:
                    code = metric.get("errorCode")
                    if code and code != "Success":
                        name = (metric.get("name") or {}).get("value")
                        refused.setdefault(_resource_of(str(metric.get("id") or item.get("resourceid") or "")),
                                           f"{name} ({code}: {metric.get('errorMessage') or 'no message'})")
            return answer

        by_code = "statusCode" in where
        results = self._metrics_client().query_resources(
            resource_ids=resources, metric_namespace=NAMESPACE, metric_names=list(names), timespan=SPAN,
            granularity=timedelta(minutes=1), aggregations=[AGGREGATION], filter=where, max_results=MAX_SERIES,
            cls=check)
        found: dict[str, Figures] = {}
        for result in results:
            for metric in result.metrics:
                figures = found.setdefault(_resource_of(metric.id or ""), {})
                for series in metric.timeseries:
                    meta = {str(k).lower(): v for k, v in (series.metadata_values or {}).items()}
                    key = OUTCOME[_outcome(meta.get("statuscode"))] if by_code else metric.name
                    points = figures.setdefault(key, {}).setdefault(meta.get("deployment") or "", {})
                    for point in series.data:
                        if point.average is not None:
                            points[point.timestamp] = points.get(point.timestamp, 0.0) + float(point.average)
        return found, refused

    def of(self, endpoint: str, deployments: list[str], window_s: int | None, *,
           others: Iterable[str] = ()) -> list[DeploymentMetrics]:
        """Each deployment's figures over the newest `window_s` (None: one minute, the live figure)
        Azure Monitor has reported, and how long before now that window ended."""
        from console.domain import DeploymentMetrics

        found = self.figures(endpoint, others)
        now = self.wall()
        rpm = found.get("RequestsPerMinute", {})
        # The newest complete minute that saw requests: Azure Monitor may report the minutes it has
        # not ingested yet (or had no requests in) as 0, and the minute under way only in part.
        ended = now - timedelta(minutes=1)
        complete = [(t, n) for points in rpm.values() for t, n in points.items() if t <= ended]
        # Without a request in the span, the newest complete minute reported, however quiet.
        newest = max((t for t, n in complete if n > 0), default=None) or max((t for t, _ in complete), default=None)
        age_s = max(0.0, (now - newest - timedelta(minutes=1)).total_seconds()) if newest else 0.0
        minutes = max(1, round((window_s or 60) / 60))
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
                latency_series_ms=tuple(p50[t] for t in sorted(p50)), age_s=round(age_s, 1)))
        return out
