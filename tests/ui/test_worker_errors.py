"""No key does nothing: every action key whose worker raises says so on the screen, named after
the action, in the words `console.errors.describe` gives every error (a bad override of the
submit dialog keeps its file, line and field). Over the canned workspace with a backend that is
down for the one call the key needs (tests/fakes/canned.py), and the Azure workspace over the
fake ARM for the submit's own spec checks."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from canned_app import CannedApp
from console.errors import BackendUnavailable
from console.ui.app import AmlopsApp
from console.ui.screens.modals import ConfirmModal, InputModal, PickModal, TrafficModal
from fakes.azure import azure_workspace, fake, offline  # noqa: F401 (fixtures)
from fakes.canned import CannedWorkspace
from helpers import REPO, until

DOWN = "the local daemon is not running (amlops local up starts it)"


class Noting:
    """Remembers what was notified: (title, message, severity)."""

    noted: list[tuple[str, str, str]]

    def notify(self, message: str, *, title: str = "", severity: str = "information", **kw: Any) -> None:
        self.noted.append((title, str(message), severity))
        super().notify(message, title=title, severity=severity, **kw)

    def errors(self) -> list[tuple[str, str]]:
        return [(title, message) for title, message, severity in self.noted if severity == "error"]


class NotingCannedApp(Noting, CannedApp):
    def __init__(self, *args: Any, **kw: Any) -> None:
        self.noted = []
        super().__init__(*args, **kw)


class NotingApp(Noting, AmlopsApp):
    def __init__(self, *args: Any, **kw: Any) -> None:
        self.noted = []
        super().__init__(*args, **kw)


def down(ws: CannedWorkspace, group: str, method: str) -> CannedWorkspace:
    """`ws` with one call raising BackendUnavailable, as when the daemon dies under the console;
    its reads still work, so the panes fill and every key has something to act on."""

    def unavailable(*args: Any, **kw: Any) -> Any:
        raise BackendUnavailable(DOWN)

    setattr(getattr(ws, group), method, unavailable)
    return ws


def rows(app: CannedApp, pane: str) -> list[str]:
    from textual.widgets import DataTable

    found = app.console_screen.query(f"#{pane}")
    return [key.value for key in found.first().query(DataTable).first().rows] if found else []


async def confirm(app, pilot) -> None:
    await until(pilot, lambda: isinstance(app.screen, ConfirmModal), 10, "the confirmation")
    await pilot.press("y")


async def traffic(app, pilot) -> None:
    await pilot.press("t")
    await until(pilot, lambda: isinstance(app.screen, TrafficModal), 10, "the traffic sliders")
    await pilot.press("2", "enter")  # 50/50: a change from the canned 90/10, to confirm
    await confirm(app, pilot)


async def submit(app, pilot) -> None:
    await pilot.press("s")
    await until(pilot, lambda: isinstance(app.screen, PickModal), 10, "the job specs")
    await pilot.press("enter")  # specs/jobs/train-job.yml, linted first
    await until(pilot, lambda: isinstance(app.screen, InputModal), 30, "the overrides")
    await pilot.press("enter")  # none
    await confirm(app, pilot)


def in_pane(pane: str, key: str):
    """Focus `pane` by name (its number key follows the screen's order), press `key`, say yes."""
    async def drive(app, pilot) -> None:
        app.console_screen.action_focus_pane(pane)
        await pilot.press(key)
        await confirm(app, pilot)
    return drive


# key: (the call that fails, how the key is driven to it, the notification's title)
KEYS = {
    "t": ("endpoints", "set_traffic", traffic, "Traffic failed"),
    "b": ("endpoints", "rollback", in_pane("endpoints", "b"), "Rollback failed"),
    "x": ("compute", "stop", in_pane("compute", "x"), "Stop idle failed"),
    "c": ("jobs", "cancel", in_pane("jobs", "c"), "Cancel failed"),
    "m": ("monitors", "run", in_pane("drift", "m"), "Monitor failed"),
    "s": ("jobs", "submit", submit, "Submit failed"),
    "g": ("models", "list", lambda app, pilot: pilot.press("g"), "Deploy green failed"),
}


@pytest.mark.parametrize("key", list(KEYS))
async def test_an_action_whose_backend_call_raises_says_so(key):
    group, method, drive, title = KEYS[key]
    app = NotingCannedApp(down(CannedWorkspace(), group, method))
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: rows(app, "endpoints") and rows(app, "compute") and rows(app, "drift")
                    and rows(app, "jobs"), 10, "the panes")
        await drive(app, pilot)
        await until(pilot, app.errors, 30, f"an error after {key}")
        assert app.errors() == [(title, DOWN)]
        assert len(app.screen_stack) == 1  # nothing left waiting for an answer


