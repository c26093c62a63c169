"""Every key that changes the workspace, pressed over every backend (`app_all_backends` in
conftest.py: canned, azure over the fake ARM, a local daemon): its effect is read back from the
workspace (the write happened and was audited, with the split before and after for traffic, or
the refusal was shown and nothing changed), its confirmation's default (enter; esc for the
traffic sliders) changes nothing, and what the confirmation says is the backend's own (where a
rollback goes, how a job is canceled, a monitor's window). Panes are focused by name, not by
their number keys, which follow the screen's order.

The local workspace is shared by the module: each test states the starting point it needs and
puts back what it changed. Deploy green goes last: it deletes green before deploying it again.
"""

from __future__ import annotations

import re

import pytest
from textual.widgets import DataTable

from console.domain import AuditEntry, Operation
from console.ui.app import AmlopsApp
from console.ui.messages import JobSubmitted
from console.ui.screens.modals import ConfirmModal, InputModal, PickModal, ProgressModal, TrafficModal
from console.workspace import Workspace

from helpers import until, wait_until

ENDPOINT = "churn-ep"
SIZE = (120, 40)
WRITE_S = 60  # a write's round trip on the slowest backend (the daemon deploying green is longer)


# --- helpers --------------------------------------------------------------------------------------


def finished(ws: Workspace, op: Operation) -> None:
    done = ws.operations.wait(op.id, timeout_s=WRITE_S)
    assert done.status == "Succeeded", done.error


def start_from(ws: Workspace, live: dict[str, int]) -> None:
    """churn-ep's split as `live`, mirroring off, through the workspace."""
    finished(ws, ws.endpoints.set_mirror(ENDPOINT, {}))
    if {k: v for k, v in ws.endpoints.get(ENDPOINT).traffic.live.items() if v} != {k: v for k, v in live.items() if v}:
        finished(ws, ws.endpoints.set_traffic(ENDPOINT, live))


def traffic(ws: Workspace) -> tuple[dict[str, int], dict[str, int]]:
    t = ws.endpoints.get(ENDPOINT).traffic
    return dict(t.live), dict(t.mirror)


def audit_mark(ws: Workspace) -> int:
    """How many entries the audit log holds (it only grows), to tell what it took after."""
    return len(ws.audit.list())


def audited_since(ws: Workspace, mark: int) -> list[AuditEntry]:
    """What the audit log took after `mark`, newest first: every write, and on the local
    workspace every refused attempt too (its result says Rejected or Failed)."""
    entries = ws.audit.list()
    return entries[:len(entries) - mark]


def no_write_since(ws: Workspace, mark: int) -> bool:
    return all(e.result != "Succeeded" for e in audited_since(ws, mark))


def rows(app: AmlopsApp, pane: str) -> list[str]:
    tables = app.console_screen.query(f"#{pane}")
    return [key.value for key in tables.first().query(DataTable).first().rows] if tables else []


async def loaded(pilot, app: AmlopsApp) -> None:
    await until(pilot, lambda: all(rows(app, pane) for pane in ("jobs", "compute", "endpoints", "drift")),
                what="every pane's rows")


async def seen(pilot, app: AmlopsApp, live: dict[str, int]) -> None:
    """Refresh (r) until the console has read churn-ep's split as `live`."""
    await pilot.press("r")
    await until(pilot, lambda: any(e.name == ENDPOINT and dict(e.traffic.live) == live
                                   for e in app.console_screen.snapshot.endpoints or []), what=f"the console to read {live}")


def focus(app: AmlopsApp, pane: str) -> None:
    app.console_screen.action_focus_pane(pane)


async def modal(pilot, app: AmlopsApp, kind: type, timeout: float = 30) -> None:
    await until(pilot, lambda: isinstance(app.screen, kind), timeout, f"a {kind.__name__}")


