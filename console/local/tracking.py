"""The local workspace's MLflow: one client over its tracking store and model registry (SQLite,
local artifact root), shared by jobs (runs), models (the registry) and endpoints (model
downloads). MLflow is imported on first use, never at daemon start.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from console.local.folder import WorkspaceFolder

log = logging.getLogger("amlops.tracking")


class Tracking:
    def __init__(self, folder: WorkspaceFolder) -> None:
        self.folder = folder
        self._client: Any = None
        self._lock = threading.Lock()

    def client(self) -> Any:
        """The MlflowClient of this workspace (it also sets MLflow's global URIs, which
        `models:/` downloads resolve through)."""
        with self._lock:
            if self._client is None:
                import mlflow
                from mlflow.tracking import MlflowClient

                uri = self.folder.tracking_uri
                # The registry too: left unset, MLflow takes it from MLFLOW_REGISTRY_URI or the global
                # tracking URI, which may name another workspace.
                mlflow.set_tracking_uri(uri)
                mlflow.set_registry_uri(uri)
                self._client = MlflowClient(tracking_uri=uri, registry_uri=uri)
            return self._client

    def experiment_id(self, name: str) -> str:
        client = self.client()
        found = client.get_experiment_by_name(name)
        if found is not None:
            return found.experiment_id
        return client.create_experiment(name, artifact_location=(self.folder.artifacts / name).as_uri())

    def open_run(self, experiment: str, run_name: str, tags: dict[str, str]) -> str:
        """A new run for a job to log into (the job gets its id as MLFLOW_RUN_ID)."""
        run = self.client().create_run(self.experiment_id(experiment), tags=tags, run_name=run_name)
        return run.info.run_id

    def close_run(self, run_id: str, status: str, log_file: Path | None = None) -> None:
        """Attach the job's log and end the run with the job's status, unless the job ended it."""
        try:
            client = self.client()
            if log_file is not None and log_file.exists():
                client.log_artifact(run_id, str(log_file), "user_logs")
            if client.get_run(run_id).info.status == "RUNNING":
                client.set_terminated(run_id, {"Completed": "FINISHED", "Canceled": "KILLED"}.get(status, "FAILED"))
        except Exception:  # MLflow bookkeeping must not undo the job's recorded outcome
            log.exception("closing MLflow run %s", run_id)

    def metric_histories(self, run_id: str) -> list[tuple[str, list[int], list[float]]]:
        """(key, steps, values) of every metric of the run, each in step order."""
        client = self.client()
        out = []
        for key in sorted(client.get_run(run_id).data.metrics):
            history = sorted(client.get_metric_history(run_id, key), key=lambda m: (m.step, m.timestamp))
            out.append((key, [m.step for m in history], [m.value for m in history]))
        return out
