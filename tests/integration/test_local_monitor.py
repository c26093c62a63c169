"""The demo's drift is real: a monitor on churn-ep/blue, baseline found through the model's
training job, production data collected by the router. Load without drift: no alert. Load with
drift: an alert. Bad monitors give clear messages, never tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from console.errors import NotFound
from console.loadgen import churn_payloads, run_load
from console.local.client import LocalWorkspace, stop_daemon

from helpers import FAST_PROBES, wait_until

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SPECS = ROOT / "specs"


def collected_rows(ws: LocalWorkspace) -> int:
    folder = ws.folder.collected_dir / "churn-ep" / "blue" / "model_inputs"
    return sum(len(json.loads(line)["data"]) for f in folder.rglob("*.jsonl") for line in f.read_text().splitlines())


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    workspace = LocalWorkspace(tmp_path_factory.mktemp("monitor") / "ws")
    try:
        for spec in ("compute/cpu-cluster.yml", "environments/churn-train-env.yml", "data/churn-features.yml"):
            workspace.assets.create(str(SPECS / spec))
        job = workspace.jobs.submit(str(SPECS / "jobs" / "train-job.yml"))
        job = wait_until(lambda: (j := workspace.jobs.get(job.name)).is_terminal and j, timeout=240, interval=0.5)
        assert job.status == "Completed", job.error
        workspace.models.register("churn-classifier", job=job.name)
        workspace.endpoints.create(str(SPECS / "endpoints" / "churn-ep.yml"))
        op = workspace.endpoints.create_deployment(str(SPECS / "endpoints" / "blue-deployment.yml"),
                                                   {**FAST_PROBES, "instance_count": 1})
        assert workspace.operations.wait(op.id, timeout_s=120).status == "Succeeded"
        workspace.endpoints.set_traffic("churn-ep", {"blue": 100})
        workspace.assets.create(str(SPECS / "monitoring" / "churn-drift.yml"))
        yield workspace
    finally:
        for endpoint in workspace.endpoints.list():
            workspace.endpoints.delete(endpoint.name)
        stop_daemon(workspace.folder)


def load_window(ws: LocalWorkspace, drift: float) -> tuple[datetime, datetime]:
    endpoint = ws.endpoints.get("churn-ep")
    before = collected_rows(ws)
    start = datetime.now(timezone.utc)
    summary = run_load(endpoint.scoring_uri, ws.endpoints.keys("churn-ep").primary,
                       churn_payloads(300, drift=drift, seed=5), rps=50, duration_s=6, concurrency=4)
    assert summary.failures == 0, summary.to_dict()
    wait_until(lambda: collected_rows(ws) >= before + summary.sent, timeout=15)  # the collector flushed
    return start, datetime.now(timezone.utc)


def run_monitor(ws: LocalWorkspace, start: datetime, end: datetime):
    op = ws.monitors.run("churn-drift", window_start=start, window_end=end)
    done = ws.operations.wait(op.id, timeout_s=120)
    assert done.status == "Succeeded", done.error
    return ws.monitors.latest("churn-drift")


def test_the_monitor_is_listed_with_its_target_and_trigger(ws):
    (monitor,) = ws.monitors.list()
    assert (monitor.name, monitor.endpoint_name, monitor.deployment) == ("churn-drift", "churn-ep", "blue")
    assert monitor.trigger == "every 1 day"


def test_serving_data_like_the_training_data_raises_no_alert(ws):
    start, end = load_window(ws, drift=0.0)
    report = run_monitor(ws, start, end)
    assert report.production_rows == 300 and report.baseline_rows == 4000
    assert not report.alert and not report.dataset_drift, [(f.feature, f.value, f.p_value) for f in report.features]
    assert "churn" not in {f.feature for f in report.features}  # the label is not a feature


def test_drifted_serving_data_raises_an_alert(ws):
    start, end = load_window(ws, drift=0.5)
    report = run_monitor(ws, start, end)
    assert report.production_rows == 300
    assert report.alert
    drifted = {f.feature for f in report.features if f.drifted}
    assert {"monthly_charges", "contract_type"} & drifted, drifted
    assert report.drifted_share == pytest.approx(len(drifted) / len(report.features))
    # the stored report comes back from the daemon with each feature's histograms
    by_name = {f.feature: f for f in report.features}
    charges, contract = by_name["monthly_charges"], by_name["contract_type"]
    assert len(charges.bins) == len(charges.production_share) == 10 and charges.bins[-1].startswith("≥")
    assert sum(charges.production_share) == pytest.approx(1.0) and sum(charges.baseline_share) == pytest.approx(1.0)
    assert "Month-to-month" in contract.bins and sum(contract.production_share) == pytest.approx(1.0)


def test_a_window_with_no_collected_data_is_a_clear_result(ws):
    report = run_monitor(ws, datetime(2020, 1, 1, tzinfo=timezone.utc), datetime(2020, 1, 2, tzinfo=timezone.utc))
    assert report.production_rows == 0 and not report.alert
    assert all(f.value is None and f.note for f in report.features)


def test_the_cli_prints_the_table_and_the_verdict(ws):
    cli = subprocess.run([sys.executable, "-m", "console.cli", "--workspace-dir", str(ws.folder.root), "drift",
                          "churn-ep", "--deployment", "blue"], capture_output=True, text=True, timeout=120)
    assert cli.returncode == 0, cli.stderr
    header = cli.stdout.splitlines()[0].split()
    assert header[:7] == ["FEATURE", "TYPE", "METRIC", "VALUE", "THRESHOLD", "DRIFTED", "PSI"]
    assert "verdict" in cli.stdout
    as_json = subprocess.run([sys.executable, "-m", "console.cli", "--workspace-dir", str(ws.folder.root), "drift",
                              "churn-ep", "--json"], capture_output=True, text=True, timeout=120)
    assert json.loads(as_json.stdout)["monitor"] == "churn-drift"
    assert json.loads(as_json.stdout)["features"][0]["bins"]
    bins = subprocess.run([sys.executable, "-m", "console.cli", "--workspace-dir", str(ws.folder.root), "monitor",
                           "show", "churn-drift", "--feature", "contract_type"], capture_output=True, text=True,
                          timeout=60)
    assert bins.returncode == 0, bins.stderr
    histogram = bins.stdout.split("\n\n")[-1].splitlines()
    assert histogram[0].split() == ["CONTRACT_TYPE", "BASELINE", "PRODUCTION"]
    assert any(line.startswith("Month-to-month") and line.endswith("%") for line in histogram[1:])


def test_a_monitor_of_a_missing_endpoint_says_so(ws, tmp_path):
    spec = tmp_path / "orphan.yml"
    text = (SPECS / "monitoring" / "churn-drift.yml").read_text()
    spec.write_text(text.replace("name: churn-drift", "name: orphan-drift").replace("azureml:churn-ep:blue",
                                                                                    "azureml:nowhere-ep:blue"))
    ws.assets.create(str(spec))
    with pytest.raises(NotFound, match="nowhere-ep"):
        ws.monitors.run("orphan-drift")
    cli = subprocess.run([sys.executable, "-m", "console.cli", "--workspace-dir", str(ws.folder.root), "drift",
                          "nowhere-ep"], capture_output=True, text=True, timeout=60)
    assert cli.returncode == 2 and "Traceback" not in cli.stderr and "nowhere-ep" in cli.stderr
