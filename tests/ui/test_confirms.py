"""What the console asks before it changes anything, over the canned workspace: enter on every
confirmation that writes changes nothing (the traffic sliders' enter included: it only opens the
confirmation, with the split before → after); a rollback names where traffic goes and how ready
that deployment is; deploy green says what it adds to the bill and to the quota; a job that has
ended is said to have ended, without asking; the lint before a submit shows a spinner. Each
backend's own words (the cancel, the monitor's window) are pinned over every backend in
test_action_keys.py."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import DataTable

from canned_app import CannedApp
from console.domain import Endpoint
from console.ui.screens.modals import BusyModal, ConfirmModal, InputModal, PickModal, TrafficModal
from fakes.canned import CannedWorkspace
from helpers import until

SIZE = (120, 40)
ENDPOINT = "churn-ep"
GREEN = """name: green
endpoint_name: churn-ep
model: azureml:churn-classifier:1
instance_type: {size}
instance_count: {count}
"""
ECHO_JOB = """$schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json
command: echo hello
environment: azureml://registries/azureml/environments/sklearn-1.5/versions/1
experiment_name: ui
"""


class WatchedApp(CannedApp):
    """The canned console, keeping every notification and every screen it pushed."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.notices: list[tuple[str, str, str]] = []
        self.pushed: list[Any] = []

    def notify(self, message: str, *, title: str = "", severity: str = "information", **kw: Any) -> None:
        self.notices.append((title, str(message), severity))
        super().notify(message, title=title, severity=severity, **kw)

    def push_screen(self, screen: Any, *args: Any, **kw: Any) -> Any:
        self.pushed.append(screen)
        return super().push_screen(screen, *args, **kw)


def specs_with_green(tmp_path: Path, size: str = "Standard_DS2_v2", count: int = 1) -> Path:
    specs = tmp_path / "specs"
    (specs / "endpoints").mkdir(parents=True)
    (specs / "jobs").mkdir()
    (specs / "endpoints" / "green-deployment.yml").write_text(GREEN.format(size=size, count=count))
    (specs / "jobs" / "echo.yml").write_text(ECHO_JOB)
    return specs


def state(ws: CannedWorkspace) -> tuple:
    """Everything a write could change, and the audit log."""
    return (tuple(ws.state.jobs), tuple(ws.state.computes), tuple(ws.state.endpoints), len(ws.state.audit))


def replace_deployment(ws: CannedWorkspace, name: str, **changes: Any) -> None:
    endpoint = ws.state.endpoints[0]
    deployments = tuple(dataclasses.replace(d, **changes) if d.name == name else d for d in endpoint.deployments)
    ws.state.endpoints = [dataclasses.replace(endpoint, deployments=deployments)]


async def loaded(pilot, app: CannedApp) -> None:
    await until(pilot, lambda: app.snapshot is not None and app.snapshot.endpoints and app.snapshot.jobs
                and app.snapshot.monitors and app.snapshot.quotas, what="the first read")


async def on_top(pilot, app: CannedApp, kind: type) -> Any:
    return await until(pilot, lambda: isinstance(app.screen, kind) and app.screen, 10, f"a {kind.__name__}")


def endpoint(app: CannedApp) -> Endpoint:
    return next(e for e in app.snapshot.endpoints if e.name == ENDPOINT)


# --- enter never writes ----------------------------------------------------------------------------


async def test_enter_in_the_traffic_sliders_opens_the_confirmation_with_the_split_and_enter_there_says_no():
    app = WatchedApp()
    ws = app.ws
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, app)
        await pilot.press("t")
        await on_top(pilot, app, TrafficModal)
        before = state(ws)
        await pilot.press("3", "enter")  # 0/100, the report's keys
        confirm = await on_top(pilot, app, ConfirmModal)
        assert confirm.question == f"Set the traffic of {ENDPOINT}?"
        assert confirm.detail == "live traffic: blue 90 → 0 %, green 10 → 100 %"
        await pilot.press("enter")
        await until(pilot, lambda: len(app.screen_stack) == 1, 5, "the confirmation to close")
        assert state(ws) == before

        await pilot.press("t")
        await on_top(pilot, app, TrafficModal)
        await pilot.press("3", "enter")
        await on_top(pilot, app, ConfirmModal)
        await pilot.press("y")
        await until(pilot, lambda: dict(ws.endpoints.get(ENDPOINT).traffic.live) == {"blue": 0, "green": 100}, 5,
                    "the split to move after y")


