"""The fake ARM (tests/fakes/arm.py) under the real azure-ai-ml: every route it answers parses into the
SDK's entities, its long-running operations complete through the SDK's pollers, traffic updates settle
as Azure's do, and injected failures surface as the SDK's errors. Nothing here reaches the network."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest

from fakes.arm import FakeArm
from fakes.azure import offline  # noqa: F401 (fixture)

ENDPOINT_METRICS = "/onlineEndpoints/churn-ep/providers/Microsoft.Insights/metrics"


@pytest.fixture(scope="module")
def aml():
    """azure.ai.ml, imported once for the module (about 2 s) with its stderr handlers silenced."""
    from console.specs import import_azure_ml

    import_azure_ml()
    from azure.ai.ml import MLClient
    from azure.ai.ml.constants._common import LROConfigurations
    from azure.core import exceptions
    from azure.core.credentials import AccessToken
    from azure.core.pipeline.transport import RequestsTransport

    class FakeCredential:
        def get_token(self, *scopes, **kwargs):
            return AccessToken("fake", int(time.time()) + 3600)

    class RecordingTransport(RequestsTransport):
        """Records the waits azure-core's retry policy asks for instead of sleeping through them."""
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.slept: list[float] = []

        def sleep(self, duration):
            self.slept.append(duration)

    def client(fake: FakeArm, **kwargs):
        transport = kwargs.pop("transport", None) or RecordingTransport(session=fake.session())
        return MLClient(FakeCredential(), fake.SUBSCRIPTION, fake.RESOURCE_GROUP, fake.WORKSPACE,
                        transport=transport, polling_interval=0, **kwargs)

    return SimpleNamespace(client=client, errors=exceptions, RecordingTransport=RecordingTransport,
                           LROConfigurations=LROConfigurations)


@pytest.fixture(autouse=True)
def no_network(offline):
    """Any socket connection fails the test; the SDK's cloud-metadata download stays off."""


@pytest.fixture()
def fake():
    return FakeArm()


@pytest.fixture()
def ml(aml, fake):
    return aml.client(fake, retry_total=0)


def polls(fake: FakeArm) -> list[str]:
    return [c.path.rsplit("/", 2)[-2] for c in fake.requests if "Operation" in c.path]


# --- workspace, compute, quota ----------------------------------------------------------------------

def test_the_workspace_answers_with_its_location(ml, fake):
    ws = ml.workspaces.get(fake.WORKSPACE)
    assert (ws.name, ws.location) == ("ws-demo", "eastus")
    assert fake.unhandled == []


def test_compute_list_and_get_parse_into_the_sdk_entities(ml, fake):
    computes = {c.name: c for c in ml.compute.list()}
    assert {n: type(c).__name__ for n, c in computes.items()} == {
        "cpu-cluster": "AmlCompute", "gpu-cluster": "AmlCompute",
        "dev-instance": "ComputeInstance", "notebook-ci": "ComputeInstance"}
    cluster = ml.compute.get("cpu-cluster")
    assert (cluster.size, cluster.min_instances, cluster.max_instances, cluster.idle_time_before_scale_down,
            cluster.tier) == ("Standard_DS3_v2", 0, 4, 120.0, "dedicated")
    dev = ml.compute.get("dev-instance")
    assert (dev.size, dev.state, dev.idle_time_before_shutdown_minutes) == ("Standard_DS3_v2", "Running", 30)
    assert dev.last_operation == {"operationName": "Start", "operationTime": "2026-03-01T08:48:00.000Z",
                                  "operationStatus": "Succeeded", "operationTrigger": "User"}  # camelCase keys
    assert computes["notebook-ci"].state == "Stopped"
    assert computes["notebook-ci"].last_operation["operationTrigger"] == "IdleShutdown"
    # The AmlCompute entity has no node count: listNodes (or the REST body) tells what runs.
    nodes = list(ml.compute.list_nodes("cpu-cluster"))
    assert [(n.__dict__["nodeState"], n.__dict__["runId"]) for n in nodes] == [("running", "calm_river_7hk2m9x4pq")]
    assert fake.compute("cpu-cluster")["properties"]["properties"]["currentNodeCount"] == 1


