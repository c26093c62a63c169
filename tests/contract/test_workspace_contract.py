"""What every backend of the Workspace protocol does, checked the same way on each (the
`workspace` fixture in conftest.py): reads give the domain records, unknown names are NotFound,
Azure's traffic rules refuse bad splits and change nothing, writes return an Operation that ends
and is audited, read-only refuses before anything changes, and a call outside the declared
capabilities is NotSupported."""

from __future__ import annotations

import json

import pytest

from console.domain import (
    AssetVersion,
    AuditEntry,
    Compute,
    Deployment,
    DeploymentMetrics,
    Endpoint,
    Job,
    MetricSeries,
    ModelVersion,
    Monitor,
    Operation,
    QuotaUsage,
)
from console.errors import BadInput, NotFound, NotSupported, ReadOnlyError, TrafficRuleError
from console.workspace import CAPABILITIES, Workspace

from helpers import FAST_PROBES, REPO, wait_until

ENDPOINT = "churn-ep"
ONE_INSTANCE = {**FAST_PROBES, "instance_count": 1}
ROWS = (REPO / "tests" / "fixtures" / "churn-request.json").read_text()  # two rows of specs/data's churn.csv


def finished(ws: Workspace, op: Operation) -> Operation:
    assert isinstance(op, Operation) and op.id
    done = ws.operations.wait(op.id, timeout_s=60)
    assert done.status == "Succeeded", done.error
    return done


def live(ws: Workspace) -> dict[str, int]:
    return dict(ws.endpoints.get(ENDPOINT).traffic.live)


@pytest.fixture()
def blue_at_100(workspace):
    """Every traffic test starts from blue at 100 %, mirroring off, and leaves it so."""
    finished(workspace, workspace.endpoints.set_mirror(ENDPOINT, {}))
    finished(workspace, workspace.endpoints.set_traffic(ENDPOINT, {"blue": 100}))
    yield workspace
    finished(workspace, workspace.endpoints.set_mirror(ENDPOINT, {}))
    finished(workspace, workspace.endpoints.set_traffic(ENDPOINT, {"blue": 100}))


# --- reads ---------------------------------------------------------------------------------------


def test_it_is_a_workspace_and_declares_known_capabilities(workspace):
    assert isinstance(workspace, Workspace)
    assert workspace.capabilities <= CAPABILITIES
    assert {"jobs", "compute", "quotas", "endpoints", "monitors"} <= workspace.capabilities
    assert workspace.name and workspace.backend in ("local", "azure") and workspace.location


def test_reads_give_the_domain_records(workspace):
    ws = workspace
    # Every backend's starting point has some of each (the audit log is checked after a write,
    # in test_every_write_is_audited: a fresh workspace has none).
    for items, kind in ((ws.jobs.list(), Job), (ws.compute.list(), Compute), (ws.quotas.usage(), QuotaUsage),
                        (ws.endpoints.list(), Endpoint), (ws.monitors.list(), Monitor),
                        (ws.models.list(), ModelVersion), (ws.assets.list("data"), AssetVersion)):
        assert items, f"no {kind.__name__} to check"
        assert all(isinstance(item, kind) for item in items), kind
    endpoint = ws.endpoints.get(ENDPOINT)
    assert {d.name for d in endpoint.deployments} >= {"blue", "green"}
    assert all(isinstance(d, Deployment) for d in endpoint.deployments)
    assert set(endpoint.traffic.live) == {d.name for d in endpoint.deployments}  # 0 % shows too
    assert endpoint.traffic.total in (0, 100)


