"""What the local workspace bills and how it explains a full quota, on a real store in a
temporary folder (no processes): online deployments bill every instance around the clock, the
endpoint's JSON carries the per-deployment and total figures, and a quota refusal names the
config file by its full path and what holds the family's vCPUs."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from console import costs
from console.domain import Compute, Endpoint
from console.errors import QuotaExceeded
from console.local.daemon import Daemon
from console.local.folder import WorkspaceFolder

NOON = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)


class FixedClock:
    def __init__(self, now: datetime) -> None:
        self.at = now

    def now(self) -> datetime:
        return self.at


@pytest.fixture()
def daemon(tmp_path):
    d = Daemon(WorkspaceFolder(tmp_path / "ws"), FixedClock(NOON))
    d.store.insert("endpoints", {"name": "churn-ep", "auth_mode": "key", "provisioning_state": "Succeeded",
                                 "spec": {}, "created_at": NOON.isoformat()})
    for name, state in (("blue", "Succeeded"), ("green", "Failed")):
        d.store.insert("deployments", {"endpoint": "churn-ep", "name": name, "instance_type": "Standard_DS2_v2",
                                       "instance_count": 2, "provisioning_state": state, "spec": {},
                                       "created_at": NOON.isoformat()})
    d.store.insert("computes", {"name": "dev-instance", "type": "computeinstance", "size": "Standard_DS3_v2",
                                "state": "Running", "current_nodes": 1, "spec": {}, "created_at": NOON.isoformat()})
    yield d
    d.store.close()


def test_deployments_bill_every_instance_per_hour_and_accrue_today(daemon):
    daemon.endpoints.billing.accrue(NOON)
    daemon.clock.at = NOON + timedelta(minutes=30)
    daemon.endpoints.billing.accrue(daemon.clock.at)
    endpoint = Endpoint.from_dict(daemon.endpoints.get(None, "churn-ep"))
    blue, green = endpoint.deployments
    assert blue.cost_per_hour == pytest.approx(2 * 0.146)
    assert blue.cost_today == pytest.approx(2 * 0.146 / 2)  # two instances for half an hour
    assert green.cost_per_hour == 0.0 and green.cost_today == 0.0  # failed: no instances allocated
    assert endpoint.cost_per_hour == pytest.approx(2 * 0.146)


def test_the_endpoint_json_carries_per_deployment_and_total_costs(daemon):
    data = json.loads(json.dumps(Endpoint.from_dict(daemon.endpoints.get(None, "churn-ep")).to_dict()))
    assert [d["cost_per_hour"] for d in data["deployments"]] == [pytest.approx(0.292), 0.0]
    assert data["cost_per_hour"] == pytest.approx(0.292) and data["cost_today"] == 0.0
    assert Endpoint.from_dict(data).cost_per_hour == pytest.approx(0.292)  # the totals are derived, not stored


def test_a_new_day_starts_at_zero(daemon):
    daemon.endpoints.billing.accrue(NOON)
    daemon.endpoints.billing.accrue(NOON + timedelta(hours=1))
    daemon.clock.at = NOON + timedelta(days=1)
    assert Endpoint.from_dict(daemon.endpoints.get(None, "churn-ep")).deployments[0].cost_today == 0.0


def test_a_full_quota_names_the_config_file_and_what_holds_the_vcpus(daemon):
    # Held: dev-instance 4, blue ceil(1.2 x 2) x 2 = 6 (the failed green holds its reservation too: 6).
    with pytest.raises(QuotaExceeded) as err:
        daemon.compute.ledger.check_quota("Standard_DS4_v2", 1, reserve=1.2)
    message = str(err.value)
    assert f"in {daemon.folder.config_file}" in message and str(daemon.folder.root) in message
    assert "dev-instance holds 4 (amlops compute stop dev-instance)" in message
    assert "churn-ep/blue holds 6 (amlops deployment delete churn-ep blue)" in message
    assert err.value.used == 16 and err.value.limit == 24


def test_an_edited_config_applies_at_the_next_check(daemon):
    with pytest.raises(QuotaExceeded):
        daemon.compute.ledger.check_quota("Standard_NC6s_v3", 1)
    daemon.folder.config_file.write_text(json.dumps({"quotas": {"standardNCSv3Family": 12}}))
    assert daemon.compute.ledger.check_quota("Standard_NC6s_v3", 1) == 6
    assert costs.family_of("Standard_NC6s_v3") == "standardNCSv3Family"


def test_the_daemon_accrues_and_holds_quota_as_costs_bills_each_state(daemon):
    # dev-instance Running, and an instance in each other state plus a cluster mid-resize, straight
    # into the store: the daemon's bill and quota must follow the one rule in console.costs.
    states = ("JobRunning", "Starting", "Stopping", "Stopped", "Restarting", "SettingUp", "UserSettingUp",
              "Creating", "Unknown")
    for state in states:
        daemon.store.insert("computes", {"name": f"ci-{state.lower()}", "type": "computeinstance",
                                         "size": "Standard_DS3_v2", "state": state, "current_nodes": 0, "spec": {},
                                         "created_at": NOON.isoformat()})
    daemon.store.insert("computes", {"name": "cpu-cluster", "type": "amlcompute", "size": "Standard_DS3_v2",
                                     "state": "Resizing", "min_instances": 0, "max_instances": 4, "current_nodes": 2,
                                     "spec": {}, "created_at": NOON.isoformat()})
    daemon.compute._accrue(NOON, {})
    daemon.compute._accrue(NOON + timedelta(hours=1), {"cpu-cluster": 1})
    spent = {row["compute"]: row for row in daemon.compute.costs_today(None)}
    records = [Compute.from_dict(c) for c in daemon.compute.list(None)]
    for compute in records:
        hourly = costs.cost_per_hour(compute) or 0.0  # a state that does not say accrues nothing here
        assert spent.get(compute.name, {}).get("cost", 0.0) == pytest.approx(hourly), compute.name
    ds3 = costs.hourly_cost("Standard_DS3_v2")
    # Idle: the instance running with no job, and the cluster's node without one.
    assert {name: row["idle_cost"] for name, row in spent.items() if row["idle_cost"]} == {
        "dev-instance": pytest.approx(ds3), "cpu-cluster": pytest.approx(ds3)}
    held = {who: vcpus for _family, who, vcpus, _free in daemon.compute.ledger.holders() if "/" not in who}
    assert held == {c.name: 4 * costs.billed_nodes(c) for c in records if costs.billed_nodes(c)}
    assert {"ci-restarting", "ci-settingup", "ci-usersettingup", "cpu-cluster"} <= set(held)