async def no_means_no(pilot, app: AmlopsApp, ws: Workspace, state) -> None:
    """On the confirmation: enter (the default) refuses, and nothing changes."""
    assert isinstance(app.screen, ConfirmModal)
    before, mark = state(), audit_mark(ws)
    await pilot.press("enter")
    await until(pilot, lambda: len(app.screen_stack) == 1, 5, "the confirmation to close")
    await quiet(pilot, app)
    assert state() == before and audited_since(ws, mark) == []  # not even attempted


async def quiet(pilot, app: AmlopsApp) -> None:
    """No action is running (what "no" would have started has had its chance)."""
    for _ in range(3):
        await until(pilot, lambda: not [w for w in app.workers if w.group == "action" and not w.is_finished], 5,
                    "the actions to end")


async def outcome(pilot, app: AmlopsApp, since: int, timeout: float = WRITE_S) -> tuple[str, str, str]:
    """The first action's end notified after notice number `since`: (title, message, severity)."""
    def ended():
        return next((n for n in app.notices[since:] if "done" in n[0] or "failed" in n[0]), None)

    return await until(pilot, ended, timeout, "the action's end")


async def notice(pilot, app: AmlopsApp, since: int, text: str) -> None:
    await until(pilot, lambda: any(text in n[1] for n in app.notices[since:]), 10, f"a notice saying {text!r}")


# --- the keys ---------------------------------------------------------------------------------------


async def test_t_moves_the_split_esc_changes_nothing_and_a_mirrored_deployment_is_refused(app_all_backends):
    backend, app = app_all_backends
    ws = app.ws
    start_from(ws, {"blue": 100, "green": 0})
    try:
        async with app.run_test(size=SIZE) as pilot:
            await loaded(pilot, app)
            focus(app, "endpoints")
            await pilot.press("t")
            await modal(pilot, app, TrafficModal)
            before, mark = traffic(ws), audit_mark(ws)
            await pilot.press("1", "escape")  # 90/10 previewed, then esc
            await until(pilot, lambda: len(app.screen_stack) == 1, 5, "the sliders to close")
            await quiet(pilot, app)
            assert traffic(ws) == before and audited_since(ws, mark) == []

            await pilot.press("t")
            await modal(pilot, app, TrafficModal)
            await pilot.press("1", "enter")  # 90/10: enter only opens the confirmation
            await modal(pilot, app, ConfirmModal)
            assert app.screen.detail == "live traffic: blue 100 → 90 %, green 0 → 10 %"
            await no_means_no(pilot, app, ws, lambda: traffic(ws))

            since = len(app.notices)
            await pilot.press("t")
            await modal(pilot, app, TrafficModal)
            await pilot.press("1", "enter")
            await modal(pilot, app, ConfirmModal)
            await pilot.press("y")
            title, message, severity = await outcome(pilot, app, since)
            assert severity == "information", (title, message)
            assert traffic(ws) == ({"blue": 90, "green": 10}, {})
            entry = ws.audit.list(limit=1)[0]
            assert entry.operation == "endpoints.set_traffic"
            if backend != "canned":  # the workspaces' own audit logs say the split (the canned one keeps none)
                assert entry.detail == "live blue=100 green=0 → blue=90 green=10", (backend, entry)

            # Azure's rule: a deployment that takes mirrored traffic takes no live traffic.
            finished(ws, ws.endpoints.set_traffic(ENDPOINT, {"blue": 100, "green": 0}))
            finished(ws, ws.endpoints.set_mirror(ENDPOINT, {"green": 10}))
            await seen(pilot, app, {"blue": 100, "green": 0})  # the sliders start from what the console read
            before, mark = traffic(ws), audit_mark(ws)
            since = len(app.notices)
            await pilot.press("t")
            await modal(pilot, app, TrafficModal)
            await pilot.press("2", "enter")  # 50/50
            await modal(pilot, app, ConfirmModal)
            await pilot.press("y")
            title, message, severity = await outcome(pilot, app, since)
            assert severity == "error" and "mirror" in message, (backend, title, message)
            assert traffic(ws) == before and no_write_since(ws, mark)
    finally:
        start_from(ws, {"blue": 100, "green": 0})


