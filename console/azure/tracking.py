"""A job's MLflow metrics on Azure, through the REST API behind the workspace's MLflow tracking URI.

Azure ML runs an MLflow tracking server per region; the workspace's `mlflow_tracking_uri`
(`azureml://{region}.api.azureml.ms/mlflow/v1.0/subscriptions/.../workspaces/{ws}`) names it, and
a job's run id is the job's name. Its REST API is MLflow's own (`runs/get`, `metrics/get-history`),
so the console calls it directly with the workspace credential rather than installing the
azureml-mlflow plugin (and MLflow's client) into the console's process for two GETs: one for
the run's metric keys, one history per key. An ended job's metrics do not change: kept.
"""

from __future__ import annotations

import json
import threading
from typing import TYPE_CHECKING, Any

from console.errors import BackendUnavailable, NotFound

if TYPE_CHECKING:
    from console.azure.session import Session
    from console.domain import MetricSeries

SCOPE = "https://management.azure.com/.default"  # the token Azure ML's services accept
PAGE = 1000


class Tracking:
    def __init__(self, session: Session) -> None:
        self.session = session
        self._client: Any = None
        self._base: str | None = None
        self._ended: dict[str, list[MetricSeries]] = {}
        self._lock = threading.Lock()

    def closable(self) -> Any:
        """What close() releases: the client of our own, if one was built."""
        return self._client

    def _get(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        from azure.core.rest import HttpRequest

        with self._lock:
            if self._client is None:
                from azure.core import PipelineClient
                from azure.core.pipeline.policies import BearerTokenCredentialPolicy

                ws = self.session.client().workspaces.get(self.session.target.workspace_name)
                uri = str(ws.mlflow_tracking_uri or "")
                if not uri.startswith("azureml://"):
                    raise BackendUnavailable(f"the workspace reports no MLflow tracking URI ({uri or 'none'})")
                self._base = "https://" + uri.removeprefix("azureml://").rstrip("/")
                policies = [BearerTokenCredentialPolicy(self.session.credential(), SCOPE), *self.session.policies()]
                self._client = PipelineClient(self._base, policies=policies, **self.session.transport_kwargs())
        request = HttpRequest("GET", f"{self._base}/api/2.0/mlflow/{path}", params=params)
        reply = self._client.send_request(request)
        if reply.status_code == 404:
            raise NotFound("MLflow run", params.get("run_id", "?"))
        if reply.status_code >= 400:
            raise BackendUnavailable(f"the workspace's MLflow tracking server answered {reply.status_code}: "
                                     f"{reply.text()[:200]}")
        return json.loads(reply.text() or "{}")

    def metrics(self, job: str, run_id: str, ended: bool) -> list[MetricSeries]:
        from console.domain import MetricSeries

        if job in self._ended:
            return self._ended[job]
        try:
            run = self._get("runs/get", {"run_id": run_id}).get("run") or {}
        except NotFound:
            return []  # the run is created when the job starts
        keys = sorted({m["key"] for m in (run.get("data") or {}).get("metrics") or []})
        out = []
        for key in keys:
            points, token = [], None
            while True:
                params = {"run_id": run_id, "metric_key": key, "max_results": str(PAGE)}
                if token:
                    params["page_token"] = token
                page = self._get("metrics/get-history", params)
                points += page.get("metrics") or []
                token = page.get("next_page_token")
                if not token:
                    break
            points.sort(key=lambda p: (int(p.get("step") or 0), int(p.get("timestamp") or 0)))
            out.append(MetricSeries(job_name=job, key=key, steps=tuple(int(p.get("step") or 0) for p in points),
                                    values=tuple(float(p["value"]) for p in points)))
        if ended:
            self._ended[job] = out
        return out
