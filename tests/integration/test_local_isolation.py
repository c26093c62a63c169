"""A workspace's daemon keeps its runs and registry to itself, whatever MLflow settings the
process that started it had (mlflow.set_tracking_uri/set_registry_uri export them as env vars)."""

from __future__ import annotations

import sqlite3

import pytest

from console.local.client import LocalWorkspace, stop_daemon

pytestmark = pytest.mark.integration


def test_registry_stays_in_the_workspace_whatever_the_environment_says(tmp_path, monkeypatch):
    import mlflow.sklearn
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    decoy = f"sqlite:///{tmp_path / 'decoy.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", decoy)
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", decoy)
    x = np.random.default_rng(0).normal(size=(40, 2))
    mlflow.sklearn.save_model(LogisticRegression().fit(x, x[:, 0] > 0), str(tmp_path / "model"),
                              serialization_format="cloudpickle")
    ws = LocalWorkspace(tmp_path / "ws")
    try:
        assert ws.models.register("tiny", path=str(tmp_path / "model")).version == "1"
        assert [m.version for m in ws.models.list("tiny")] == ["1"]
    finally:
        stop_daemon(ws.folder)
    with sqlite3.connect(tmp_path / "ws" / "mlflow" / "mlflow.db") as db:
        assert db.execute("SELECT name, version FROM model_versions").fetchall() == [("tiny", 1)]
    assert not (tmp_path / "decoy.db").exists()
