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


def test_on_azure_it_says_where_the_ids_are_instead(azure):
    listed = amlops_in_process("--workspace", "demo", "operation", "list")
    assert listed.returncode == 1 and listed.stdout == ""
    assert "operations.list is not available on the azure workspace" in listed.stderr
    assert "amlops audit" in listed.stderr and "--no-wait write prints its operation id" in listed.stderr
