"""What one refresh of the azure workspace's endpoints costs in ARM reads (console/azure/workspace.py,
AzureEndpoints): the listing every time, an endpoint's deployments only when the listing says it
changed, a write of ours touched it, something of it is mid-change, or the slow round comes to it;
and what the console shows stays right: traffic at once, a deployment someone else made within
the slow round, writes checked against deployments read afresh."""

from __future__ import annotations

import copy

import pytest

from console.azure.workspace import CADENCE, DEPLOYMENTS_EVERY_S

from fakes.arm import FakeArm, stamp
from fakes.azure import azure_workspace, offline, ws  # noqa: F401 (fixtures)
from helpers import REPO

LISTING = r"/onlineEndpoints$"
DEPLOYMENTS = r"/onlineEndpoints/([^/]+)/deployments$"
EVERY = CADENCE["endpoints"]


@pytest.fixture()
def fake(offline):
    fake = FakeArm()
    for i in range(1, 5):
        fake.copy_endpoint("churn-ep", f"churn-ep-{i}")
    return fake


class Clock:
    """The endpoints group's clock, moved by hand."""

    def __init__(self, ws):
        self.now = 1000.0
        ws.endpoints.clock = lambda: self.now


def deployments_read(fake: FakeArm, since: int = 0) -> list[str]:
    import re

    return [re.search(DEPLOYMENTS, c.path)[1] for c in fake.requests[since:]
            if c.method == "GET" and re.search(DEPLOYMENTS, c.path)]


def shown(ws) -> dict[str, dict[str, int]]:
    return {e.name: dict(e.traffic.live) for e in ws.endpoints.list()}


def test_a_second_listing_reads_no_deployments_of_endpoints_that_did_not_change(ws, fake):
    Clock(ws)
    first = ws.endpoints.list()
    assert sorted(deployments_read(fake)) == sorted(fake.endpoints)  # the first listing reads them all
    sent = len(fake.requests)
    again = ws.endpoints.list()
    assert [c.path for c in fake.requests[sent:]] == [fake.requests[0].path]  # the listing alone
    assert again == first


def test_traffic_someone_else_set_shows_at_once_and_reads_only_that_endpoints_deployments(ws, fake):
    Clock(ws)
    ws.endpoints.list()
    sent = len(fake.requests)
    props = fake.endpoints["churn-ep-2"]["properties"]
    props["traffic"] = {"blue": 50, "green": 50}  # as az ml online-endpoint update would leave it
    assert shown(ws)["churn-ep-2"] == {"blue": 50, "green": 50}
    assert deployments_read(fake, sent) == ["churn-ep-2"]
    props["mirrorTraffic"] = {"green": 10}
    props["traffic"] = {"blue": 100, "green": 0}
    sent = len(fake.requests)
    endpoint = next(e for e in ws.endpoints.list() if e.name == "churn-ep-2")
    assert dict(endpoint.traffic.mirror) == {"green": 10} and deployments_read(fake, sent) == ["churn-ep-2"]


def test_an_endpoint_modified_or_mid_change_has_its_deployments_read_again(ws, fake):
    Clock(ws)
    ws.endpoints.list()
    fake.endpoints["churn-ep-1"]["systemData"]["lastModifiedAt"] = stamp(fake.now.replace(hour=13))
    fake.deployment("churn-ep-3", "green")["properties"]["provisioningState"] = "Updating"
    fake.endpoints["churn-ep-3"]["properties"]["provisioningState"] = "Updating"
    sent = len(fake.requests)
    ws.endpoints.list()
    assert sorted(deployments_read(fake, sent)) == ["churn-ep-1", "churn-ep-3"]
    fake.endpoints["churn-ep-3"]["properties"]["provisioningState"] = "Succeeded"  # the deployment still scales
    for _ in range(2):  # read each listing while a deployment of it is mid-change
        sent = len(fake.requests)
        states = {d.name: d.provisioning_state for e in ws.endpoints.list() if e.name == "churn-ep-3"
                  for d in e.deployments}
        assert deployments_read(fake, sent) == ["churn-ep-3"] and states["green"] == "Updating"
    fake.deployment("churn-ep-3", "green")["properties"]["provisioningState"] = "Succeeded"
    ws.endpoints.list()  # reads it once more, Succeeded: then it is left alone
    sent = len(fake.requests)
    ws.endpoints.list()
    assert deployments_read(fake, sent) == []