def test_get_round_trips_what_list_gives_and_unknown_names_are_not_found(workspace):
    ws = workspace
    job, compute = ws.jobs.list()[0], ws.compute.list()[0]
    assert ws.jobs.get(job.name).name == job.name and ws.compute.get(compute.name).name == compute.name
    for call in (lambda: ws.jobs.get("no_such_job"), lambda: ws.compute.get("no-such-compute"),
                 lambda: ws.endpoints.get("no-such-endpoint"), lambda: ws.operations.get("no-such-operation")):
        with pytest.raises(NotFound):
            call()
    for capability, call in (("monitors.reports", lambda: ws.monitors.latest("no-such-monitor")),
                             ("jobs.metrics", lambda: ws.jobs.metrics("no_such_job"))):
        with pytest.raises(NotFound if capability in ws.capabilities else NotSupported):
            call()


def test_quotas_are_vcpus_per_family_and_gpu_families_start_at_zero(workspace):
    usage = workspace.quotas.usage()
    assert usage
    assert all(q.used >= 0 and (q.limit is None or q.limit >= 0) for q in usage)  # None: no limit (Azure's -1)
    assert {q.kind for q in usage} <= set(QuotaUsage.KINDS) and any(q.kind == QuotaUsage.DEDICATED for q in usage)
    assert any(q.limit == 0 for q in usage), "a new subscription's GPU families have no quota"


def test_jobs_have_logs_and_metrics_where_the_backend_reads_them(workspace):
    # A completed job that printed and logged an MLflow metric on every backend (the local one's
    # is the contract job, QUICK_JOB in conftest.py).
    job = next(j for j in workspace.jobs.list() if j.status == "Completed")
    if "jobs.logs" in workspace.capabilities:
        lines = list(workspace.jobs.logs(job.name))
        assert lines and all(isinstance(line, str) for line in lines), lines
    else:
        with pytest.raises(NotSupported):
            list(workspace.jobs.logs(job.name))
    if "jobs.metrics" in workspace.capabilities:
        series = workspace.jobs.metrics(job.name)
        assert series and all(isinstance(s, MetricSeries) and s.values for s in series), series
    else:
        with pytest.raises(NotSupported):
            workspace.jobs.metrics(job.name)


def test_endpoint_figures_and_costs(workspace):
    endpoint = workspace.endpoints.get(ENDPOINT)
    if "endpoints.metrics" in workspace.capabilities:
        figures = workspace.endpoints.metrics(ENDPOINT, window_s=60)
        assert figures, "no deployment's figures"
        assert all(isinstance(m, DeploymentMetrics) and m.deployment in endpoint.traffic.live for m in figures)
    else:
        with pytest.raises(NotSupported):
            workspace.endpoints.metrics(ENDPOINT, window_s=60)
    hourly = [d.cost_per_hour for d in endpoint.deployments if d.cost_per_hour is not None]
    assert hourly and all(c > 0 for c in hourly), "every allocated instance bills"
    assert endpoint.cost_per_hour == pytest.approx(sum(hourly))
    assert endpoint.to_dict()["cost_per_hour"] == pytest.approx(sum(hourly))


def test_monitors_watch_an_endpoint(workspace):
    monitor = workspace.monitors.list()[0]
    assert monitor.name in {m.name for m in workspace.monitors.for_endpoint(monitor.endpoint_name)}
    assert workspace.monitors.for_endpoint("no-such-endpoint") == []


# --- traffic ---------------------------------------------------------------------------------


def test_bad_splits_are_refused_and_change_nothing(blue_at_100):
    ws = blue_at_100
    before = ws.endpoints.get(ENDPOINT).traffic
    for bad in ({"blue": 90}, {"blue": 50, "nope": 50}, {"blue": 101, "green": -1}, {"blue": "ninety"}):
        with pytest.raises(TrafficRuleError):
            ws.endpoints.set_traffic(ENDPOINT, bad)
    for bad in ({"blue": 10}, {"green": 60}, {"green": 10, "blue": 10}):
        with pytest.raises(TrafficRuleError):
            ws.endpoints.set_mirror(ENDPOINT, bad)
    with pytest.raises(TrafficRuleError):
        ws.endpoints.delete_deployment(ENDPOINT, "blue")  # it has live traffic
    assert ws.endpoints.get(ENDPOINT).traffic == before


