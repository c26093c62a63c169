"""The azure workspace over the fake ARM, the real azure-ai-ml in between: every read gives the
project's records, writes run as Operations that end when Azure says so (a traffic split when
Azure reports it, not when the PUT returns), read-only refuses before any request, every write
is audited, and Azure's errors (401, 403, 404, 429, a failed operation, a page with an entry the
SDK cannot parse) are typed errors with what to do, never a traceback."""

from __future__ import annotations

import pytest

from console.errors import BackendUnavailable, BadInput, NotFound, NotSupported, ReadOnlyError, TrafficRuleError

from console.workspace import CAPABILITIES

from fakes.arm import FakeArm
from fakes.azure import azure_workspace, fake, offline, ws  # noqa: F401 (fixtures)


pytestmark = pytest.mark.usefixtures("offline")


def test_reads_give_the_records_the_panes_show(ws, fake):
    jobs = ws.jobs.list()
    assert jobs[0].status == "Running" and jobs == sorted(jobs, key=lambda j: j.created_at, reverse=True)
    assert {c.name: (c.type, c.state) for c in ws.compute.list()} == {
        "cpu-cluster": ("amlcompute", "Steady"), "gpu-cluster": ("amlcompute", "Steady"),
        "dev-instance": ("computeinstance", "Running"), "notebook-ci": ("computeinstance", "Stopped")}
    assert ws.compute.get("cpu-cluster").current_nodes == 1  # read from the REST object (rest.py)
    dsv2 = next(q for q in ws.quotas.usage() if q.family == "standardDSv2Family")  # the catalog's spelling
    assert (dsv2.used, dsv2.limit) == (22, 24)  # the Usage example's 2 and ws-demo's 20
    assert any(q.limit == 0 for q in ws.quotas.usage())
    endpoint = ws.endpoints.get("churn-ep")
    assert dict(endpoint.traffic.live) == {"blue": 100, "green": 0}
    blue = endpoint.deployments[0]
    assert (blue.name, blue.instance_type, blue.instance_count, blue.model) == (
        "blue", "Standard_DS2_v2", 2, "churn-classifier:1")
    assert blue.cost_per_hour == pytest.approx(2 * 0.146) and blue.cost_today is None  # no Cost Management
    assert [m.version for m in ws.models.list("churn-classifier")] == ["2", "1"]
    (monitor,) = ws.monitors.list()
    assert (monitor.name, monitor.endpoint_name, monitor.deployment) == ("churn-drift", "churn-ep", "blue")
    # Its newest run: the last job the schedule created (Azure's Spark run), with its status.
    assert monitor.last_run_status == "Failed" and (fake.now - monitor.last_run_at).total_seconds() == 8.75 * 3600
    assert fake.calls("GET", r"/jobs$")[-1].query["scheduleId"] == "churn-drift"
    assert "Standard_DS3_v2" in {s.name for s in ws.compute.sizes()}


def test_the_first_call_reads_the_location_once(ws, fake):
    ws.quotas.usage()
    ws.compute.sizes()
    ws.quotas.usage()
    assert len([c for c in fake.requests if c.path.endswith(f"/workspaces/{fake.WORKSPACE}")]) == 1


def test_a_page_with_an_unparsable_job_is_skipped_and_counted(tmp_path, monkeypatch):
    fake = FakeArm(unparsable_job=True)
    ws = azure_workspace(fake, tmp_path, monkeypatch)
    names = {j.name for j in ws.jobs.list()}
    assert ws.jobs.skipped == 1 and len(names) == 7  # five training jobs, two runs of the monitor


def test_jobs_are_read_a_page_at_a_time(tmp_path, monkeypatch):
    fake = FakeArm(jobs_page_size=2)
    ws = azure_workspace(fake, tmp_path, monkeypatch)
    assert len(ws.jobs.list(limit=2)) == 2
    assert len(fake.calls("GET", r"/jobs$")) == 1  # the next page is never asked for


def test_stop_is_an_operation_that_ends_when_azure_says_so(ws, fake):
    op = ws.compute.stop("dev-instance")
    assert op.kind == "compute.stop" and op.target == "dev-instance"
    done = ws.operations.wait(op.id, timeout_s=10)
    assert done.status == "Succeeded" and fake.compute_state("dev-instance") == "Stopped"
    assert ws.compute.get("dev-instance").state == "Stopped"
    with pytest.raises(BadInput):
        ws.compute.stop("cpu-cluster")  # a cluster scales with its jobs
    assert [(e.operation, e.result) for e in ws.audit.list()][:2] == [("compute.stop", "Succeeded"),
                                                                       ("compute.stop", "InProgress")]


def test_a_failed_operation_says_so(ws, fake):
    fake.fail_next_operation("VmStopFailed", "the VM did not deallocate")
    done = ws.operations.wait(ws.compute.stop("dev-instance").id, timeout_s=10)
    assert done.status == "Failed" and "did not deallocate" in done.error
    assert ws.audit.list()[0].result == "Failed"


