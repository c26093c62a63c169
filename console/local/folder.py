"""The layout of a local workspace folder, and its config file.

    state.db            SQLite (WAL): assets, computes, jobs, operations, audit
    mlflow/mlflow.db    MLflow tracking store and model registry
    mlflow/artifacts/   MLflow artifact root
    jobs/<name>/        a job's code snapshot, outputs and std_log.txt
    models/             model folders registered with --path
    collected/          data collected by endpoints
    logs/daemon.log     the daemon's own log
    daemon.sock/.pid/.lock
    config.json         optional: {"quotas": {"standardNCSv3Family": 24}, "read_only": false}

Everything is created owner-only: the folder holds scoring keys and the daemon's socket.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from console.config import ensure_private_dir
from console.errors import BadInput


@dataclass(frozen=True)
class WorkspaceFolder:
    root: Path

    def create(self) -> WorkspaceFolder:
        for path in (self.root, self.mlflow_dir, self.artifacts, self.jobs_dir, self.models_dir,
                     self.collected_dir, self.logs_dir):
            ensure_private_dir(path)
        return self

    @property
    def name(self) -> str:
        return self.root.name

    @property
    def db(self) -> Path:
        return self.root / "state.db"

    @property
    def mlflow_dir(self) -> Path:
        return self.root / "mlflow"

    @property
    def tracking_uri(self) -> str:
        return f"sqlite:///{self.mlflow_dir / 'mlflow.db'}"

    @property
    def artifacts(self) -> Path:
        return self.mlflow_dir / "artifacts"

    @property
    def jobs_dir(self) -> Path:
        return self.root / "jobs"

    @property
    def models_dir(self) -> Path:
        return self.root / "models"

    @property
    def collected_dir(self) -> Path:
        return self.root / "collected"

    @property
    def logs_dir(self) -> Path:
        return self.root / "logs"

    @property
    def socket(self) -> Path:
        return self.root / "daemon.sock"

    @property
    def pid_file(self) -> Path:
        return self.root / "daemon.pid"

    @property
    def lock_file(self) -> Path:
        return self.root / "daemon.lock"

    @property
    def config_file(self) -> Path:
        return self.root / "config.json"

    @property
    def config(self) -> dict[str, Any]:
        """The folder's config file, read anew each time: an edited quota applies at the next check."""
        path = self.config_file
        if not path.exists():
            return {}
        try:
            data = json.loads(path.read_text())
        except ValueError as exc:
            raise BadInput(f"{path}: invalid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise BadInput(f"{path}: expected a JSON object")
        return data