async def test_the_sliders_preview_the_capacity_check_a_rollout_step_makes():
    """Little's law on the canned figures (20 requests/s in all, green's p99 52 ms) against what
    green's instances admit (instances x max_concurrent_requests_per_instance x 2)."""
    ws = CannedWorkspace()
    app = WatchedApp(ws)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, app)
        await pilot.press("t")
        modal = await on_top(pilot, app, TrafficModal)
        await pilot.press("3")  # 0/100
        await pilot.pause()
        preview = str(modal.query_one("#preview").render())
        assert "green at 100 %: 20.0 req/s x 100 % x 52 ms p99 = 1.0 in flight, within 2 instances x 2 " \
               "concurrent x 2 = 8 in flight" in preview and "⚠" not in preview
        await pilot.press("escape")
    serving = ws.endpoints.metrics(ENDPOINT)  # ten times the traffic: 200 requests/s, 10.5 in flight
    ws.endpoints.metrics = lambda name, **kw: [dataclasses.replace(m, rps=m.rps * 10) for m in serving]
    app = WatchedApp(ws)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, app)
        await pilot.press("t")
        modal = await on_top(pilot, app, TrafficModal)
        await pilot.press("3")
        await pilot.pause()
        preview = str(modal.query_one("#preview").render())
        assert "⚠ green at 100 %" in preview and "add instances to green before this step" in preview


async def test_the_sliders_warn_when_a_deployment_taking_traffic_is_not_ready():
    ws = CannedWorkspace()
    replace_deployment(ws, "green", ready_instances=1)
    app = WatchedApp(ws)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, app)
        await pilot.press("t")
        await on_top(pilot, app, TrafficModal)
        await pilot.press("2", "enter")  # 50/50: green takes more
        confirm = await on_top(pilot, app, ConfirmModal)
        assert "green has 1 of 2 instances ready" in confirm.warning


async def reach(pilot, app: WatchedApp, key: str) -> ConfirmModal:
    """Press `key` and answer what comes before its confirmation (a pick, the overrides)."""
    await pilot.press(key)
    while True:
        screen = await until(pilot, lambda: len(app.screen_stack) > 1 and not isinstance(app.screen, BusyModal)
                             and app.screen, 30, f"what {key} opens")
        if isinstance(screen, ConfirmModal):
            return screen
        if isinstance(screen, TrafficModal):
            await pilot.press("2", "enter")
        elif isinstance(screen, PickModal | InputModal):
            await pilot.press("enter")
        await until(pilot, lambda: app.screen is not screen, 10, f"{type(screen).__name__} to close")


async def test_enter_on_the_confirmation_of_every_write_changes_nothing(tmp_path):
    """The seven keys that write; each asks, and enter (meant for the list underneath) says no.
    One console for the seven: nothing it does in between may change anything either."""
    app = WatchedApp(specs=specs_with_green(tmp_path))
    ws = app.ws
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, app)
        app.console_screen.action_focus_pane("jobs")  # c: the highlighted job, calm_river (Running)
        before = state(ws)
        for key in ("t", "b", "x", "c", "m", "s", "g"):
            confirm = await reach(pilot, app, key)
            await pilot.press("enter")
            await until(pilot, lambda: len(app.screen_stack) == 1, 5, f"{key}'s confirmation to close")
            await pilot.pause()
            assert state(ws) == before, (key, confirm.question)
            assert not [w for w in app.workers if w.group == "action"], (key, confirm.question)  # nothing started


async def test_enter_on_the_demo_offer_sets_nothing_up():
    ws = CannedWorkspace()
    ws.state.jobs, ws.state.computes, ws.state.endpoints = [], [], []
    calls: list[Any] = []
    app = WatchedApp(ws, demo=lambda **kw: calls.append(kw) or 0)
    async with app.run_test(size=SIZE) as pilot:
        confirm = await on_top(pilot, app, ConfirmModal)
        assert "demo" in confirm.question
        await pilot.press("enter")
        await until(pilot, lambda: len(app.screen_stack) == 1, 5, "the offer to close")
        await pilot.pause()
        assert calls == [] and not [w for w in app.workers if w.name == "demo"]


# --- rollback names where traffic goes ---------------------------------------------------------------


async def test_rollback_names_the_stable_deployment_with_its_readiness_and_the_split():
    app = WatchedApp()
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, app)
        assert endpoint(app).full_history == ("blue",)
        await pilot.press("b")
        confirm = await on_top(pilot, app, ConfirmModal)
        assert confirm.question == f"Roll back {ENDPOINT} to blue?"
        assert confirm.detail == ("all live traffic to blue (2 of 2 instances ready), mirroring off\n"
                                  "live traffic: blue 90 → 100 %, green 10 → 0 %")
        assert confirm.warning == ""


