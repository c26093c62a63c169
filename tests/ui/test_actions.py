"""What the console's actions report is what happened (a stuck or failed operation is never
reported done), and each area of the workspace is read on its own cadence. Over the canned
workspace (tests/fakes/canned.py), whose writes follow Azure's rules in memory. Every action key,
and "no" as the default of its confirmation, is pressed over every backend in test_action_keys.py."""

from __future__ import annotations

import dataclasses
import time
from types import SimpleNamespace

import pytest

from canned_app import CannedApp, settle
from fakes.canned import CannedWorkspace

from console.domain import Operation
from console.errors import TrafficRuleError
from console.ui.actions import Actions


class StuckOperations:
    """Operations that never end, or end Failed: what a slow or broken backend gives back."""

    def __init__(self, ws: CannedWorkspace, status: str, error: str | None = None) -> None:
        self.ws, self.status, self.error = ws, status, error

    def get(self, id: str) -> Operation:
        return dataclasses.replace(self.ws.state.operations[id], status=self.status, error=self.error, ended_at=None)

    def wait(self, id: str, *, timeout_s: float | None = None) -> Operation:
        return self.get(id)


def actions_over(ws: CannedWorkspace) -> Actions:
    return Actions(SimpleNamespace(app=SimpleNamespace(ws=ws)))


def test_stop_reports_stopped_only_when_the_operation_succeeded():
    ws = CannedWorkspace()
    assert actions_over(ws)._stop(["dev-instance"]) == (True, "stopped dev-instance")
    stuck = CannedWorkspace()
    stuck.operations = StuckOperations(stuck, "InProgress")
    ok, message = actions_over(stuck)._stop(["dev-instance"])
    assert not ok and message == "dev-instance: still in progress when the wait ended"
    broken = CannedWorkspace()
    broken.operations = StuckOperations(broken, "Failed", "the VM did not deallocate")
    ok, message = actions_over(broken)._stop(["dev-instance", "notebook-ci"])
    assert not ok and "stopped" not in message and "dev-instance: Failed: the VM did not deallocate" in message


def test_traffic_waits_for_its_operation_and_reports_the_split_the_endpoint_has():
    ws = CannedWorkspace()
    read = dict(ws.endpoints.get("churn-ep").traffic.live)
    assert actions_over(ws)._set_traffic("churn-ep", {"blue": 50, "green": 50}, read) == (True, "churn-ep: blue=50 green=50")
    stuck = CannedWorkspace()
    stuck.operations = StuckOperations(stuck, "Failed", "conflict: another update is in progress")
    ok, message = actions_over(stuck)._set_traffic("churn-ep", {"blue": 50, "green": 50}, read)
    assert not ok and message == "churn-ep traffic: Failed: conflict: another update is in progress"


def test_sliders_moved_from_a_split_someone_else_changed_meanwhile_write_nothing():
    ws = CannedWorkspace()
    read = dict(ws.endpoints.get("churn-ep").traffic.live)  # the sliders open on this
    ws.endpoints.set_traffic("churn-ep", {"blue": 70, "green": 30})  # another operator, meanwhile
    audited = len(ws.audit.list())
    with pytest.raises(TrafficRuleError, match="changed since it was read: it is now blue=70 green=30"):
        actions_over(ws)._set_traffic("churn-ep", {"blue": 50, "green": 50}, read)
    assert dict(ws.endpoints.get("churn-ep").traffic.live) == {"blue": 70, "green": 30}
    assert len(ws.audit.list()) == audited
    with pytest.raises(TrafficRuleError, match="changed since it was read"):
        actions_over(ws)._rollback("churn-ep", read)


class CountingWorkspace(CannedWorkspace):
    """Counts the reads of each area."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = {"jobs": 0, "quotas": 0}
        jobs_list, usage = self.jobs.list, self.quotas.usage

        def counted_jobs(**kw):
            self.reads["jobs"] += 1
            return jobs_list(**kw)

        def counted_usage():
            self.reads["quotas"] += 1
            return usage()

        self.jobs.list, self.quotas.usage = counted_jobs, counted_usage


async def test_each_area_is_read_on_its_own_cadence():
    ws = CountingWorkspace()
    app = CannedApp(ws, refresh_s=0.05)  # jobs every 0.05 s; quotas every 0.75 s
    async with app.run_test(size=(120, 40)) as pilot:
        began = time.monotonic()
        await settle(pilot, lambda: ws.reads["jobs"] >= 8, "eight reads of the jobs")
        elapsed = time.monotonic() - began
        # Quotas: the first read, then one per 0.75 s at most, however long a loaded machine took
        # for the eight reads of the jobs (which are re-armed every 0.05 s).
        assert ws.reads["quotas"] <= 1 + elapsed / 0.75 + 1, (ws.reads, elapsed)
        assert ws.reads["jobs"] > 2 * ws.reads["quotas"], ws.reads
