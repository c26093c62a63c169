"""A rollout in the console, over the canned workspace with the real controller ticked by the
test: the endpoints pane says where the highlighted endpoint's rollout stands; `o` opens its view
(phase, steps, the last analysis with its numbers, the chart, the history); its keys ask first
(enter says no) and then steer it; read-only offers none; and `o` on an endpoint with no rollout
offers its plans in specs/rollouts/ and starts the one picked."""

from __future__ import annotations

from pathlib import Path

import yaml
from textual.widgets import DataTable

from canned_app import CannedApp, loaded, settle
from console.rollout_controller import Controller
from console.ui.rollout_view import RolloutScreen
from console.ui.screens.modals import ConfirmModal, PickModal
from fakes.canned import CannedWorkspace
from helpers import REPO, until

SIZE = (120, 40)
EP = "churn-ep"


def at_blue(ws: CannedWorkspace) -> CannedWorkspace:
    ws.endpoints.set_traffic(EP, {"blue": 100, "green": 0})  # a rollout starts from the stable at 100 %
    return ws


def started(tmp_path: Path) -> tuple[CannedWorkspace, Controller]:
    """A rollout of green whose first step is applied and analysed (the canned figures pass)."""
    ws = at_blue(CannedWorkspace())
    plan = tmp_path / "plan.yml"
    plan.write_text(yaml.safe_dump({"type": "rollout", "endpoint": EP, "stable": "blue", "candidate": "green",
                                    "hold": "10m", "analysis": {"interval": "30s"}}))
    ws.rollouts.start(str(plan))
    clock = [1.0e9]
    controller = Controller(ws, ws.rollouts.folder, lambda: clock[0])
    for _ in range(4):  # start, write, reported and applied, then one interval later an analysis
        controller.tick(EP)
        clock[0] += 31
    return ws, controller


def text(app, selector: str) -> str:
    return str(app.screen.query_one(selector).render())


async def test_the_pane_says_where_the_rollout_stands_and_o_opens_its_view(tmp_path):
    ws, _ = started(tmp_path)
    app = CannedApp(ws)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: loaded(app) and app.snapshot.rollouts, "the console with the rollout")
        line = app.console_screen.query_one("#endpoints .rollout-line")
        await until(pilot, lambda: "rollout of green: step 1/4 (green 10 %)" in str(line.render()), 5, "the line")
        await pilot.press("3", "o")
        await until(pilot, lambda: isinstance(app.screen, RolloutScreen) and app.screen.rollout is not None, 5,
                    "the rollout's view")
        head = text(app, "#rollout-head")
        assert "green replacing blue — Progressing" in head and "[10 %]  25 %  50 %  100 %" in head
        assert "last analysis: pass: success 100.00% >= 99.00% (0 of 120 failed); p99 52 ms <= 500 ms" in head
        assert "success rate %" in text(app, "#rollout-chart") and "p99 ms" in text(app, "#rollout-chart")
        history = app.screen.query_one("#rollout-history", DataTable)
        assert history.row_count == len(ws.rollouts.get(EP).history)

        await pilot.press("p")
        await until(pilot, lambda: isinstance(app.screen, ConfirmModal), 5, "the confirmation")
        await pilot.press("enter")  # no, the default
        await until(pilot, lambda: isinstance(app.screen, RolloutScreen), 5, "back to the view")
        await pilot.pause()
        assert ws.rollouts.get(EP).phase == "Progressing"

        await pilot.press("p")
        await until(pilot, lambda: isinstance(app.screen, ConfirmModal), 5, "the confirmation")
        await pilot.press("y")
        await until(pilot, lambda: ws.rollouts.get(EP).phase == "Paused", 5, "the rollout paused")
        await until(pilot, lambda: "Paused" in text(app, "#rollout-head"), 5, "the view to say so")
        assert "paused by a person" in text(app, "#rollout-head")
        assert [e.operation for e in ws.audit.list(limit=1)] == ["rollouts.pause"]


async def test_read_only_offers_no_command(tmp_path):
    ws, _ = started(tmp_path)
    ws.read_only = True
    app = CannedApp(ws)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: loaded(app) and app.snapshot.rollouts, "the console with the rollout")
        await pilot.press("3", "o")
        await until(pilot, lambda: isinstance(app.screen, RolloutScreen), 5, "the rollout's view")
        assert "read-only" in text(app, "#rollout-keys")
        await pilot.press("A")
        await pilot.pause()
        assert isinstance(app.screen, RolloutScreen) and ws.rollouts.get(EP).phase == "Progressing"


async def test_o_without_a_rollout_offers_the_endpoints_plans_and_starts_the_one_picked():
    ws = at_blue(CannedWorkspace())
    app = CannedApp(ws, specs=REPO / "specs")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: loaded(app), "the console")
        await pilot.press("3", "o")
        await until(pilot, lambda: isinstance(app.screen, PickModal), 5, "the plans")
        assert app.screen.options == ["specs/rollouts/churn-green.yml"]
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ConfirmModal), 5, "the confirmation")
        assert "green replaces blue: 10 % → 25 % → 50 % → 100 %" in app.screen.detail
        await pilot.press("y")
        await until(pilot, lambda: isinstance(app.screen, RolloutScreen), 10, "the new rollout's view")
        assert ws.rollouts.get(EP).phase == "Progressing"
        assert [e.operation for e in ws.audit.list(limit=1)] == ["rollouts.start"]
