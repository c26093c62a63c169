"""Fixtures every test folder shares: one small real MLflow model for the whole session, and
a local workspace in a temporary folder whose processes are all killed at teardown, whatever the
test left running (the test itself proves what it stops; this only keeps the machine clean)."""

from __future__ import annotations

import os

# No test may reach an address off this machine: should anything build azure-identity's
# DefaultAzureCredential, its "dev" chain leaves out the managed-identity step (which probes
# 169.254.169.254). Tests inject a fake credential; this is the net under them.
os.environ["AZURE_TOKEN_CREDENTIALS"] = "dev"
import signal
from pathlib import Path

import pytest

from console.local.client import LocalWorkspace

from helpers import save_churn_model, workspace_processes


def kill_everything(root: Path) -> None:
    """Teardown for a failed test: nothing of the workspace may outlive it."""
    for pid, _ in workspace_processes(root):
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


@pytest.fixture(scope="session")
def churn_model(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("churn-model") / "model"
    save_churn_model(path)
    return path


@pytest.fixture()
def empty_workspace(tmp_path):
    workspace = LocalWorkspace(tmp_path / "ws")
    try:
        yield workspace
    finally:
        kill_everything(workspace.folder.root)


@pytest.fixture()
def workspace_with_model(empty_workspace, churn_model):
    """A fresh workspace with the churn model registered as churn-classifier:1."""
    empty_workspace.models.register("churn-classifier", path=str(churn_model))
    return empty_workspace


