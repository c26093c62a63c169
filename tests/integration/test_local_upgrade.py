"""A daemon started from other code than the CLI's (the user pulled a new version while it ran)
is restarted by the first call that runs the code on disk; jobs and endpoints outlive it and are
adopted. A client whose own code is older than the daemon's never restarts it."""

from __future__ import annotations

import pytest

from console.local.client import DaemonConnection, daemon_pid, start_daemon, stop_daemon
from console.local.folder import WorkspaceFolder

pytestmark = pytest.mark.integration


def test_a_daemon_of_other_code_is_restarted_by_a_current_client(tmp_path, monkeypatch):
    folder = WorkspaceFolder(tmp_path / "ws")
    monkeypatch.setenv("AMLOPS_CODE_STAMP", "yesterday")
    old = start_daemon(folder)
    monkeypatch.delenv("AMLOPS_CODE_STAMP")
    try:
        status = DaemonConnection(folder).call("daemon.status")
        assert status["pid"] != old, "the old daemon answered a client that runs newer code"
        assert daemon_pid(folder) == status["pid"]
    finally:
        stop_daemon(folder)


def test_a_client_older_than_the_daemon_leaves_it_running(tmp_path, monkeypatch):
    folder = WorkspaceFolder(tmp_path / "ws")
    daemon = start_daemon(folder)
    try:
        monkeypatch.setenv("AMLOPS_CODE_STAMP", "yesterday")
        stale_client = DaemonConnection(folder)  # started from code that has changed since
        monkeypatch.delenv("AMLOPS_CODE_STAMP")
        assert stale_client.call("daemon.status")["pid"] == daemon
        assert stale_client.code is None  # it stopped sending a stamp the daemon would refuse
    finally:
        stop_daemon(folder)