async def test_b_rolls_back_to_blue_and_mirroring_off(app_all_backends):
    backend, app = app_all_backends
    ws = app.ws
    start_from(ws, {"blue": 100, "green": 0})
    finished(ws, ws.endpoints.set_traffic(ENDPOINT, {"blue": 50, "green": 50}))
    try:
        async with app.run_test(size=SIZE) as pilot:
            await loaded(pilot, app)
            focus(app, "endpoints")
            await pilot.press("b")
            await modal(pilot, app, ConfirmModal)
            assert app.screen.question == f"Roll back {ENDPOINT} to blue?"  # as the backend's rollback picks it
            assert re.fullmatch(r"all live traffic to blue \((\d) of \1 instances ready\), mirroring off\n"
                                r"live traffic: blue 50 → 100 %, green 50 → 0 %", app.screen.detail), app.screen.detail
            await no_means_no(pilot, app, ws, lambda: traffic(ws))
            assert traffic(ws) == ({"blue": 50, "green": 50}, {})

            since = len(app.notices)
            await pilot.press("b")
            await modal(pilot, app, ConfirmModal)
            await pilot.press("y")
            title, message, severity = await outcome(pilot, app, since)
            assert severity == "information", (title, message)
            assert traffic(ws) == ({"blue": 100, "green": 0}, {})
            entry = ws.audit.list(limit=1)[0]
            assert entry.operation == "endpoints.rollback"
            if backend != "canned":
                assert entry.detail == "live blue=50 green=50 → blue=100 green=0", (backend, entry)
    finally:
        start_from(ws, {"blue": 100, "green": 0})


async def test_x_stops_the_idle_instance_then_finds_none_left(app_all_backends):
    backend, app = app_all_backends
    ws = app.ws
    assert ws.compute.get("dev-instance").state == "Running"
    try:
        async with app.run_test(size=SIZE) as pilot:
            await loaded(pilot, app)
            focus(app, "compute")
            await pilot.press("x")
            await modal(pilot, app, ConfirmModal)
            assert "dev-instance" in app.screen.question
            await no_means_no(pilot, app, ws, lambda: [(c.name, c.state) for c in ws.compute.list()])
            assert ws.compute.get("dev-instance").state == "Running"

            since = len(app.notices)
            await pilot.press("x")
            await modal(pilot, app, ConfirmModal)
            await pilot.press("y")
            title, message, severity = await outcome(pilot, app, since)
            assert severity == "information" and "dev-instance" in message, (title, message)
            assert ws.compute.get("dev-instance").state == "Stopped"
            assert ws.compute.get("dev-instance").last_operation.trigger == "User"
            assert ws.audit.list(limit=1)[0].operation == "compute.stop"

            # Once the pane shows it stopped, nothing is idle: x says so and asks nothing.
            await until(pilot, lambda: any(c.name == "dev-instance" and c.state == "Stopped"
                                           for c in app.snapshot.computes or ()), 30, "dev-instance shown stopped")
            since = len(app.notices)
            await pilot.press("x")
            await notice(pilot, app, since, "no idle compute instance")
            assert not isinstance(app.screen, ConfirmModal)
    finally:
        if ws.compute.get("dev-instance").state != "Running":
            finished(ws, ws.compute.start("dev-instance"))
            wait_until(lambda: ws.compute.get("dev-instance").state == "Running", 30, "dev-instance to start")


