"""The console's look, pinned as SVG screenshots at 120x40 and 80x24: the overview, each pane
zoomed, and each modal over it. The data is canned (tests/fakes/canned.py) and every clock the
screen reads is fixed, so a screenshot changes only when the rendering does.

Regenerate after an intended change of look, then review the SVGs in the diff:
    .venv/bin/python -m pytest tests/ui/test_snapshots.py --snapshot-update
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from textual.command import CommandList, CommandPalette
from textual.screen import Screen
from textual.widgets import Input

from console.ui.panes import PANES, number
from console.ui.screens.modals import ConfirmModal, HelpModal, InputModal, PickModal, ProgressModal, TrafficModal

from canned_app import CannedApp, loaded, settle  # tests/ui/canned_app.py, beside this file
from fakes.canned import NOW

SIZES = [pytest.param((120, 40), id="120x40"), pytest.param((80, 24), id="80x24")]
PANE_KEYS = {name: str(number(name)) for name in PANES}  # 1-5 in screen order


@pytest.fixture(autouse=True)
def local_time_is_utc(monkeypatch):
    """Local times in UTC: the drift window's end is shown in local time."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def app() -> CannedApp:
    """The console at the canned NOW. Every "now" the screen shows is `App.now()`: the header's
    "refreshed 0s ago" (the last read's time and the age both read it), and each read's
    `taken_at`, from which the panes count ages, durations and idle time. CannedApp fixes it, so
    the header says 0s however slow the machine is and the panes match the canned records."""
    made = CannedApp(read_only=False, refresh_s=3600)  # a refresh an hour away: none races the screenshot
    assert made.now() == NOW
    return made


def scene(*keys: str, until: Callable[[Screen], bool] = lambda screen: True, what: str = "it"):
    """A run_before: the console loaded, then `keys` pressed, until the screen on top is right."""

    async def run_before(pilot) -> None:
        await settle(pilot, lambda: loaded(pilot.app), "the canned workspace")
        if keys:
            await pilot.press(*keys)
            await settle(pilot, lambda: until(pilot.app.screen), what)
        for field in pilot.app.screen.query(Input):
            field.cursor_blink = False  # the cursor stays drawn, whenever the screenshot falls
        await pilot.pause()

    return run_before


def modal(kind: type[Screen]) -> Callable[[Screen], bool]:
    return lambda screen: isinstance(screen, kind)


@pytest.mark.parametrize("size", SIZES)
def test_overview_shows_all_five_panes(snap_compare, size):
    assert snap_compare(app(), terminal_size=size, run_before=scene())


@pytest.mark.parametrize("pane", list(PANE_KEYS))
@pytest.mark.parametrize("size", SIZES)
def test_each_pane_zoomed(snap_compare, size, pane):
    def zoomed(screen: Screen) -> bool:
        return screen.app.zoomed == pane

    assert snap_compare(app(), terminal_size=size,
                        run_before=scene(PANE_KEYS[pane], "z", until=zoomed, what=f"{pane} zoomed"))


def palette_listed(screen: Screen) -> bool:
    return isinstance(screen, CommandPalette) and screen.query_one(CommandList).option_count > 0


MODALS = {
    "help": (("question_mark",), modal(HelpModal)),
    "jump": (("colon", "d"), lambda screen: screen.prompt == "d"),  # k9s's `:` prompt, in the header
    "filter": (("slash",), modal(InputModal)),
    "traffic": (("t",), modal(TrafficModal)),  # churn-ep, the only endpoint: blue 90 / green 10
    "confirm": (("b",), modal(ConfirmModal)),  # roll back churn-ep
    "pick": (("s",), modal(PickModal)),  # submit: the job YAMLs of specs/jobs
    "command_palette": (("ctrl+p",), palette_listed),
}


@pytest.mark.parametrize("name", list(MODALS))
@pytest.mark.parametrize("size", SIZES)
def test_each_modal(snap_compare, size, name):
    keys, until = MODALS[name]
    assert snap_compare(app(), terminal_size=size, run_before=scene(*keys, until=until, what=name))


@pytest.mark.parametrize("size", SIZES)
def test_deploy_green_progress(snap_compare, size):
    """The deploy-green progress modal once green is ready (its steps are pinned end to end
    against a real daemon in test_action_keys.py; this pins how they look)."""

    async def run_before(pilot) -> None:
        await scene()(pilot)
        progress = ProgressModal("Deploying churn-classifier:2 as green on churn-ep")
        await pilot.app.push_screen(progress)
        progress.report("spec", "specs/endpoints/green-deployment.yml with model churn-classifier:2")
        progress.report("op", "operation 5f0c2a9e71d4b3c8: Succeeded")
        progress.report("instances", "green Succeeded: 2 of 2 instances loaded the model and pass their readiness probe")
        progress.finish("green (churn-classifier:2) is ready at 0 % traffic: press t to ramp it", ok=True)
        await pilot.pause()

    assert snap_compare(app(), terminal_size=size, run_before=run_before)
