"""Azure Monitor's figures of the azure workspace's endpoints (console/azure/metrics.py) over the fake
ARM's metrics:getBatch route: one batch of up to 50 endpoints on the region's data plane, never
ARM; only the Average aggregation, the one online-endpoint metrics list; a metric Azure Monitor
refuses is an error, never zero requests; and the route answers in the published shape."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from console.errors import BackendUnavailable, InvalidField, OperationFailed

from fakes import arm
from fakes.arm import FakeArm
from fakes.azure import azure_workspace, offline, ws  # noqa: F401 (fixtures)

BATCH = r"/metrics:getBatch$"
METRICS_HOST = f"{FakeArm.LOCATION}.metrics.monitor.azure.com"


@pytest.fixture()
def fake(offline):
    return FakeArm()


def with_endpoints(fake: FakeArm, n: int) -> FakeArm:
    for i in range(1, n):
        fake.copy_endpoint("churn-ep", f"churn-ep-{i}")
    return fake


def batch(fake: FakeArm, ids: list[str], **params) -> tuple[int, dict]:
    response = fake.session().post(
        f"https://{METRICS_HOST}/subscriptions/{fake.SUBSCRIPTION}/metrics:getBatch",
        params={"api-version": "2024-02-01", "metricnamespace": arm.ENDPOINT_NAMESPACE, **params},
        json={"resourceids": ids}, headers={"Authorization": "Bearer fake"})
    return response.status_code, response.json()


def endpoint_id(fake: FakeArm, name: str = "churn-ep") -> str:
    return f"{fake.ws_id}/onlineEndpoints/{name}"


# --- the console ----------------------------------------------------------------------------------------

def test_figures_per_deployment_ask_only_the_average_online_endpoints_list(ws, fake):
    ws.endpoints.list()
    (blue, green) = ws.endpoints.metrics("churn-ep", window_s=60)
    # Asking Total (which no online-endpoint metric lists) got no series: no requests, no latency.
    assert blue.deployment == "blue" and 110 < blue.requests < 135 and blue.rps == pytest.approx(blue.requests / 60, abs=0.01)
    assert 30 < blue.p99_ms < 60 and blue.success_rate == 1.0 and len(blue.latency_series_ms) == 30
    assert green.requests == 0 and green.p99_ms is None and green.success_rate is None
    figures, codes = fake.calls("POST", BATCH)
    assert {c.query["aggregation"] for c in (figures, codes)} == {"Average"}
    assert figures.query["interval"] == "PT1M" and figures.query["filter"] == "deployment eq '*'"
    assert codes.query["filter"] == "deployment eq '*' and statusCode eq '*'" and codes.query["metricnames"] == \
        "RequestsPerMinute"
    assert set(figures.query["metricnames"].split(",")) >= {"RequestsPerMinute", "RequestLatency_P99"}
    ws.endpoints.metrics("churn-ep", window_s=300)  # kept for Azure Monitor's minute: asked once
    assert len(fake.calls("POST", BATCH)) == 2
    with pytest.raises(InvalidField):
        ws.endpoints.metrics("churn-ep", window_s=5)


def test_metrics_go_to_azure_monitors_data_plane_not_arm(ws, fake):
    ws.endpoints.list()
    ws.endpoints.metrics("churn-ep", window_s=60)
    assert not fake.calls(None, r"Microsoft\.Insights")  # ARM's Metrics_List: ARM's read budget
    assert {c.host for c in fake.calls("POST", BATCH)} == {METRICS_HOST}
    counted = ws.session.counter.by_host
    assert counted[METRICS_HOST] == 2 and counted["management.azure.com"] == len(
        [c for c in fake.requests if c.host == "management.azure.com"])


def test_fifty_endpoints_are_one_batch_and_a_hundred_and_twenty_three(ws, fake):
    from console.ui.snapshot import read_area, unavailable

    with_endpoints(fake, 120)
    values, error = read_area(ws, "endpoints", unavailable(ws))
    assert error is None and len(values["metrics"]) == 120
    assert all(blue.requests > 100 for blue, _ in values["metrics"].values())
    calls = fake.calls("POST", BATCH)
    assert len(calls) == 6  # figures and status codes, for 50 + 50 + 20 endpoints
    assert sorted(len(c.body["resourceids"]) for c in calls) == [20, 20, 50, 50, 50, 50]
    asked = {rid for c in calls for rid in c.body["resourceids"]}
    assert asked == {endpoint_id(fake, name) for name in fake.endpoints}
    read_area(ws, "endpoints", unavailable(ws))  # within Azure Monitor's minute: nothing asked again
    assert len(fake.calls("POST", BATCH)) == 6


def ingesting_late(fake: FakeArm, monkeypatch, minutes: int) -> None:
    """Azure Monitor as it answers before it has ingested the last `minutes`: those minutes are
    in the series, without a value."""
    original = fake.metrics_batch

    def late(call):
        status, body, headers = original(call)
        end = datetime.fromisoformat(call.query["endtime"]).replace(second=0, microsecond=0)
        for item in body.get("values", []):
            for metric in item["value"]:
                for series in metric["timeseries"]:
                    series["data"] = [p if datetime.fromisoformat(p["timeStamp"]) < end - timedelta(minutes=minutes)
                                      else {"timeStamp": p["timeStamp"]} for p in series["data"]]
        return status, body, headers
    monkeypatch.setattr(fake, "metrics_batch", late)


def asked_until(fake: FakeArm) -> datetime:
    """The end of the span the first batch asked for: "now", as the SDK saw it."""
    return datetime.fromisoformat(fake.calls("POST", BATCH)[0].query["endtime"])


def test_the_live_figure_is_the_newest_complete_minute_and_says_how_old_it_is(ws, fake, monkeypatch):
    ingesting_late(fake, monkeypatch, minutes=2)
    ws.endpoints.list()
    ws.endpoints.metrics("churn-ep", window_s=60)
    now = asked_until(fake)
    minute = now.replace(second=0, microsecond=0)
    ws.monitor_metrics.wall = lambda: now
    (blue, green) = ws.endpoints.metrics("churn-ep", window_s=60)
    # The last two minutes are not in yet: the window is the minute before them, ended 2 min + the
    # seconds of this one ago; blue's figures are that minute's, not 0 from the minutes to come.
    assert blue.window_s == 60 and green.window_s == 60
    assert blue.age_s == green.age_s == pytest.approx(120 + (now - minute).total_seconds(), abs=0.1)
    assert 110 < blue.requests < 135 and blue.rps == pytest.approx(blue.requests / 60, abs=0.01)
    # Read again half a minute into the newest minute reported: that minute is under way, not
    # complete, and the one before it stands (a partly ingested minute would read low).
    ws.monitor_metrics.wall = lambda: minute - timedelta(minutes=2, seconds=30)
    (blue, _) = ws.endpoints.metrics("churn-ep", window_s=60)
    assert blue.age_s == pytest.approx(30.0) and blue.requests > 100


def test_success_rate_counts_the_deployments_failures_not_the_clients(ws, fake):
    fake.set_serving("churn-ep", "blue", status_codes={"200": 0.85, "503": 0.05, "429": 0.05, "401": 0.05})
    ws.endpoints.list()
    (blue, _) = ws.endpoints.metrics("churn-ep", window_s=300)
    assert blue.success_rate == pytest.approx(0.85 / 0.95, abs=1e-3)  # 401s are the client's


def test_a_metric_azure_monitor_refuses_is_an_error_not_zero_requests(ws, fake, monkeypatch):
    unit, description, _, dims = arm.ENDPOINT_METRICS["RequestLatency_P99"]
    monkeypatch.setitem(arm.ENDPOINT_METRICS, "RequestLatency_P99", (unit, description, ("maximum",), dims))
    ws.endpoints.list()
    with pytest.raises(OperationFailed, match=r"RequestLatency_P99 \(InvalidSamplingType: Sampling type is not found"):
        ws.endpoints.metrics("churn-ep", window_s=60)


def test_without_the_status_code_split_the_figures_stand_and_success_is_unknown(ws, fake, monkeypatch):
    original = fake.metrics_batch

    def no_status_code(call):
        if "statusCode" in call.query.get("filter", ""):
            return 400, arm.arm_error("BadRequest", "Dimension statusCode is not valid."), {}
        return original(call)
    monkeypatch.setattr(fake, "metrics_batch", no_status_code)
    ws.endpoints.list()
    (blue, _) = ws.endpoints.metrics("churn-ep", window_s=60)
    assert blue.p99_ms is not None and blue.requests > 0 and blue.success_rate is None


def test_throttled_by_azure_monitor_says_when_to_come_back_and_waits_that_long(ws, fake):
    fake.fail("POST", BATCH, 429, headers={"Retry-After": "7"}, times=4)  # the first try and its 3 retries
    ws.endpoints.list()
    with pytest.raises(BackendUnavailable, match="throttled by Azure Monitor: next refresh in 7 s"):
        ws.endpoints.metrics("churn-ep", window_s=60)
    sent = len(fake.calls("POST", BATCH))
    with pytest.raises(BackendUnavailable):  # until Retry-After has passed, nothing is asked
        ws.endpoints.metrics("churn-ep", window_s=60)
    assert len(fake.calls("POST", BATCH)) == sent
    now = ws.monitor_metrics.clock()
    ws.monitor_metrics.clock = lambda: now + 8
    assert ws.endpoints.metrics("churn-ep", window_s=60)[0].requests > 0


def test_one_failed_batch_is_asked_once_a_refresh_not_once_an_endpoint(ws, fake):
    from console.ui.snapshot import read_area, unavailable

    with_endpoints(fake, 10)
    fake.fail("POST", BATCH, 403, times=100)
    values, error = read_area(ws, "endpoints", unavailable(ws))
    assert len(values["endpoints"]) == 10 and values["metrics"] == {}
    assert error.startswith("churn-ep metrics: not authorised") and "role needed" in error and "8 more" in error
    assert len(fake.calls("POST", BATCH)) == 1


# --- the fake's route, as Azure Monitor answers ---------------------------------------------------------

# metrics:getBatch's 200 answer (monitor data-plane stable/2024-02-01/metricBatch.json, its example
# MetricBatchExample.json, in Azure/azure-rest-api-specs): the keys of each level of the answer.
BATCH_SHAPE = {
    "values item": {"starttime", "endtime", "interval", "value", "namespace", "resourceregion", "resourceid"},
    "metric": {"id", "type", "name", "displayDescription", "unit", "timeseries", "errorCode"},
    "series": {"metadatavalues", "data"},
    "metadata": {"name", "value"},
}


def test_the_batch_answers_one_entry_per_resource_in_the_published_shape(fake):
    ids = [endpoint_id(fake)]
    with_endpoints(fake, 3)
    ids += [endpoint_id(fake, "churn-ep-2")]
    status, body = batch(fake, ids, metricnames="RequestsPerMinute,RequestLatency_P99", aggregation="average",
                         interval="PT1M", starttime="2026-03-01T11:50:00.000Z", endtime="2026-03-01T12:00:00.000Z",
                         filter="deployment eq '*'")
    assert status == 200 and list(body) == ["values"]
    assert [v["resourceid"] for v in body["values"]] == ids
    for item in body["values"]:
        assert set(item) == BATCH_SHAPE["values item"] and item["interval"] == "PT1M"
        for metric in item["value"]:
            assert set(metric) == BATCH_SHAPE["metric"] and metric["errorCode"] == "Success"
            assert metric["id"].startswith(item["resourceid"] + "/providers/Microsoft.Insights/metrics/")
            for series in metric["timeseries"]:
                assert set(series) == BATCH_SHAPE["series"]
                assert all(set(m) == BATCH_SHAPE["metadata"] for m in series["metadatavalues"])
    rpm = {s["metadatavalues"][0]["value"]: s["data"] for s in body["values"][0]["value"][0]["timeseries"]}
    assert set(rpm) == {"blue", "green"} and len(rpm["blue"]) == 10
    assert rpm["blue"][0] == {"timeStamp": "2026-03-01T11:50:00Z", "average": rpm["blue"][0]["average"]}
    assert all("average" not in p for p in rpm["green"])  # no requests: no value, as Azure Monitor reports


def test_the_batch_refuses_an_aggregation_a_metric_does_not_list_as_azure_monitor_does(fake):
    status, body = batch(fake, [endpoint_id(fake)], metricnames="RequestsPerMinute,RequestLatency_P50",
                         aggregation="total,average", filter="deployment eq '*'")
    assert status == 200
    for metric in body["values"][0]["value"]:  # Insights/metrics/GetMetricError.json: no series, the reason
        assert metric["errorCode"] == "InvalidSamplingType" and metric["timeseries"] == []
        assert metric["errorMessage"].startswith("Sampling type is not found.") and "SamplingType:NullableTotal" in \
            metric["errorMessage"]
    response = fake.session().get(f"https://management.azure.com{fake.ws_id}/onlineEndpoints/churn-ep/providers/"
                                  "Microsoft.Insights/metrics", headers={"Authorization": "Bearer fake"},
                                  params={"metricnames": "RequestsPerMinute", "aggregation": "Total,Average"})
    assert response.json()["value"][0]["errorCode"] == "InvalidSamplingType"  # ARM's Metrics_List alike


def test_the_batch_refuses_what_azure_monitor_refuses(fake):
    assert batch(fake, [endpoint_id(fake)] * 51, metricnames="RequestsPerMinute")[0] == 400
    assert batch(fake, [endpoint_id(fake)], metricnames="Nope")[0] == 400
    assert batch(fake, [endpoint_id(fake)], metricnames="RequestLatency_P99",
                 filter="deployment eq '*' and statusCode eq '*'")[0] == 400  # latencies have no status code
    assert batch(fake, [endpoint_id(fake, "gone-ep")], metricnames="RequestsPerMinute")[0] == 404
    status, body = batch(fake, [endpoint_id(fake)], metricnames="RequestsPerMinute", metricnamespace="Microsoft.Compute")
    assert status == 400 and body["error"]["code"] == "BadRequest"
    with_endpoints(fake, 3)
    fake.set_serving("churn-ep-1", "green", requests_per_minute=5.0, status_codes={"200": 0.5, "500": 0.5})
    series = lambda **q: batch(fake, [endpoint_id(fake, "churn-ep-1")], metricnames="RequestsPerMinute",  # noqa: E731
                               filter="deployment eq '*' and statusCode eq '*'", **q)[1]["values"][0]["value"][0]
    assert len(series(top=1)["timeseries"]) == 1 and len(series()["timeseries"]) == 3  # blue 200; green 200, 500