async def test_c_cancels_the_selected_job_and_an_ended_job_is_refused(app_all_backends):
    backend, app = app_all_backends
    ws = app.ws
    job = next(j for j in ws.jobs.list() if not j.is_terminal)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, app)
        await until(pilot, lambda: job.name in rows(app, "jobs"), what=f"{job.name} in the jobs pane")
        focus(app, "jobs")
        await pilot.press(*["down"] * rows(app, "jobs").index(job.name))
        assert app.console_screen.query_one("#jobs").selected_job() == job.name
        await pilot.press("c")
        await modal(pilot, app, ConfirmModal)
        assert job.name in app.screen.question
        # The workspace's own words: a local job is a process group; Azure cancels its run.
        assert ("process group" in app.screen.detail) == (ws.backend == "local"), (backend, app.screen.detail)
        assert ("Azure cancels the run" in app.screen.detail) == (ws.backend == "azure"), (backend, app.screen.detail)
        await no_means_no(pilot, app, ws, lambda: ws.jobs.get(job.name).status)
        assert not ws.jobs.get(job.name).is_terminal

        since = len(app.notices)
        await pilot.press("c")
        await modal(pilot, app, ConfirmModal)
        await pilot.press("y")
        title, message, severity = await outcome(pilot, app, since)
        assert severity == "information" and job.name in message, (title, message)
        wait_until(lambda: ws.jobs.get(job.name).status == "Canceled", 30, f"{job.name} to be canceled")
        assert ws.audit.list(limit=1)[0].operation == "jobs.cancel"

        # Azure's rule: a job that has ended cannot be canceled. Once the pane shows it ended,
        # c says so and asks nothing.
        await until(pilot, lambda: any(j.name == job.name and j.status == "Canceled"
                                       for j in app.snapshot.jobs or ()), 30, f"{job.name} shown Canceled")
        mark = audit_mark(ws)
        since = len(app.notices)
        await pilot.press("c")
        await notice(pilot, app, since, f"job {job.name} already Canceled: nothing to cancel")
        assert not isinstance(app.screen, ConfirmModal)
        assert ws.jobs.get(job.name).status == "Canceled" and audited_since(ws, mark) == []


async def test_m_runs_the_selected_monitor(app_all_backends):
    backend, app = app_all_backends
    ws = app.ws
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, app)
        focus(app, "drift")
        await pilot.press("m")
        await modal(pilot, app, ConfirmModal)
        assert "churn-drift" in app.screen.question
        # The window of the workspace in use, and only that one.
        if ws.backend == "local":
            assert app.screen.detail.startswith("over one period of its schedule"), (backend, app.screen.detail)
        else:
            assert app.screen.detail == "over the serving data collected in the last hour, ending now", app.screen.detail
        await no_means_no(pilot, app, ws, lambda: None)

        since = len(app.notices)
        await pilot.press("m")
        await modal(pilot, app, ConfirmModal)
        await pilot.press("y")
        title, message, severity = await outcome(pilot, app, since)
        assert severity == "information" and message.startswith("churn-drift: "), (title, message)
        entry = ws.audit.list(limit=1)[0]
        assert (entry.operation, entry.target) == ("monitors.run", "churn-drift")


async def test_s_submits_a_job_yaml_with_overrides_where_the_backend_submits(app_all_backends):
    backend, app = app_all_backends
    ws = app.ws

    async def up_to_the_confirmation() -> None:
        await pilot.press("s")
        await modal(pilot, app, PickModal)
        assert app.screen.options[0] == "specs/jobs/echo.yml"
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, InputModal) and "overrides" in app.screen.question,
                    what="the overrides, after lint")
        await pilot.press(*"inputs.word=world", "enter")
        await modal(pilot, app, ConfirmModal)
        assert "echo.yml" in app.screen.question and "inputs.word=world" in app.screen.detail

    jobs = lambda: {j.name for j in ws.jobs.list()}  # noqa: E731
    before = jobs()
    submitted: list[str] = []  # JobSubmitted, for the jobs pane's cursor to follow
    seen: set[int] = set()  # the hook sees a message at each node it bubbles through

    def hook(message) -> None:
        if isinstance(message, JobSubmitted) and id(message) not in seen:
            seen.add(id(message))
            submitted.append(message.name)

    async with app.run_test(size=SIZE, message_hook=hook) as pilot:
        await loaded(pilot, app)
        await up_to_the_confirmation()
        await no_means_no(pilot, app, ws, jobs)

        since = len(app.notices)
        await up_to_the_confirmation()
        await pilot.press("y")
        title, message, severity = await outcome(pilot, app, since)
    if "jobs.submit" not in ws.capabilities:
        assert severity == "error" and "jobs.submit" in message, (backend, title, message)
        assert jobs() == before and submitted == []
        return
    assert severity == "information", (backend, title, message)
    (new,) = jobs() - before
    assert new in message and submitted == [new]
    assert ws.audit.list(limit=1)[0].operation == "jobs.submit"
    if backend == "local":  # it runs: the override reached the command
        wait_until(lambda: ws.jobs.get(new).is_terminal, 30, f"{new} to end")
        assert ws.jobs.get(new).status == "Completed" and "world" in "".join(ws.jobs.logs(new))