def test_begin_stop_moves_the_instance_through_stopping_to_stopped(ml, fake):
    with fake.operations_held():  # the SDK's poller thread starts at once
        poller = ml.compute.begin_stop("dev-instance")
        assert fake.compute_state("dev-instance") == "Stopping"
        assert ml.compute.get("dev-instance").state == "Stopping"
    assert poller.result() is None
    assert fake.compute_state("dev-instance") == "Stopped"
    assert fake.compute("dev-instance")["properties"]["properties"]["lastOperation"] == {
        "operationName": "Stop", "operationTime": "2026-03-01T12:00:00.000Z", "operationStatus": "Succeeded",
        "operationTrigger": "User"}
    assert polls(fake) == ["computeOperationsStatus"] * 2  # InProgress, then Succeeded (Azure-AsyncOperation)
    assert ml.compute.get("dev-instance").state == "Stopped"


def test_start_and_restart_poll_their_location(ml, fake):
    ml.compute.begin_start("notebook-ci").result()
    assert fake.compute_state("notebook-ci") == "Running"
    with fake.operations_held():
        restart = ml.compute.begin_restart("notebook-ci")
        assert fake.compute_state("notebook-ci") == "Restarting"
    restart.result()
    assert fake.compute_state("notebook-ci") == "Running"
    assert polls(fake) == ["mfeOperationResults"] * 4  # 202 then 200, twice


def test_compute_actions_check_the_state(ml, fake, aml):
    with pytest.raises(aml.errors.ResourceExistsError) as stopped:
        ml.compute.begin_stop("notebook-ci")
    assert stopped.value.status_code == 409 and "Stopped" in stopped.value.message
    with pytest.raises(aml.errors.HttpResponseError) as cluster:
        ml.compute.begin_stop("cpu-cluster")
    assert cluster.value.status_code == 400


def test_a_failed_operation_raises_and_leaves_the_instance_as_it_was(ml, fake, aml):
    fake.fail_next_operation("UserError", "The instance could not be stopped.")
    poller = ml.compute.begin_stop("dev-instance")
    with pytest.raises(aml.errors.HttpResponseError, match="could not be stopped"):
        poller.result()
    assert fake.compute_state("dev-instance") == "Running"
    assert fake.compute("dev-instance")["properties"]["properties"]["lastOperation"]["operationStatus"] == "Failed"


def test_list_usage_reports_vcpus_per_family_in_camel_case(ml, fake):
    usages = list(ml.compute.list_usage(location="eastus"))
    assert not fake.calls("GET", f"{fake.WORKSPACE}$")  # a location given: no workspace read
    family = {u.name["value"]: u for u in usages if u.type.endswith("/vmFamily/usages")}
    dsv2 = family["Standard DSv2 Family Cluster Dedicated vCPUs"]
    # The entity leaves current_value empty; the REST value stays on it under its camelCase key.
    assert dsv2.current_value is None
    # The Usage example's 2 (demo_workspace1's) + ws-demo's 4 node + 4 instance + 6 blue + 6 green
    assert (dsv2.__dict__["currentValue"], dsv2.limit) == (22, 24)
    gpu_at_zero = {n for n, u in family.items() if u.limit == 0}
    assert "Standard NCSv3 Family Cluster Dedicated vCPUs" in gpu_at_zero and len(gpu_at_zero) >= 4
    ml.compute.begin_stop("dev-instance").result()
    again = {u.name["value"]: u for u in ml.compute.list_usage(location="eastus")
             if u.type.endswith("/vmFamily/usages")}
    assert again["Standard DSv2 Family Cluster Dedicated vCPUs"].__dict__["currentValue"] == 18
    list(ml.compute.list_usage())  # without a location, the SDK reads the workspace's first
    assert [c.path.rsplit("/", 1)[-1] for c in fake.requests[-2:]] == ["ws-demo", "usages"]


def test_list_sizes_keeps_vcpus_and_prices_in_camel_case(ml):
    sizes = {s.name: s for s in ml.compute.list_sizes(location="eastus")}
    ds2 = sizes["Standard_DS2_v2"]
    assert (ds2.family, ds2.v_cp_us, ds2.memory_gb) == ("standardDSv2Family", None, None)
    assert (ds2.__dict__["vCPUs"], ds2.__dict__["memoryGB"]) == (2, 7.0)
    linux = [p for p in ds2.__dict__["estimatedVMPrices"]["values"] if p["osType"] == "Linux" and p["vmTier"] ==
             "Standard"]
    assert linux[0]["retailPrice"] == 0.15
    assert (sizes["Standard_NC6s_v3"].gpus, sizes["Standard_NC6s_v3"].family) == (1, "standardNCSv3Family")


# --- jobs ---------------------------------------------------------------------------------------------