def test_a_ramp_is_reported_and_rollback_is_one_update_back_to_blue(blue_at_100):
    ws = blue_at_100
    finished(ws, ws.endpoints.set_mirror(ENDPOINT, {"green": 10}))
    assert dict(ws.endpoints.get(ENDPOINT).traffic.mirror) == {"green": 10}
    with pytest.raises(TrafficRuleError):  # a mirrored deployment takes no live traffic
        ws.endpoints.set_traffic(ENDPOINT, {"blue": 90, "green": 10})
    finished(ws, ws.endpoints.set_mirror(ENDPOINT, {}))
    for split in ({"blue": 90, "green": 10}, {"blue": 50, "green": 50}, {"blue": 0, "green": 100}):
        finished(ws, ws.endpoints.set_traffic(ENDPOINT, split))
        assert live(ws) == split
    finished(ws, ws.endpoints.rollback(ENDPOINT))
    assert live(ws) == {"blue": 100, "green": 0}
    assert not dict(ws.endpoints.get(ENDPOINT).traffic.mirror)


def test_a_write_from_a_stale_read_is_refused_and_changes_nothing(blue_at_100):
    """Two operators read blue 100; the first moves it; the second's write, made from its stale
    read, is refused and names the split as it is (rollout.check_unchanged, on every backend)."""
    ws = blue_at_100
    read = live(ws)
    finished(ws, ws.endpoints.set_traffic(ENDPOINT, {"blue": 90, "green": 10}, expected=read))
    mark = len(ws.audit.list())
    for write in (lambda: ws.endpoints.set_traffic(ENDPOINT, {"blue": 50, "green": 50}, expected=read),
                  lambda: ws.endpoints.set_mirror(ENDPOINT, {}, expected=read),
                  lambda: ws.endpoints.rollback(ENDPOINT, expected=read)):
        with pytest.raises(TrafficRuleError, match="changed since it was read: it is now blue=90 green=10"):
            write()
    assert live(ws) == {"blue": 90, "green": 10}
    assert [e.result for e in ws.audit.list()[: len(ws.audit.list()) - mark]] in ([], ["Rejected"] * 3)


def test_every_write_is_audited(blue_at_100):
    ws = blue_at_100
    finished(ws, ws.endpoints.set_traffic(ENDPOINT, {"blue": 90, "green": 10}))
    entries = ws.audit.list(limit=5)
    assert entries and all(isinstance(e, AuditEntry) for e in entries), entries
    entry = entries[0]
    assert (entry.operation, entry.target) == ("endpoints.set_traffic", ENDPOINT)
    assert entry.before["traffic"]["blue"] == 100 and entry.after["traffic"] == {"blue": 90, "green": 10}


# --- compute -------------------------------------------------------------------------------------


def test_a_cluster_cannot_be_stopped_and_an_instance_stops_and_starts(workspace):
    ws = workspace
    cluster = next(c for c in ws.compute.list() if not c.is_instance)
    with pytest.raises(BadInput):
        ws.compute.stop(cluster.name)
    instance = next(c for c in ws.compute.list() if c.is_instance and c.state == "Running")
    finished(ws, ws.compute.stop(instance.name))
    wait_until(lambda: ws.compute.get(instance.name).state == "Stopped", 10, "the instance to stop")
    assert ws.compute.get(instance.name).last_operation.trigger == "User"
    finished(ws, ws.compute.start(instance.name))
    wait_until(lambda: ws.compute.get(instance.name).state == "Running", 10, "the instance to start")


# --- deploying and scoring ------------------------------------------------------------------------