async def test_a_read_whose_worker_raises_says_so_and_the_area_is_read_again(monkeypatch):
    import console.ui.snapshot as snapshot

    read_area, jobs_reads, shown = snapshot.read_area, [], threading.Event()

    def first_jobs_read_raises(ws, area, missing):  # past read_area's own catch: a bug, say
        if area == "jobs":
            jobs_reads.append(area)
            if len(jobs_reads) == 1:
                raise BackendUnavailable(DOWN)
            shown.wait(10)  # the next read waits until the failure has been seen
        return read_area(ws, area, missing)

    monkeypatch.setattr(snapshot, "read_area", first_jobs_read_raises)
    app = NotingCannedApp(CannedWorkspace(), refresh_s=0.05)
    async with app.run_test(size=(200, 40)) as pilot:
        header = app.console_screen.query_one("#header")
        await until(pilot, lambda: f"jobs: {DOWN}" in str(header.render()), 10, "the failed read in the header")
        shown.set()
        await until(pilot, lambda: rows(app, "jobs"), 10, "the jobs read again")


async def test_a_bad_override_in_the_submit_dialog_names_its_file_line_and_field(fake, tmp_path, monkeypatch):
    # The Azure workspace's own submit (over the fake ARM) checks the spec with its overrides first.
    app = NotingApp(azure_workspace(fake, tmp_path, monkeypatch), specs=REPO / "specs", refresh_s=3600)
    async with app.run_test(size=(120, 40)) as pilot:
        for override, said in (("inputs.reg_rate=[1,2]", "specs/jobs/train-job.yml:9: inputs.reg_rate: "),
                               ("inputs.reg_rate", "--set: inputs.reg_rate: expected KEY=VALUE"),
                               # a YAML list that reads like markup: the dialogs show it as typed
                               ("inputs.reg_rate=[/]", "specs/jobs/train-job.yml:9: inputs.reg_rate: ")):
            await pilot.press("s")
            await until(pilot, lambda: isinstance(app.screen, PickModal), 10, "the job specs")
            await pilot.press("enter")  # specs/jobs/train-job.yml
            await until(pilot, lambda: isinstance(app.screen, InputModal), 30, "the overrides")
            await pilot.press(*override, "enter")
            await until(pilot, lambda: isinstance(app.screen, ConfirmModal), 10, "the confirmation")
            assert str(app.screen.query_one("#detail").render()) == override
            await pilot.press("y")
            await until(pilot, app.errors, 30, "the submit to fail")
            ((title, message),) = app.errors()
            assert title == "Submit failed" and said in message, message
            assert not fake.calls("PUT", r"/jobs/"), "nothing was submitted"
            app.noted.clear()


async def test_an_error_is_shown_as_it_reads_never_as_markup():
    said = "503 from the proxy [/] [b]Bad Gateway[/b]"  # what a backend may well answer
    ws = CannedWorkspace()

    def refused(**kw: Any) -> Any:
        raise BackendUnavailable(said)

    ws.jobs.list = refused
    app = NotingCannedApp(ws, refresh_s=3600)
    async with app.run_test(size=(200, 40)) as pilot:
        await until(pilot, lambda: "jobs" in (app.snapshot.errors if app.snapshot else {}), 10, "the failed read")
        await pilot.pause()
        header = app.console_screen.query_one("#header")
        assert f"jobs: {said}" in str(header.render())
        assert str(app.console_screen.query_one("#jobs .pane-status").render()) == f"cannot read: {said}"  # it never loaded: not stale