def test_jobs_list_follows_next_link_and_yields_none_for_an_unparsable_job(aml):
    fake = FakeArm(unparsable_job=True)
    ml = aml.client(fake, retry_total=0)
    jobs = list(ml.jobs.list())
    assert [j.name if j else None for j in jobs] == [
        "calm_river_7hk2m9x4pq", "keen_lamp_q1w2e3r4t5", "brave_stone_x8c4v7b2n1",
        "happy_cloud_3j5k7l9m0n", "churn_drift_202603010315", "quiet_field_5t6y7u8i9o", "churn_drift_202602280315",
        None]  # the two churn_drift jobs are the monitor schedule's runs
    pages = fake.calls("GET", r"/jobs$")
    assert [p.query.get("$skipToken") for p in pages] == [None, "3", "6"]
    assert all(p.query["listViewType"] == "ActiveOnly" for p in pages)  # kept in the nextLink
    assert [j.status for j in jobs[:4]] == ["Running", "Queued", "Failed", "Completed"]


def test_jobs_get_reads_status_times_and_services(ml):
    job = ml.jobs.get("brave_stone_x8c4v7b2n1")
    assert (job.status, job.experiment_name, job.display_name, job.compute) == (
        "Failed", "churn-classifier", "train-churn-classifier", "cpu-cluster")
    assert job.creation_context.created_at.isoformat() == "2026-03-01T09:40:00+00:00"
    assert job.creation_context.last_modified_at.isoformat() == "2026-03-01T09:42:14+00:00"  # when it ended
    assert job.services["Studio"].endpoint.startswith("https://ml.azure.com/runs/brave_stone_x8c4v7b2n1")


def test_jobs_begin_cancel_goes_through_cancel_requested(ml, fake, aml):
    with fake.operations_held():
        poller = ml.jobs.begin_cancel("calm_river_7hk2m9x4pq")
        assert ml.jobs.get("calm_river_7hk2m9x4pq").status == "CancelRequested"
    poller.result()
    assert ml.jobs.get("calm_river_7hk2m9x4pq").status == "Canceled"
    assert polls(fake) == ["mfeOperationResults"] * 2  # Job/cancel.json: 202 + Location
    with pytest.raises(aml.errors.ResourceExistsError):
        ml.jobs.begin_cancel("happy_cloud_3j5k7l9m0n")


# --- online endpoints and deployments -----------------------------------------------------------------

def test_endpoints_list_and_get(ml, fake):
    [listed] = ml.online_endpoints.list()
    endpoint = ml.online_endpoints.get("churn-ep")
    for e in (listed, endpoint):
        assert (e.name, e.traffic, e.mirror_traffic, e.auth_mode, e.provisioning_state) == (
            "churn-ep", {"blue": 100, "green": 0}, {}, "key", "Succeeded")
        assert e.scoring_uri == "https://churn-ep.eastus.inference.ml.azure.com/score"
    assert [c.path.rsplit("/", 1)[-1] for c in fake.requests[-2:]] == ["churn-ep", "deployments"]  # get lists them


def test_deployments_list_get_and_logs(ml):
    assert [d.name for d in ml.online_deployments.list(endpoint_name="churn-ep")] == ["blue", "green"]
    green = ml.online_deployments.get("green", endpoint_name="churn-ep")
    assert (green.instance_type, green.instance_count, green.provisioning_state) == ("Standard_DS2_v2", 2,
                                                                                   "Succeeded")
    assert green.model.endswith("/models/churn-classifier/versions/2")
    assert (green.request_settings.max_concurrent_requests_per_instance, green.request_settings.request_timeout_ms,
            green.readiness_probe.initial_delay, green.liveness_probe.failure_threshold) == (2, 5000, 10, 30)
    collections = green.data_collector.collections
    assert {name: c.enabled for name, c in collections.items()} == {"model_inputs": "true", "model_outputs": "true"}
    assert collections["model_inputs"].data.endswith("/data/churn-ep-green-model_inputs/versions/1")
    logs = ml.online_deployments.get_logs("blue", endpoint_name="churn-ep", lines=2)
    assert logs.count("\n") == 2 and "POST /score" in logs


