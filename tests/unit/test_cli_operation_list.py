"""`amlops operation list`: where the id of a long-running write is found again (README's tour
follows `--no-wait` with it). The local daemon's listing on a real store in a temporary folder (no
processes); on Azure, over the fake ARM, a plain refusal that names where the ids are instead."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from console.local.context import Clock
from console.local.daemon import Daemon
from console.local.folder import WorkspaceFolder
from console.local.rpc import Request

from helpers import amlops_in_process

from fakes.arm import FakeArm
from fakes.azure import offline, profile_over_the_fake  # noqa: F401 (fixture)

USER = Request("someone")


class SteppingClock(Clock):
    """A second later at every reading: each operation starts after the one before."""

    def __init__(self) -> None:
        super().__init__()
        self.at = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc).timestamp()

    def now(self) -> datetime:
        self.at += 1
        return datetime.fromtimestamp(self.at, timezone.utc)


def test_the_daemon_lists_operations_newest_first_within_the_limit(tmp_path):
    daemon = Daemon(WorkspaceFolder(tmp_path / "ws"), SteppingClock())
    try:
        made = [daemon.ctx.new_operation(kind, target) for kind, target in (
            ("endpoints.create", "churn-ep"), ("endpoints.create_deployment", "churn-ep/blue"),
            ("endpoints.set_traffic", "churn-ep"))]
        daemon.ctx.finish_operation(made[0]["id"])
        listed = daemon.dispatch(USER, "operations.list", {"limit": 2})
        assert [op["id"] for op in listed] == [made[2]["id"], made[1]["id"]]
        everything = daemon.dispatch(USER, "operations.list", {})
        assert [(op["kind"], op["status"]) for op in everything] == [
            ("endpoints.set_traffic", "InProgress"), ("endpoints.create_deployment", "InProgress"),
            ("endpoints.create", "Succeeded")]
    finally:
        daemon.store.close()


@pytest.fixture()
def azure(tmp_path, monkeypatch, offline):
    profile_over_the_fake(FakeArm(), tmp_path, monkeypatch)


def test_on_azure_it_lists_the_writes_this_machine_started(azure):
    empty = amlops_in_process("--workspace", "demo", "operation", "list")
    assert empty.returncode == 0 and empty.stdout == "" and "no operations yet" in empty.stderr
    moved = amlops_in_process("--workspace", "demo", "endpoint", "traffic", "churn-ep", "blue=100", "green=0")
    assert moved.returncode == 0, moved.stderr
    listed = amlops_in_process("--workspace", "demo", "operation", "list", "-q")
    assert listed.returncode == 0 and len(listed.stdout.split()) == 1, listed
    shown = amlops_in_process("--workspace", "demo", "operation", "show", listed.stdout.strip())
    assert shown.returncode == 0 and "Succeeded" in shown.stdout and "churn-ep" in shown.stdout