def test_traffic_ends_only_once_azure_reports_the_new_split(tmp_path, monkeypatch):
    fake = FakeArm(settle_after=3)
    ws = azure_workspace(fake, tmp_path, monkeypatch)
    op = ws.endpoints.set_traffic("churn-ep", {"blue": 90, "green": 10})
    done = ws.operations.wait(op.id, timeout_s=10)
    assert done.status == "Succeeded"
    assert dict(ws.endpoints.get("churn-ep").traffic.live) == {"blue": 90, "green": 10}
    put = fake.calls("PUT", r"/onlineEndpoints/churn-ep$")[-1]
    assert put.body["properties"]["traffic"] == {"blue": 90, "green": 10}  # a full PUT of the endpoint
    ws.operations.wait(ws.endpoints.set_traffic("churn-ep", {"blue": 0, "green": 100}).id, timeout_s=10)
    ws.operations.wait(ws.endpoints.rollback("churn-ep").id, timeout_s=10)  # blue held 100 % before
    assert dict(ws.endpoints.get("churn-ep").traffic.live) == {"blue": 100, "green": 0}


def test_traffic_rules_refuse_before_any_write(ws, fake):
    for bad in ({"blue": 90}, {"blue": 50, "red": 50}):
        with pytest.raises(TrafficRuleError):
            ws.endpoints.set_traffic("churn-ep", bad)
    with pytest.raises(TrafficRuleError):
        ws.endpoints.set_mirror("churn-ep", {"blue": 10})  # blue takes live traffic
    with pytest.raises(TrafficRuleError):
        ws.endpoints.delete_deployment("churn-ep", "blue")
    assert fake.calls("PUT") == [] and fake.calls("DELETE") == []


def test_read_only_refuses_before_any_request(fake, tmp_path, monkeypatch):
    ws = azure_workspace(fake, tmp_path, monkeypatch, read_only=True)
    for write in (lambda: ws.compute.stop("dev-instance"), lambda: ws.endpoints.set_traffic("churn-ep", {"green": 100}),
                  lambda: ws.endpoints.rollback("churn-ep"), lambda: ws.jobs.cancel("calm_river_7hk2m9x4pq")):
        with pytest.raises(ReadOnlyError):
            write()
    assert fake.requests == []


def test_what_azure_does_not_report_is_not_supported_and_not_a_capability(ws):
    assert ws.capabilities == CAPABILITIES - {"compute.costs"}  # Azure keeps costs in Cost Management
    with pytest.raises(NotSupported):
        ws.compute.costs_today()


@pytest.mark.parametrize("status, says", [
    (401, "not authorised on ws-demo"), (403, "role needed: Reader"), (429, "throttled"),
])
def test_azure_errors_are_typed_and_say_what_to_do(ws, fake, status, says):
    fake.fail("GET", r"/computes$", status, headers={"Retry-After": "2"} if status == 429 else None, times=10)
    with pytest.raises(BackendUnavailable) as err:
        ws.compute.list()
    assert says in err.value.message


def test_a_writes_429_is_retried_as_retry_after_says(ws, fake):
    fake.fail("POST", r"/computes/dev-instance/stop$", 429, headers={"Retry-After": "2"}, times=1)
    op = ws.operations.wait(ws.compute.stop("dev-instance").id, timeout_s=10)
    assert op.status == "Succeeded"  # azure-core retried after the wait Retry-After named
    assert len(fake.calls("POST", r"/computes/dev-instance/stop$")) == 2
    assert 2 in ws.session._transport.slept


def test_not_found_names_the_resource(ws):
    with pytest.raises(NotFound, match="endpoint 'nope' not found"):
        ws.endpoints.get("nope")


def test_every_request_is_counted_by_area(ws, fake):
    ws.jobs.list()
    ws.endpoints.list()
    counter = ws.session.counter
    assert counter.total == len(fake.requests)
    assert counter.by_area["jobs"] >= 1 and counter.by_area["endpoints"] >= 2


def test_close_releases_only_what_the_workspace_built_itself(fake, tmp_path, monkeypatch):
    from console.azure.target import AzureTarget
    from console.azure.workspace import AzureWorkspace

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    own = AzureWorkspace(AzureTarget(fake.SUBSCRIPTION, fake.RESOURCE_GROUP, fake.WORKSPACE, source="test"))
    closed = []

    class Client:
        def close(self):
            closed.append(self)

    own.session._scoring, own.tracking._client = Client(), Client()
    own.close()
    assert len(closed) == 2
    shared = azure_workspace(fake, tmp_path, monkeypatch)
    shared.session._scoring = Client()
    shared.close()  # an injected transport belongs to the caller
    assert len(closed) == 2