def test_a_traffic_update_is_reported_after_settle_after_reads(aml):
    fake = FakeArm(settle_after=3)
    ml = aml.client(fake, retry_total=0)
    endpoint = ml.online_endpoints.get("churn-ep")
    endpoint.traffic = {"blue": 90, "green": 10}
    done = ml.online_endpoints.begin_create_or_update(endpoint).result()
    [put] = fake.calls("PUT")
    assert put.body["properties"]["traffic"] == {"blue": 90, "green": 10}  # a full PUT of the endpoint
    assert polls(fake) == ["mfeOperationsStatus"] * 2
    # The poller's own final GET was the first stale read; two more GETs, then the new split.
    assert done.traffic == {"blue": 100, "green": 0}
    reported = [ml.online_endpoints.get("churn-ep").traffic for _ in range(3)]
    assert reported == [{"blue": 100, "green": 0}] * 2 + [{"blue": 90, "green": 10}]
    assert fake.traffic("churn-ep") == {"blue": 90, "green": 10}
    assert fake.endpoint("churn-ep")["properties"]["provisioningState"] == "Succeeded"


def test_the_sdk_strips_zero_traffic_and_azure_refuses_a_bad_split(ml, fake, aml):
    endpoint = ml.online_endpoints.get("churn-ep")
    endpoint.traffic = {"blue": 100, "green": 0}
    ml.online_endpoints.begin_create_or_update(endpoint).result()
    assert fake.calls("PUT")[-1].body["properties"]["traffic"] == {"blue": 100}
    for traffic in ({"blue": 50, "green": 40}, {"blue": 90, "purple": 10}):
        endpoint.traffic = traffic
        with pytest.raises(aml.errors.HttpResponseError) as refused:
            ml.online_endpoints.begin_create_or_update(endpoint)
        assert refused.value.status_code == 400
    endpoint.traffic, endpoint.mirror_traffic = {"blue": 100}, {"green": 60}
    with pytest.raises(aml.errors.HttpResponseError, match="mirror"):
        ml.online_endpoints.begin_create_or_update(endpoint)


def test_get_keys(ml, fake):
    keys = ml.online_endpoints.get_keys("churn-ep")
    assert (keys.primary_key, keys.secondary_key) == (fake.keys["churn-ep"]["primaryKey"],
                                                      fake.keys["churn-ep"]["secondaryKey"])
    assert len({keys.primary_key, keys.secondary_key}) == 2
    assert [c.method for c in fake.requests[-2:]] == ["GET", "POST"]  # it reads the auth mode first


def test_a_deployment_is_created_and_deleted_as_long_running_operations(ml, fake, aml, monkeypatch):
    from azure.ai.ml.entities import ManagedOnlineDeployment

    # online_deployments.begin_create_or_update polls every LROConfigurations.POLL_INTERVAL (5 s),
    # whatever MLClient's polling_interval says.
    monkeypatch.setattr(aml.LROConfigurations, "POLL_INTERVAL", 0)
    canary = ManagedOnlineDeployment(name="canary", endpoint_name="churn-ep", model="azureml:churn-classifier:2",
                                     instance_type="Standard_DS3_v2", instance_count=1)
    with fake.operations_held():
        poller = ml.online_deployments.begin_create_or_update(canary)
        assert ml.online_deployments.get("canary", endpoint_name="churn-ep").provisioning_state == "Creating"
    created = poller.result()
    assert (created.provisioning_state, created.instance_count, created.scale_settings.type) == (
        "Succeeded", 1, "default")
    assert fake.traffic("churn-ep") == {"blue": 100, "green": 0}  # a new deployment takes no traffic
    with fake.operations_held():
        deleting = ml.online_deployments.begin_delete("canary", endpoint_name="churn-ep")
        assert fake.deployment("churn-ep", "canary")["properties"]["provisioningState"] == "Deleting"
    deleting.result()
    assert list(fake.deployments["churn-ep"]) == ["blue", "green"]
    with pytest.raises(aml.errors.HttpResponseError, match="has traffic"):
        ml.online_deployments.begin_delete("blue", endpoint_name="churn-ep")


def test_a_deployment_with_data_collection_registers_its_data_assets(ml, fake, aml, monkeypatch):
    from azure.ai.ml import load_online_deployment

    monkeypatch.setattr(aml.LROConfigurations, "POLL_INTERVAL", 0)
    spec = load_online_deployment("specs/endpoints/green-deployment.yml")
    spec.name = "green2"
    created = ml.online_deployments.begin_create_or_update(spec).result()
    assert [c.path.rsplit("/", 3)[-3] for c in fake.calls("PUT", "/data/")] == [
        "churn-ep-green2-model_inputs", "churn-ep-green2-model_outputs"]
    assert created.data_collector.collections["model_inputs"].enabled == "true"
    assert fake.unhandled == []


# --- models, schedules ----------------------------------------------------------------------------------