async def test_g_deploys_green_at_zero_where_the_backend_creates_deployments(app_all_backends):
    backend, app = app_all_backends
    ws = app.ws
    start_from(ws, {"blue": 100, "green": 0})
    finished(ws, ws.endpoints.delete_deployment(ENDPOINT, "green"))
    deployments = lambda: [d.name for d in ws.endpoints.get(ENDPOINT).deployments]  # noqa: E731
    assert deployments() == ["blue"]
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, app)
        await pilot.press("g")
        await modal(pilot, app, PickModal)
        models = [f"{m.name}:{m.version}" for m in ws.models.list()]
        assert models and app.screen.options == models
        ref = models[0]
        await pilot.press("enter")
        await modal(pilot, app, ConfirmModal)
        assert ref in app.screen.question and ENDPOINT in app.screen.question
        await no_means_no(pilot, app, ws, deployments)

        await pilot.press("g")
        await modal(pilot, app, PickModal)
        await pilot.press("enter")
        await modal(pilot, app, ConfirmModal)
        await pilot.press("y")
        await modal(pilot, app, ProgressModal)
        progress = app.screen
        await until(pilot, lambda: progress.outcome is not None, 120, "green's deployment to end")
        if "assets.create" not in ws.capabilities:
            assert "✗" in progress.outcome and "assets.create" in progress.outcome, (backend, progress.outcome)
            assert deployments() == ["blue"]
            return
        assert "✓" in progress.outcome and "ready at 0 % traffic" in progress.outcome, (backend, progress.outcome)
        await pilot.press("escape")
    green = next(d for d in ws.endpoints.get(ENDPOINT).deployments if d.name == "green")
    assert green.provisioning_state == "Succeeded" and green.model.removeprefix("azureml:") == ref
    assert green.ready_instances == green.instance_count == 1  # project_specs' green
    assert traffic(ws)[0] == {"blue": 100, "green": 0}
    assert ws.audit.list(limit=1)[0].operation == "endpoints.create_deployment"


@pytest.mark.integration
async def test_after_a_monitor_run_a_features_histograms_show_on_the_local_daemon(local_ui_workspace, project_specs):
    """The drift pane's chart, against real collected data: load on blue, m, then a feature."""
    from console.loadgen import churn_payloads, run_load

    ws = local_ui_workspace
    endpoint, key = ws.endpoints.get(ENDPOINT), ws.endpoints.keys(ENDPOINT).primary
    sent = run_load(endpoint.scoring_uri, key, churn_payloads(300, drift=0.5), rps=150, duration_s=2,
                    deployment="blue", concurrency=4)
    assert sent.failures == 0, sent.to_dict()
    app = AmlopsApp(ws, specs=project_specs, refresh_s=0.5)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: "churn-drift" in rows(app, "drift"))
        focus(app, "drift")
        await pilot.press("m")
        await modal(pilot, app, ConfirmModal)
        await pilot.press("y")
        await until(pilot, lambda: app.snapshot is not None and "churn-drift" in app.snapshot.reports, 120)
        pane = app.query_one("#drift")
        await until(pilot, lambda: pane.features_table.row_count > 0)
        pane.features_table.focus()
        focus(app, "drift")
        await pilot.press("z")  # zoomed: room for the chart
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
