"""The console's actions driven from the keyboard against a real local daemon in a temporary
folder, end to end: traffic and rollback, stop idle, cancel, submit, deploy green, run a monitor.
What changes nothing (zoom, help, keymap, palette, filter, read-only) is in test_keys.py, over
the canned workspace."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from console.local.client import LocalWorkspace, stop_daemon
from console.ui.app import AmlopsApp
from console.ui.panes.jobs import JobsPane
from console.ui.screens.modals import ConfirmModal, InputModal, PickModal, ProgressModal, TrafficModal

from helpers import FAST_PROBES, until, wait_until

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SPECS = ROOT / "specs"
SLEEPER = """$schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json
command: sleep 120
environment: azureml://registries/azureml/environments/sklearn-1.5/versions/1
compute: azureml:cpu-cluster
experiment_name: ui
display_name: sleeper
"""


@pytest.fixture(scope="module")
def ws(tmp_path_factory, churn_model):
    root = tmp_path_factory.mktemp("ui")
    workspace = LocalWorkspace(root / "ws")
    try:
        for spec in ("compute/cpu-cluster.yml", "compute/dev-instance.yml", "data/churn-features.yml"):
            workspace.assets.create(str(SPECS / spec))  # the data asset: the monitor's reference_data
        workspace.models.register("churn-classifier", path=str(churn_model))
        workspace.endpoints.create(str(SPECS / "endpoints" / "churn-ep.yml"))
        # Both at once: their model servers start side by side.
        ops = [workspace.endpoints.create_deployment(str(SPECS / "endpoints" / spec), {**FAST_PROBES, "instance_count": 1})
               for spec in ("blue-deployment.yml", "green-deployment.yml")]
        for op in ops:
            done = workspace.operations.wait(op.id, timeout_s=180)
            assert done.status == "Succeeded", done.error
        workspace.endpoints.set_traffic("churn-ep", {"blue": 100})
        workspace.assets.create(str(SPECS / "monitoring" / "churn-drift.yml"))
        (root / "sleeper.yml").write_text(SLEEPER)
        workspace.jobs.submit(str(root / "sleeper.yml"))
        yield workspace
    finally:
        for job in workspace.jobs.list():
            if not job.is_terminal:
                workspace.jobs.cancel(job.name)
        for endpoint in workspace.endpoints.list():
            workspace.endpoints.delete(endpoint.name)
        stop_daemon(workspace.folder)


def rows(app: AmlopsApp, pane_id: str) -> list[str]:
    from textual.widgets import DataTable

    table = app.query_one(f"#{pane_id}").query(DataTable).first()
    return [key.value for key in table.rows]


async def test_traffic_modal_moves_the_split_and_rollback_restores_it(ws):
    app = AmlopsApp(ws, specs=SPECS, refresh_s=0.5)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: "churn-ep/green" in rows(app, "endpoints"))
        await pilot.press("4", "t")
        assert isinstance(app.screen, TrafficModal)
        await pilot.press("1")  # preset 90/10
        await pilot.press("down", "shift+right")  # green +10 -> 80/20
        assert app.screen.split == {"blue": 80, "green": 20}
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        assert ws.endpoints.get("churn-ep").traffic.live == {"blue": 80, "green": 20}
        await pilot.press("b")
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("y")
        await app.workers.wait_for_complete()
        assert ws.endpoints.get("churn-ep").traffic.live == {"blue": 100, "green": 0}


async def test_stop_idle_instance_asks_first(ws):
    app = AmlopsApp(ws, specs=SPECS, refresh_s=0.5)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: "dev-instance" in rows(app, "compute"))
        await pilot.press("3", "x")
        assert isinstance(app.screen, ConfirmModal) and "dev-instance" in app.screen.question
        await pilot.press("n")  # refusing changes nothing
        assert ws.compute.get("dev-instance").state == "Running"
        await pilot.press("x")
        await pilot.press("y")
        await app.workers.wait_for_complete()
        assert ws.compute.get("dev-instance").state == "Stopped"
        assert ws.compute.get("dev-instance").last_operation.trigger == "User"


async def test_cancel_the_selected_job(ws):
    app = AmlopsApp(ws, specs=SPECS, refresh_s=0.5)
    async with app.run_test(size=(120, 40)) as pilot:
        running = next(j for j in ws.jobs.list() if j.display_name == "sleeper")
        await until(pilot, lambda: running.name in rows(app, "jobs"))
        await pilot.press("1")
        assert app.query_one(JobsPane).selected_job() == running.name
        await pilot.press("c", "y")
        await app.workers.wait_for_complete()
        wait_until(lambda: ws.jobs.get(running.name).status == "Canceled", timeout=30)


async def test_submit_a_job_yaml_after_lint_with_overrides(ws, tmp_path):
    spec = tmp_path / "echo.yml"
    # serverless (no compute): the cluster's quota is taken by the fixture's sleeper and endpoints
    spec.write_text(SLEEPER.replace("command: sleep 120", "command: echo ${{inputs.word}}")
                    .replace("compute: azureml:cpu-cluster\n", "")
                    .replace("display_name: sleeper", "display_name: echo\ninputs:\n  word: hello"))
    before = {j.name for j in ws.jobs.list()}
    app = AmlopsApp(ws, specs=SPECS, refresh_s=0.5)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("s")
        assert isinstance(app.screen, PickModal)
        await pilot.press("end", "enter")  # "another path…"
        assert isinstance(app.screen, InputModal)
        await pilot.press(*str(spec), "enter")
        await until(pilot, lambda: isinstance(app.screen, InputModal) and "overrides" in app.screen.question)
        await pilot.press(*"inputs.word=world", "enter")
        assert isinstance(app.screen, ConfirmModal) and "inputs.word=world" in app.screen.detail
        await pilot.press("y")
        await app.workers.wait_for_complete()
    (new,) = {j.name for j in ws.jobs.list()} - before
    wait_until(lambda: ws.jobs.get(new).is_terminal, timeout=30)
    assert ws.jobs.get(new).status == "Completed"
    assert "world" in "".join(ws.jobs.logs(new))


async def test_deploy_green_from_a_registered_model_version(ws):
    ws.endpoints.delete_deployment("churn-ep", "green")
    app = AmlopsApp(ws, specs=SPECS, refresh_s=0.5)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("g")
        await until(pilot, lambda: isinstance(app.screen, PickModal))
        assert app.screen.options == ["churn-classifier:1"]
        await pilot.press("enter")
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("y")
        progress = app.screen
        assert isinstance(progress, ProgressModal)
        await until(pilot, lambda: progress.outcome is not None, timeout=120)
        # The steps were shown as they happened, ending at the instances being ready.
        assert "ready at 0 % traffic" in progress.outcome and "✓" in progress.outcome
        assert progress.steps["op"].endswith("Succeeded")
        count = yaml.safe_load((SPECS / "endpoints" / "green-deployment.yml").read_text())["instance_count"]
        assert progress.steps["instances"].startswith(f"green Succeeded: {count} of {count} instances loaded the model")
        await pilot.press("escape")
        assert not isinstance(app.screen, ProgressModal)
    green = next(d for d in ws.endpoints.get("churn-ep").deployments if d.name == "green")
    assert green.provisioning_state == "Succeeded" and green.model == "churn-classifier:1"
    assert ws.endpoints.get("churn-ep").traffic.live["green"] == 0


async def test_run_monitor_then_a_features_histograms(ws):
    from console.loadgen import churn_payloads, run_load

    endpoint, key = ws.endpoints.get("churn-ep"), ws.endpoints.keys("churn-ep").primary
    sent = run_load(endpoint.scoring_uri, key, churn_payloads(300, drift=0.5), rps=150, duration_s=2,
                    deployment="blue", concurrency=4)
    assert sent.failures == 0, sent.to_dict()
    app = AmlopsApp(ws, specs=SPECS, refresh_s=0.5)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: "churn-drift" in rows(app, "drift"))
        await pilot.press("5", "m")
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("y")
        await until(pilot, lambda: app.snapshot is not None and "churn-drift" in app.snapshot.reports,
                     timeout=120)
        pane = app.query_one("#drift")
        await until(pilot, lambda: pane.features_table.row_count > 0)
        pane.features_table.focus()
        await pilot.press("5", "z")  # zoomed: room for the chart
        pane.features_table.focus()
        await pilot.press("enter")
        await until(pilot, lambda: pane.histograms.has_chart)
        chosen = pane.histograms.feature
        assert chosen == pane.selected_feature()
        text = pane.histograms.render().plain
        assert chosen in text and "baseline" in text and "production" in text
        report = app.snapshot.reports["churn-drift"]
        bins = next(f.bins for f in report.features if f.feature == chosen)
        assert bins and bins[0] in text  # the x axis names the report's own bins
