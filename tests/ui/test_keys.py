"""The keys that change nothing, over the canned workspace (tests/fakes/canned.py): live panes,
zoom and back, help, the keymap, the command palette, the filter, a small terminal, and
read-only refusing every key that would change something. The actions themselves are pinned
against a real daemon in test_action_keys.py."""

from __future__ import annotations


import pytest

from canned_app import CannedApp
from console.ui.panes import number
from console.ui.panes.compute import ComputePane
from console.ui.panes.endpoints import EndpointsPane
from console.ui.screens.modals import HelpModal, TrafficModal
from fakes.canned import CannedWorkspace
from helpers import until

ALL_COMPUTE = {"cpu-cluster", "gpu-cluster", "dev-instance", "notebook-ci"}


@pytest.fixture()
def ws() -> CannedWorkspace:
    return CannedWorkspace()


def rows(app: CannedApp, pane_id: str) -> list[str]:
    from textual.widgets import DataTable

    panes = app.console_screen.query(f"#{pane_id}")
    if not panes:
        return []  # not mounted yet: the panes come just after the first frame
    return [key.value for key in panes.first().query(DataTable).first().rows]


async def test_live_panes_zoom_and_help(ws):
    app = CannedApp(ws)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: "churn-ep/blue" in rows(app, "endpoints") and rows(app, "jobs"))
        assert {"cpu-cluster", "dev-instance"} <= set(rows(app, "compute"))
        assert "churn-drift" in rows(app, "drift")
        assert "standardDSv2Family" in rows(app, "quotas")
        await pilot.press(str(number("endpoints")))
        await pilot.press("z")
        assert app.zoomed == "endpoints" and not app.query_one("#jobs").display
        await pilot.press("escape")
        assert app.zoomed is None and app.query_one("#jobs").display
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpModal)
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpModal)


async def test_read_only_refuses_every_mutating_key(ws):
    before = ws.endpoints.get("churn-ep").traffic.live
    app = CannedApp(ws, read_only=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: "churn-ep/blue" in rows(app, "endpoints"))
        for key in ("t", "b", "x", "c", "m"):
            await pilot.press(key)
            assert len(app.screen_stack) == 1, key  # no modal: the action is disabled
    assert ws.endpoints.get("churn-ep").traffic.live == before


async def test_small_terminal_still_shows_the_panes(ws):
    app = CannedApp(ws)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: rows(app, "compute"))
        assert app.query_one(ComputePane).region.height > 2
        assert app.query_one(EndpointsPane).region.width > 10


async def test_slash_filters_rows_by_name(ws):
    app = CannedApp(ws)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: {"cpu-cluster", "dev-instance"} <= set(rows(app, "compute")))
        await pilot.press("slash", *"dev", "enter")
        await until(pilot, lambda: rows(app, "compute") == ["dev-instance"])
        await pilot.press("slash", "ctrl+u", *"!dev", "enter")
        await until(pilot, lambda: set(rows(app, "compute")) == {"cpu-cluster", "gpu-cluster", "notebook-ci"})
        await pilot.press("slash", "ctrl+u", "enter")
        await until(pilot, lambda: set(rows(app, "compute")) == ALL_COMPUTE)


async def test_bindings_are_remapped_by_id(ws):
    app = CannedApp(ws)
    app.set_keymap({"help": "h"})  # what `keymap` in the config file does
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("h")
        assert isinstance(app.screen, HelpModal)
        # Help names the key in force, not the default one.
        assert any(key == "h" and binding_id == "help" for key, _, binding_id in app.screen.rows)


async def test_the_command_palette_runs_console_actions(ws):
    app = CannedApp(ws)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: "churn-ep/blue" in rows(app, "endpoints"))
        titles = await palette_titles(app, pilot, "traffic")
        assert "Traffic" in titles, titles
        await pilot.press("enter")  # the first hit is the best match
        await until(pilot, lambda: isinstance(app.screen, TrafficModal))
        assert app.screen.endpoint == "churn-ep"
        await pilot.press("escape")


async def test_read_only_palette_leaves_out_what_changes_things(ws):
    app = CannedApp(ws, read_only=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: "churn-ep/blue" in rows(app, "endpoints"))
        titles = await palette_titles(app, pilot, "r")  # matches refresh, rollback, traffic, monitor...
        assert "Refresh" in titles and not {"Rollback", "Traffic", "Run monitor"} & set(titles), titles


async def palette_titles(app: CannedApp, pilot, query: str) -> list[str]:
    """Open the command palette, type `query`, and read the titles it offers."""
    from textual.command import CommandList, CommandPalette

    await pilot.press("ctrl+p")
    await until(pilot, lambda: isinstance(app.screen, CommandPalette))
    await pilot.press(*query)
    commands = app.screen.query_one(CommandList)
    await until(pilot, lambda: commands.option_count > 0, timeout=10)
    return [str(commands.get_option_at_index(i).prompt).split("\n")[0] for i in range(commands.option_count)]