def test_models_list_containers_and_versions(ml):
    assert [(m.name, m.latest_version) for m in ml.models.list()] == [("churn-classifier", "2")]
    versions = list(ml.models.list(name="churn-classifier"))
    assert [(m.version, m.type, m.job_name) for m in versions] == [
        ("2", "mlflow_model", "happy_cloud_3j5k7l9m0n"), ("1", "mlflow_model", "quiet_field_5t6y7u8i9o")]
    assert ml.models.get("churn-classifier", version="1").creation_context.created_at.isoformat() == \
        "2026-02-28T16:00:00+00:00"


def test_schedules_list_returns_the_drift_monitor_and_prints_what_it_cannot_translate(ml, capsys, monkeypatch):
    import builtins

    from azure.ai.ml.operations import _schedule_operations

    monkeypatch.setattr(_schedule_operations, "print", builtins.print, raising=False)  # the SDK as shipped
    [monitor] = ml.schedules.list()
    # The batch endpoint's schedule: azure-ai-ml 1.35.2 cannot translate it and print()s so to stdout.
    assert capsys.readouterr().out == ("Translate nightly-scoring to Schedule failed with: "
                                       "Unsupported schedule type InvokeBatchEndpoint\n")
    assert type(monitor).__name__ == "MonitorSchedule" and monitor.name == "churn-drift"
    target = monitor.create_monitor.monitoring_target
    assert target.endpoint_deployment_id.endswith("/onlineEndpoints/churn-ep/deployments/blue")
    [(name, signal)] = monitor.create_monitor.monitoring_signals.items()
    assert (name, signal.type) == ("churn-data-drift", "data_drift")
    assert signal.production_data.input_data.path.endswith("/data/churn-ep-blue-model_inputs/versions/1")
    assert signal.reference_data.input_data.path.endswith("/data/churn_features/versions/1")
    assert (monitor.trigger.frequency, monitor.trigger.schedule.hours, monitor.trigger.schedule.minutes) == (
        "day", [3], [15])


# --- Azure Monitor metrics --------------------------------------------------------------------------------

def metrics(fake: FakeArm, **params) -> dict:
    response = fake.session().get(f"https://management.azure.com{fake.ws_id}{ENDPOINT_METRICS}",
                                  params={"api-version": "2024-02-01", **params},
                                  headers={"Authorization": "Bearer fake"})
    assert response.status_code == 200, response.text
    return response.json()


def test_metrics_per_deployment_at_a_one_minute_grain(fake):
    body = metrics(fake, metricnames="RequestsPerMinute,RequestLatency_P99", interval="PT1M", aggregation="Average",
                   timespan="2026-03-01T11:50:00Z/2026-03-01T12:00:00Z", **{"$filter": "deployment eq '*'"})
    assert body["interval"] == "PT1M"
    assert body["namespace"] == "Microsoft.MachineLearningServices/workspaces/onlineEndpoints"
    assert [(m["name"]["value"], m["unit"]) for m in body["value"]] == [
        ("RequestsPerMinute", "Count"), ("RequestLatency_P99", "Milliseconds")]
    rpm = {s["metadatavalues"][0]["value"]: s["data"] for s in body["value"][0]["timeseries"]}
    assert set(rpm) == {"blue", "green"}
    assert [p["timeStamp"] for p in rpm["blue"]][:2] == ["2026-03-01T11:50:00Z", "2026-03-01T11:51:00Z"]
    assert len(rpm["blue"]) == 10 and all(100 < p["average"] < 140 for p in rpm["blue"])
    assert all("average" not in p for p in rpm["green"])  # no requests: no value, as Azure Monitor reports
    p99 = {s["metadatavalues"][0]["value"]: s["data"] for s in body["value"][1]["timeseries"]}
    assert all(35 < p["average"] < 48 for p in p99["blue"])


def test_metrics_follow_set_serving_and_refuse_unknown_names(fake):
    fake.set_serving("churn-ep", "green", requests_per_minute=12.0, p99_ms=52.3)
    body = metrics(fake, metricnames="RequestsPerMinute", timespan="PT5M", **{"$filter": "deployment eq 'green'"})
    [series] = body["value"][0]["timeseries"]
    assert series["metadatavalues"][0]["value"] == "green" and len(series["data"]) == 5
    whole = metrics(fake, metricnames="RequestsPerMinute", timespan="PT5M")  # no split: one series
    [total] = whole["value"][0]["timeseries"]
    assert total["metadatavalues"] == [] and 121 < total["data"][2]["average"] < 143  # blue's 120 + green's 12
    refused = fake.session().get(f"https://management.azure.com{fake.ws_id}{ENDPOINT_METRICS}",
                                 params={"metricnames": "Nope"}, headers={"Authorization": "Bearer fake"})
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "BadRequest"