def test_a_deployment_someone_else_created_shows_within_the_slow_round_and_every_refresh_stays_small(ws, fake):
    clock = Clock(ws)
    ws.endpoints.list()
    red = copy.deepcopy(fake.deployment("churn-ep-3", "green"))
    red["name"], red["id"] = "red", red["id"].rsplit("/", 1)[0] + "/red"
    fake.deployments["churn-ep-3"]["red"] = red  # no change to the endpoint: no traffic yet
    read_at = {name: clock.now for name in fake.endpoints}
    appeared = None
    while clock.now < 1000.0 + 2 * DEPLOYMENTS_EVERY_S:
        clock.now += EVERY
        sent = len(fake.requests)
        endpoints = {e.name: e for e in ws.endpoints.list()}
        read = deployments_read(fake, sent)
        assert len(read) <= 1  # 5 endpoints every 300 s, a refresh every 10 s: one now and then
        read_at.update((name, clock.now) for name in read)
        assert max(clock.now - t for t in read_at.values()) <= DEPLOYMENTS_EVERY_S  # nobody's older
        if appeared is None and "red" in {d.name for d in endpoints["churn-ep-3"].deployments}:
            appeared = clock.now - 1000.0
            assert endpoints["churn-ep-3"].traffic.live["red"] == 0
    assert EVERY < appeared <= DEPLOYMENTS_EVERY_S


def test_fifty_endpoints_cost_the_listing_and_a_few_deployment_reads_a_refresh(offline, tmp_path, monkeypatch):
    fake = FakeArm()
    for i in range(1, 50):
        fake.copy_endpoint("churn-ep", f"churn-ep-{i}")
    ws = azure_workspace(fake, tmp_path, monkeypatch)
    clock = Clock(ws)
    ws.endpoints.list()
    sent, reads = len(fake.requests), []
    for _ in range(int(600 / EVERY)):  # ten minutes
        clock.now += EVERY
        before = len(fake.requests)
        ws.endpoints.list()
        reads.append(len(deployments_read(fake, before)))
    arm = [c for c in fake.requests[sent:] if c.host == "management.azure.com"]
    assert max(reads) <= 3 and sum(reads) == pytest.approx(50 * 600 / DEPLOYMENTS_EVERY_S, abs=2)
    # ARM a minute: 6 listings and 50 endpoints' deployments every 5 minutes (before: 6 x 51, and 600 for metrics)
    assert len(arm) / 10 == pytest.approx(60 / EVERY + 50 * 60 / DEPLOYMENTS_EVERY_S, abs=1)


def test_a_write_of_ours_has_the_next_listing_read_that_endpoints_deployments(ws, fake):
    del fake.deployments["churn-ep"]["green"]
    fake.endpoints["churn-ep"]["properties"]["traffic"] = {"blue": 100}
    Clock(ws)
    assert [d.name for d in next(e for e in ws.endpoints.list() if e.name == "churn-ep").deployments] == ["blue"]
    op = ws.endpoints.create_deployment(str(REPO / "specs" / "endpoints" / "green-deployment.yml"))
    assert ws.operations.wait(op.id, timeout_s=10).status == "Succeeded"
    sent = len(fake.requests)
    churn = next(e for e in ws.endpoints.list() if e.name == "churn-ep")
    assert {d.name: d.provisioning_state for d in churn.deployments} == {"blue": "Succeeded", "green": "Succeeded"}
    assert dict(churn.traffic.live) == {"blue": 100, "green": 0} and deployments_read(fake, sent) == ["churn-ep"]


def test_a_traffic_change_is_checked_against_deployments_read_afresh(ws, fake):
    Clock(ws)
    ws.endpoints.list()
    red = copy.deepcopy(fake.deployment("churn-ep", "green"))
    red["name"], red["id"] = "red", red["id"].rsplit("/", 1)[0] + "/red"
    fake.deployments["churn-ep"]["red"] = red  # not listed yet: the last read had no red
    op = ws.endpoints.set_traffic("churn-ep", {"blue": 90, "red": 10})
    assert ws.operations.wait(op.id, timeout_s=10).status == "Succeeded"
    assert fake.traffic("churn-ep") == {"blue": 90, "red": 10}
    assert ws.endpoints.get("churn-ep").traffic.live == {"blue": 90, "green": 0, "red": 10}


def test_an_endpoint_deleted_elsewhere_leaves_the_listing_and_what_is_kept_of_it(ws, fake):
    Clock(ws)
    ws.endpoints.list()
    del fake.endpoints["churn-ep-4"], fake.deployments["churn-ep-4"]
    assert "churn-ep-4" not in shown(ws) and "churn-ep-4" not in ws.deployments_seen
