"""Drift on Azure from the deployment's collected model_inputs in blob storage (console/azure/
drift.py), over the fake ARM and its blob container, the real azure-ai-ml and azure-storage-blob
in between: the signal's own data, thresholds and overrides; only rows of the window; the
baseline profiled once; a run audited; read-only and unknown monitors refused."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from console.errors import NotFound, ReadOnlyError

from fakes.arm import FakeArm, churn_rows
from fakes.azure import azure_workspace, fake, offline, ws  # noqa: F401 (fixtures)


def blob_reads(fake) -> list[str]:
    return [c.path for c in fake.requests if c.host.endswith(".blob.core.windows.net") and c.query.get("comp") != "list"]


pytestmark = pytest.mark.usefixtures("offline")


def test_the_recent_window_of_collected_inputs_drifts_where_the_fake_shifted_it(ws, fake):
    report = ws.monitors.latest("churn-drift")
    drifted = {f.feature for f in report.features if f.drifted}
    assert drifted == {"monthly_charges"}  # charges were served 30 % up; nothing else moved
    assert report.endpoint_name == "churn-ep" and report.deployment == "blue"
    assert report.production_rows == 300  # the hour before holds 300 more, outside the window
    kinds = {f.feature: f.metric for f in report.features}
    assert kinds["tenure_months"] == "normalized_wasserstein_distance"  # the signal's override to numerical
    assert "churn" not in kinds  # the target column is left out of the baseline
    assert all(f.threshold == 0.1 for f in report.features)


def test_a_kept_report_costs_no_request_and_the_baseline_is_read_once(ws, fake):
    ws.monitors.latest("churn-drift")
    sent = len(fake.requests)
    ws.monitors.latest("churn-drift")
    assert len(fake.requests) == sent
    op = ws.operations.wait(ws.monitors.run("churn-drift").id, timeout_s=30)
    assert op.status == "Succeeded", op.error
    assert [p for p in blob_reads(fake) if p.endswith(".csv")] == [
        f"/{fake.datastore_container}/LocalUpload/churn-features/churn.csv"]
    assert [(e.operation, e.result) for e in ws.audit.list()[:2]] == [("monitors.run", "Succeeded"),
                                                                      ("monitors.run", "InProgress")]


def test_a_run_over_a_window_reads_its_hour_folders_and_skips_a_torn_line(ws, fake):
    at = fake.collected_at - timedelta(hours=1)
    name = fake.collect("churn-ep", "blue", churn_rows()[:50], at)
    fake.blobs[name] += b'{"time": "2026-'  # the collector was still writing
    start = at.replace(minute=0, second=0)
    op = ws.monitors.run("churn-drift", window_start=start, window_end=start + timedelta(hours=1))
    assert ws.operations.wait(op.id, timeout_s=30).status == "Succeeded"
    report = ws.monitors.latest("churn-drift")
    assert report.production_rows == 350 and report.window_start == start
    hours = {p.split("/model_inputs/")[1][:13] for p in blob_reads(fake) if "/model_inputs/" in p}
    assert hours == {f"{at:%Y/%m/%d/%H}"}


def test_read_only_and_unknown_monitors_are_refused(ws, fake, tmp_path, monkeypatch):
    with pytest.raises(NotFound):
        ws.monitors.run("no-such-monitor")
    read_only = azure_workspace(fake, tmp_path / "ro", monkeypatch, read_only=True)
    sent = len(fake.requests)
    with pytest.raises(ReadOnlyError):
        read_only.monitors.run("churn-drift")
    assert len(fake.requests) == sent
    assert json.loads(json.dumps(ws.monitors.latest("churn-drift").to_dict(), default=str))["monitor"] == "churn-drift"


def test_an_expired_sas_is_replaced_and_the_read_goes_on(ws, fake):
    ws.monitors.latest("churn-drift")
    assert fake.sas_issued == 1  # azure-ai-ml asks for expirable secrets: a SAS, not the key
    fake.expire_sas()
    op = ws.operations.wait(ws.monitors.run("churn-drift").id, timeout_s=30)
    assert op.status == "Succeeded", op.error
    assert fake.sas_issued == 2
    blob_routes = [route for (method, route) in ws.session.counter.by_route if "azureml-blobstore" in route]
    assert blob_routes, "storage's requests are counted with the workspace's"


def test_a_long_form_datastore_uri_is_read_too(ws, fake):
    body = fake.data["churn-ep-blue-model_inputs"]["1"]["properties"]
    short = body["dataUri"]
    body["dataUri"] = short.replace("azureml://", f"azureml://subscriptions/{fake.SUBSCRIPTION}/resourcegroups/"
                                    f"{fake.RESOURCE_GROUP}/workspaces/{fake.WORKSPACE}/")
    assert ws.monitors.latest("churn-drift").production_rows == 300


def test_runs_of_one_monitor_at_once_each_end_with_a_whole_report(ws, fake):
    ops = [ws.monitors.run("churn-drift") for _ in range(3)]
    assert [ws.operations.wait(op.id, timeout_s=30).status for op in ops] == ["Succeeded"] * 3
    assert ws.monitors.latest("churn-drift").production_rows == 300


def test_one_monitor_that_cannot_be_read_leaves_the_others_and_says_why(ws, fake):
    from console.ui.snapshot import read_area, unavailable

    fake.fail("GET", r"/schedules/churn-drift$", 403, times=10)
    values, error = read_area(ws, "monitors", unavailable(ws))
    assert [m.name for m in values["monitors"]] == ["churn-drift"] and values["reports"] == {}
    assert error.startswith("churn-drift drift: not authorised")


# --- reading only what is new ------------------------------------------------------------------------

def quiet_hour(fake) -> datetime:
    """An hour five hours back: the seed collected nothing then."""
    return (fake.collected_at - timedelta(hours=5)).replace(minute=0, second=0)


def reads_of(fake, name: str, since: int) -> list[str]:
    """The Range header of each GET of blob `name` among the requests from `since` on."""
    return [c.headers.get("x-ms-range", "") for c in fake.requests[since:]
            if c.method == "GET" and c.path.endswith("/" + name)]


def test_a_recompute_reads_only_what_the_collector_appended_since_the_last(ws, fake):
    base, rows = quiet_hour(fake), churn_rows()
    name = fake.collect("churn-ep", "blue", rows[:600], base, instance="0", every_s=1)  # an append blob
    window = (base, base + timedelta(minutes=30))
    assert ws.drift.run("churn-drift", *window).production_rows == 600
    size, sent, received = len(fake.blobs[name]), len(fake.requests), sum(ws.storage.received.values())
    fake.collect("churn-ep", "blue", rows[600:700], base + timedelta(minutes=10), instance="0", every_s=1)
    fake.blobs[name] += b'{"specversion": "1.0", "time": "'  # the collector is writing the next line
    assert ws.drift.run("churn-drift", *window).production_rows == 700
    assert reads_of(fake, name, sent) == [f"bytes={size - 1}-{size - 1 + 32 * 1024 * 1024 - 1}"]
    appended = len(fake.blobs[name]) - size
    listing = 2048  # the hour folder's listing, XML
    assert sum(ws.storage.received.values()) - received < appended + 1 + listing
    # the line being written is read once whole, from its start; nothing before it again
    fake.blobs[name] = fake.blobs[name][:-len(b'{"specversion": "1.0", "time": "')]
    whole = len(fake.blobs[name])
    fake.collect("churn-ep", "blue", rows[700:710], base + timedelta(minutes=20), instance="0")
    sent = len(fake.requests)
    assert ws.drift.run("churn-drift", *window).production_rows == 710
    assert [r.split("-")[0] for r in reads_of(fake, name, sent)] == [f"bytes={whole - 1}"]
    sent = len(fake.requests)
    ws.drift.run("churn-drift", *window)
    assert reads_of(fake, name, sent) == []  # nothing changed: listed, not read


def test_what_ages_out_of_the_window_is_dropped_and_an_older_window_is_read_again(ws, fake):
    base, rows = quiet_hour(fake), churn_rows()
    fake.collect("churn-ep", "blue", rows[:600], base, instance="0", every_s=1)
    fake.collect("churn-ep", "blue", rows[600:700], base + timedelta(minutes=40), every_s=1)
    assert ws.drift.run("churn-drift", base, base + timedelta(hours=1)).production_rows == 700
    later = base + timedelta(minutes=30)
    assert ws.drift.run("churn-drift", later, later + timedelta(hours=1)).production_rows == 100
    kept = ws.drift._collected["churn-drift"]
    assert sum(len(part.times) for blob in kept.blobs.values() for part in blob.parts) == 100
    assert ws.drift.run("churn-drift", base, base + timedelta(hours=1)).production_rows == 700


def test_a_blob_rewritten_in_place_is_read_again_whole(ws, fake):
    base, rows = quiet_hour(fake), churn_rows()
    name = fake.collect("churn-ep", "blue", rows[:300], base, instance="0", every_s=1)
    window = (base, base + timedelta(hours=1))
    assert ws.drift.run("churn-drift", *window).production_rows == 300
    del fake.blobs[name]
    fake.collect("churn-ep", "blue", rows[:500], base + timedelta(seconds=1), instance="0", every_s=1)
    assert ws.drift.run("churn-drift", *window).production_rows == 500


def test_a_payload_over_4_mb_is_read_from_the_blob_its_line_names(ws, fake):
    url = fake.collect_large("churn-ep", "blue", churn_rows()[:50], fake.collected_at)
    assert ws.monitors.latest("churn-drift").production_rows == 350
    payload = url.split(f"/{fake.datastore_container}/", 1)[1]
    assert len(reads_of(fake, payload, 0)) == 1
    report = ws.monitors.latest("churn-drift")
    assert not any(f.note and "over 4 MB" in f.note for f in report.features)


def test_a_payload_over_4_mb_that_cannot_be_read_is_counted_and_shown(ws, fake):
    fake.collect_large("churn-ep", "blue", churn_rows()[:50], fake.collected_at, account="elsewherestorage")
    report = ws.monitors.latest("churn-drift")
    assert report.production_rows == 300
    assert all("1 request over 4 MB not read" in (f.note or "") for f in report.features)
    assert not [c for c in fake.requests if c.host.startswith("elsewherestorage.")]


def test_the_metric_the_signal_names_is_the_one_judged_on_azure_too(ws, fake):
    """A monitor whose data drift signal names PSI at 0.25 for numerical features and chi-squared
    for categorical ones is judged by those, as Azure's monitor and the local one judge it."""
    signal = fake.schedules["churn-drift"]["properties"]["action"]["monitorDefinition"]["signals"]["churn-data-drift"]
    signal["metricThresholds"] = [
        {"dataType": "Numerical", "metric": "populationStabilityIndex", "threshold": {"value": 0.25}},
        {"dataType": "Categorical", "metric": "pearsonsChiSquaredTest", "threshold": {"value": 0.05}}]
    report = ws.monitors.latest("churn-drift")
    by_feature = {f.feature: f for f in report.features}
    assert {(f.metric, f.threshold) for f in report.features if f.type == "numeric"} == {
        ("population_stability_index", 0.25)}
    assert {f.metric for f in report.features if f.type == "categorical"} == {"pearsons_chi_squared_test"}
    assert by_feature["monthly_charges"].drifted  # served 30 % up: PSI past 0.25 too