# --- failures, auth, unhandled routes ----------------------------------------------------------------------

def test_a_429_is_retried_after_retry_after(aml, fake):
    transport = aml.RecordingTransport(session=fake.session())
    ml = aml.client(fake, transport=transport)  # azure-core's default retry policy
    fake.fail("GET", r"/computes$", 429, headers={"Retry-After": "2"})
    assert len(list(ml.compute.list())) == 4
    assert len(fake.calls("GET", r"/computes$")) == 2 and transport.slept == [2.0]


def test_a_429_without_retries_raises_with_its_retry_after(ml, fake, aml):
    fake.fail("GET", r"/computes$", 429, headers={"Retry-After": "2"})
    with pytest.raises(aml.errors.HttpResponseError) as throttled:
        list(ml.compute.list())
    assert throttled.value.status_code == 429 and throttled.value.response.headers["Retry-After"] == "2"
    assert throttled.value.error.code == "TooManyRequests"
    assert len(list(ml.compute.list())) == 4  # times=1: the next one answers


def test_401_403_404_surface_as_the_sdk_errors(ml, fake, aml):
    fake.fail("GET", r"/computes/dev-instance$", 401)
    with pytest.raises(aml.errors.ClientAuthenticationError):
        ml.compute.get("dev-instance")
    fake.fail("*", r"/onlineEndpoints", 403, times=2)
    for _ in range(2):
        with pytest.raises(aml.errors.HttpResponseError) as forbidden:
            list(ml.online_endpoints.list())
        assert forbidden.value.status_code == 403 and forbidden.value.error.code == "AuthorizationFailed"
    fake.fail("GET", r"/jobs/", 404, body={"error": {"code": "UserError", "message": "No such job."}})
    with pytest.raises(aml.errors.ResourceNotFoundError, match="No such job"):
        ml.jobs.get("calm_river_7hk2m9x4pq")
    with pytest.raises(aml.errors.ResourceNotFoundError, match="nope"):
        ml.compute.get("nope")


def test_requests_without_a_bearer_token_answer_401(fake):
    response = fake.session().get(f"https://management.azure.com{fake.ws_id}/computes")
    assert response.status_code == 401 and response.json()["error"]["code"] == "AuthenticationFailed"


def test_an_unhandled_route_answers_404_and_is_recorded(ml, fake, aml):
    with pytest.raises(aml.errors.ResourceNotFoundError, match="FakeArm has no route"):
        ml.batch_endpoints.get("churn-batch")  # the fake has no batch endpoints yet
    [call] = fake.unhandled
    assert (call.method, call.path.endswith("/batchEndpoints/churn-batch")) == ("GET", True)


def test_every_request_is_recorded(ml, fake):
    ml.online_deployments.get_logs("blue", endpoint_name="churn-ep", lines=5)
    [call] = fake.requests
    assert (call.method, call.host, call.body) == ("POST", "management.azure.com", {"tail": 5})
    assert call.path == f"{fake.ws_id}/onlineEndpoints/churn-ep/deployments/blue/getLogs"
    assert call.query == {"api-version": "2023-04-01-preview"}
    assert call.headers["authorization"] == "Bearer fake"


def test_an_empty_workspace(aml):
    fake = FakeArm(empty=True)
    ml = aml.client(fake, retry_total=0)
    assert [list(ml.compute.list()), list(ml.jobs.list()), list(ml.online_endpoints.list()), list(ml.models.list()),
            list(ml.schedules.list())] == [[], [], [], [], []]
    # The Usage example's own figures (the subscription's other workspaces), with nothing of ws-demo's.
    usages = list(ml.compute.list_usage(location="eastus"))
    assert not [u for u in usages if f"/workspaces/{fake.WORKSPACE}/" in u.id]
    totals = {u.name["value"]: u.__dict__["currentValue"] for u in usages if "Regional" in u.name["value"]}
    assert totals == {"Total Cluster Dedicated Regional vCPUs": 14, "Total Cluster LowPriority Regional vCPUs": 18}
    assert len(list(ml.compute.list_sizes(location="eastus"))) == 11
    assert ml.workspaces.get(fake.WORKSPACE).location == "eastus"