async def test_rollback_to_a_deployment_with_no_ready_instance_says_so_loudly():
    ws = CannedWorkspace()
    replace_deployment(ws, "blue", ready_instances=0)
    app = WatchedApp(ws)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, app)
        await pilot.press("b")
        confirm = await on_top(pilot, app, ConfirmModal)
        assert "blue (0 of 2 instances ready)" in confirm.detail
        assert "blue HAS NO READY INSTANCE" in confirm.warning
        assert "⚠" in str(confirm.query_one("#warning").render())


async def test_rollback_with_nothing_to_go_back_to_says_so_without_asking():
    ws = CannedWorkspace()
    ws.endpoints.set_traffic(ENDPOINT, {"blue": 100, "green": 0})  # blue, the only one seen at 100 %, has it all
    app = WatchedApp(ws)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, app)
        await pilot.press("b")
        await until(pilot, lambda: any("nothing to roll back to" in n[1] for n in app.notices), 5)
        assert not any(isinstance(s, ConfirmModal) for s in app.pushed)


# --- deploy green's bill and quota -------------------------------------------------------------------


GREEN_CASES = [
    # DS2_v2 at $0.146/hour, 2 vCPUs; an online instance holds quota for 1.2 (rounded up: 2 instances).
    ("Standard_DS2_v2", 1, "adds $0.15/hour (1 × Standard_DS2_v2); standardDSv2Family quota 20 → 24 of 24 vCPUs "
                           "with the 20 % upgrade reserve", ""),
    ("Standard_DS2_v2", 2, "adds $0.29/hour (2 × Standard_DS2_v2); standardDSv2Family quota 20 → 26 of 24 vCPUs "
                           "with the 20 % upgrade reserve", "standardDSv2Family would need 26 of 24 vCPUs"),
    ("Standard_Nope_v9", 1, "adds unknown $/hour (no price for the size); quota unknown (1 × Standard_Nope_v9: "
                            "not a size the catalog knows)", ""),
]


async def test_deploy_green_says_what_it_adds_to_the_bill_and_the_quota(tmp_path):
    """From green's spec as it reads when g is pressed, the catalog and the quotas last read
    (the canned DSv2 family: 20 of 24 vCPUs used); what is not known is said to be unknown."""
    specs = specs_with_green(tmp_path)
    app = WatchedApp(specs=specs)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, app)
        for size, count, said, warned in GREEN_CASES:
            (specs / "endpoints" / "green-deployment.yml").write_text(GREEN.format(size=size, count=count))
            await pilot.press("g")
            await on_top(pilot, app, PickModal)
            await pilot.press("enter")
            confirm = await on_top(pilot, app, ConfirmModal)
            assert confirm.detail.splitlines()[-1] == said
            assert (warned in confirm.warning) if warned else confirm.warning == "", confirm.warning
            await pilot.press("n")
            await until(pilot, lambda: len(app.screen_stack) == 1, 5, "the confirmation to close")


# --- jobs ---------------------------------------------------------------------------------------------


async def test_c_on_a_job_that_has_ended_says_so_without_asking():
    app = WatchedApp()
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, app)
        app.console_screen.action_focus_pane("jobs")
        pane = app.console_screen.query_one("#jobs")
        table = pane.query(DataTable).first()
        for _ in range(table.row_count):
            if pane.selected_job() == "happy_cloud_3j5k7l9m0n":
                break
            await pilot.press("down")
        assert pane.selected_job() == "happy_cloud_3j5k7l9m0n"  # Completed
        await pilot.press("c")
        await until(pilot, lambda: any(n[1] == "job happy_cloud_3j5k7l9m0n already Completed: nothing to cancel"
                                       for n in app.notices), 5)
        assert not any(isinstance(s, ConfirmModal) for s in app.pushed)


async def test_the_lint_before_submit_shows_a_spinner_until_its_findings_are_in(tmp_path):
    app = WatchedApp(specs=specs_with_green(tmp_path))
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, app)
        await pilot.press("s")
        await on_top(pilot, app, PickModal)
        await pilot.press("enter")  # specs/jobs/echo.yml
        await until(pilot, lambda: isinstance(app.screen, InputModal), 30, "the overrides, after lint")
        busy = [s for s in app.pushed if isinstance(s, BusyModal)]
        assert [s.title_text for s in busy] == ["Linting specs/jobs/echo.yml…"]
        assert not busy[0].is_attached  # closed once the findings were in

        # A file that is not there: the findings say so, and the spinner goes all the same.
        await pilot.press("escape")
        await pilot.press("s")
        await on_top(pilot, app, PickModal)
        await pilot.press("down", "enter")  # another path…
        await on_top(pilot, app, InputModal)
        await pilot.press(*"nowhere.yml", "enter")
        await until(pilot, lambda: any("nowhere.yml" in n[0] or "nowhere.yml" in n[1] for n in app.notices), 30)
        await until(pilot, lambda: len(app.screen_stack) == 1, 5, "the spinner to close")