def test_a_new_deployment_starts_at_zero_and_can_be_deleted(blue_at_100):
    ws = blue_at_100
    if "assets.create" not in ws.capabilities:
        pytest.skip(f"the {ws.backend} workspace does not create deployments")
    spec = str(REPO / "specs" / "endpoints" / "green-deployment.yml")
    finished(ws, ws.endpoints.create_deployment(spec, {**ONE_INSTANCE, "name": "canary"}))
    endpoint = ws.endpoints.get(ENDPOINT)
    canary = next(d for d in endpoint.deployments if d.name == "canary")
    assert canary.provisioning_state == "Succeeded" and canary.ready_instances == canary.instance_count == 1
    assert dict(endpoint.traffic.live).get("canary", 0) == 0 and live(ws)["blue"] == 100
    assert ws.audit.list()[0].operation == "endpoints.create_deployment"
    finished(ws, ws.endpoints.delete_deployment(ENDPOINT, "canary"))
    assert "canary" not in {d.name for d in ws.endpoints.get(ENDPOINT).deployments}


def test_a_deployment_of_a_model_that_does_not_exist_creates_nothing(workspace):
    if "assets.create" not in workspace.capabilities:
        pytest.skip(f"the {workspace.backend} workspace does not create deployments")
    before = [d.name for d in workspace.endpoints.get(ENDPOINT).deployments]
    with pytest.raises(NotFound):
        workspace.endpoints.create_deployment(str(REPO / "specs" / "endpoints" / "green-deployment.yml"),
                                              {"name": "ghost", "model": "azureml:no-such-model:9"})
    assert [d.name for d in workspace.endpoints.get(ENDPOINT).deployments] == before


def test_scoring_follows_the_split_and_a_pinned_call_pins_only_itself(blue_at_100):
    ws = blue_at_100
    if "endpoints.invoke" not in ws.capabilities:
        pytest.skip(f"the {ws.backend} workspace has no scoring")
    pinned = ws.endpoints.invoke(ENDPOINT, ROWS, deployment="green")
    assert (pinned.status_code, pinned.deployment) == (200, "green"), pinned.body
    after = ws.endpoints.invoke(ENDPOINT, ROWS)  # azure-ai-ml's own invoke would still pin green here
    assert (after.status_code, after.deployment) == (200, "blue"), after.body
    assert len(json.loads(after.body)) == 2


# --- safety --------------------------------------------------------------------------------------


def test_read_only_refuses_every_write_before_anything_changes(workspace, read_only_twin):
    ws, ro = workspace, read_only_twin
    before = (ws.endpoints.get(ENDPOINT).traffic, [c.state for c in ws.compute.list()], len(ws.audit.list()))
    instance = next(c for c in ws.compute.list() if c.is_instance)
    for write in (lambda: ro.endpoints.set_traffic(ENDPOINT, {"green": 100}), lambda: ro.endpoints.rollback(ENDPOINT),
                  lambda: ro.endpoints.delete(ENDPOINT), lambda: ro.compute.stop(instance.name),
                  lambda: ro.jobs.cancel(ws.jobs.list()[0].name), lambda: ro.monitors.run(ws.monitors.list()[0].name)):
        with pytest.raises(ReadOnlyError):
            write()
    assert (ws.endpoints.get(ENDPOINT).traffic, [c.state for c in ws.compute.list()], len(ws.audit.list())) == before


# A call for each capability a backend may leave out.
OPTIONAL_CALLS = {
    "jobs.submit": lambda ws: ws.jobs.submit("train-job.yml"),
    "assets.create": lambda ws: ws.assets.create("compute.yml"),
    "models.register": lambda ws: ws.models.register("churn-classifier", path="model"),
    "endpoints.invoke": lambda ws: ws.endpoints.invoke(ENDPOINT, b"{}"),
}


def test_a_call_outside_the_capabilities_is_not_supported(workspace):
    missing = [c for c in OPTIONAL_CALLS if c not in workspace.capabilities]
    if not missing:
        pytest.skip(f"the {workspace.backend} workspace declares every optional capability")
    for capability in missing:
        with pytest.raises(NotSupported) as err:
            OPTIONAL_CALLS[capability](workspace)
        assert err.value.capability == capability
