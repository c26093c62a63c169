"""The habits an operator brings from k9s, and the honesty of the totals, over the canned
workspace (tests/fakes/canned.py): a filter hides rows, never money; panes numbered in the order
the screen shows them, `:` with a prefix, `r` saying it is reading; the quotas pane keeping the
GPU families at zero quota in view at 80x24; drift's Enter walking monitor -> features ->
histogram; the jobs cursor following a job submitted from the console; the log tail wrapped.
The footer's cut marker is pinned in test_overview.py."""

from __future__ import annotations

import dataclasses
import threading
from datetime import timedelta
from typing import Any

from textual import events
from textual.widgets import DataTable

from console.domain import Job
from console.ui.messages import JobSubmitted
from console.ui.panes import PANES, matching, number
from console.ui.panes.drift import feature_order

from canned_app import CannedApp, loaded, settle
from fakes.canned import NOW, CannedWorkspace
from helpers import until
from test_overview import screen_lines, text_of


class NoticingApp(CannedApp):
    """The canned console, keeping the text of every notification it shows."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.notices: list[str] = []

    def notify(self, message: str, **kw: Any) -> None:
        self.notices.append(str(message))
        super().notify(message, **kw)


async def started(app: CannedApp, pilot) -> None:
    await settle(pilot, lambda: loaded(app), "the canned workspace")


def rows(app: CannedApp, pane: str) -> list[str]:
    return [key.value for key in app.query_one(f"#{pane}").query(DataTable).first().rows]


def bill(app: CannedApp) -> str:
    return str(app.query_one("#compute .compute-footer").render())


async def type_in(app: CannedApp, pilot, key: str, text: str) -> None:
    """`key` (/ or :), `text` in the box it opens (set whole: a key press apiece is slow), enter."""
    from textual.widgets import Input

    await pilot.press(key)
    await until(pilot, lambda: len(app.screen_stack) == 2 and app.screen.query(Input), 5)
    app.screen.query_one(Input).value = text
    await pilot.press("enter")
    await until(pilot, lambda: len(app.screen_stack) == 1, 5)


async def set_filter(app: CannedApp, pilot, text: str) -> None:
    await type_in(app, pilot, "slash", text)
    assert app.console_screen.filter_text == text


def focused_pane(app: CannedApp) -> str | None:
    pane = app.console_screen._current_pane()
    return pane.id if pane is not None else None


# --- a filter hides rows, never money ------------------------------------------------------------


async def test_a_filter_never_changes_the_compute_bill_and_says_how_many_rows_it_shows():
    app = CannedApp(refresh_s=3600)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(app, pilot)
        whole = bill(app)
        assert whole.startswith("now $1.17/hour") and "today $5.29" in whole, whole
        compute = app.query_one("#compute")
        # `/blue` matches only the blue deployment, `/churn` jobs and the endpoint; neither a compute.
        for text in ("blue", "churn", "nothing-matches"):
            await set_filter(app, pilot, text)
            assert bill(app) == whole, text  # both lines: now and today
            shown = len(rows(app, "compute"))
            assert compute.border_subtitle == f"filter {text}: {shown} of 4 shown"
        assert rows(app, "compute") == []
        await set_filter(app, pilot, "")
        assert bill(app) == whole and not compute.border_subtitle and len(rows(app, "compute")) == 4


async def test_the_jobs_filter_matches_the_display_name_and_the_experiment():
    app = CannedApp(refresh_s=3600)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(app, pilot)
        every = rows(app, "jobs")
        await set_filter(app, pilot, "churn")  # no job name says churn; every experiment does
        assert rows(app, "jobs") == every
        await set_filter(app, pilot, "sweep")  # only keen_lamp's display name, train-churn-sweep
        assert rows(app, "jobs") == ["keen_lamp_q1w2e3r4t5"]
        assert app.query_one("#jobs").border_subtitle == "filter sweep: 1 of 4 shown"


# --- numbered panes, `:` and `r` ----------------------------------------------------------------


async def test_panes_are_numbered_in_the_order_the_screen_shows_them_and_the_keys_follow():
    app = CannedApp(refresh_s=3600)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(app, pilot)
        panes = sorted(app.query("#panes > Pane"), key=lambda p: (p.region.y, p.region.x))
        assert [p.id for p in panes] == list(PANES)  # top-left to bottom-right
        for index, pane in enumerate(panes, start=1):
            assert pane.border_title.startswith(f"<{index}> "), pane.border_title
            await pilot.press(str(index))
            await until(pilot, lambda: focused_pane(app) == pane.id)


async def test_colon_jumps_by_a_prefix_of_a_panes_name_alias_or_number_and_says_when_none_matches():
    app = NoticingApp(refresh_s=3600)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(app, pilot)
        header = app.query_one("#header")
        await pilot.press("colon", "d")
        assert ":d" in str(header.render()) and "→ drift" in str(header.render())  # the prompt, in the header
        await pilot.press("r", "enter")
        await until(pilot, lambda: focused_pane(app) == "drift" and app.console_screen.prompt is None, 5, ":dr")
        for typed, pane in (("quota", "quotas"), (str(number("compute")), "compute")):
            await pilot.press("colon", *typed, "enter")
            await until(pilot, lambda: focused_pane(app) == pane, 5, f":{typed}")
        await pilot.press("colon", "j", "tab")  # tab completes
        assert app.console_screen.prompt == "jobs"
        await pilot.press("escape")  # esc: nothing, and the header is the header again
        assert app.console_screen.prompt is None and focused_pane(app) == "compute"
        assert "refreshed" in str(header.render())
        await pilot.press("colon", "x", "enter")
        await until(pilot, lambda: any("no pane is called 'x'" in n for n in app.notices), 5)
        assert focused_pane(app) == "compute"  # where it was


async def test_colon_loses_no_letter_typed_in_one_burst():
    """As a terminal delivers `:dr` + enter typed fast or over a slow link: all four keys queued
    before the first is handled. A prompt that had the keys only once it had focus lost the d."""
    app = NoticingApp(refresh_s=3600)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(app, pilot)
        for key, character in (("colon", ":"), ("d", "d"), ("r", "r"), ("enter", "\r")):
            app.post_message(events.Key(key, character))
        await until(pilot, lambda: focused_pane(app) == "drift", 5)
        assert app.console_screen.prompt is None and not app.notices


def test_colon_knows_panes_by_a_prefix_of_their_name_first_then_of_their_aliases():
    assert matching("dr") == matching("DRIFT") == matching("mon") == ["drift"]
    assert matching("endpoints") == matching("endpoint") == ["endpoints"] and matching("quotas") == ["quotas"]
    assert matching("e") == ["endpoints"]  # a pane's own name before an alias (experiments)
    assert matching("ex") == ["jobs"] and matching("quota") == ["quotas"] and matching("ep") == ["endpoints"]
    assert matching("3") == [PANES[2]] and matching("9") == [] and matching("xyz") == [] and matching(" ") == []


async def test_r_says_refreshing_until_its_reads_are_in():
    ws = CannedWorkspace()
    app = CannedApp(ws, refresh_s=3600)
    gate = threading.Event()
    listed = ws.jobs.list

    def slow_list(**kw: Any) -> list[Job]:
        gate.wait(10)
        return listed(**kw)

    async with app.run_test(size=(120, 40)) as pilot:
        try:
            await started(app, pilot)
            header = app.query_one("#header")
            assert "refreshing" not in str(header.render())
            ws.jobs.list = slow_list  # the jobs read now waits for the gate
            await pilot.press("r")
            await until(pilot, lambda: "refreshing…" in str(header.render()), 5)
            await pilot.pause(0.1)
            assert "refreshing…" in str(header.render())  # the other areas are in; jobs is not
        finally:
            gate.set()
        await until(pilot, lambda: "refreshed 0s ago" in str(header.render()), 10)
        assert "refreshing" not in str(header.render())


# --- quotas at 80x24 -----------------------------------------------------------------------------


async def test_at_80x24_the_gpu_families_at_zero_quota_stay_in_view():
    app = CannedApp(refresh_s=3600)
    async with app.run_test(size=(80, 24)) as pilot:
        await started(app, pilot)
        pane = app.query_one("#quotas")
        table = "\n".join(text_of(app, pane.query_one(DataTable)))
        assert "NCSv3" in table and "NCASv3_T4" in table, table
        # And on the pane's border, whatever the rows scroll to (cut to the border's width).
        border = screen_lines(app)[pane.region.bottom - 1][pane.region.x:pane.region.right]
        assert "no GPU quota: NCASv3_T4" in border, border


# --- drift: enter, enter -------------------------------------------------------------------------


def with_bins(ws: CannedWorkspace) -> None:
    """The canned report with each measured feature's histogram bins, as monitor runs store them."""
    latest = ws.monitors.latest

    def binned(name: str):
        report = latest(name)
        features = tuple(dataclasses.replace(f, bins=("<12", "12-24", "24-48", ">=48"),
                                             baseline_share=(0.4, 0.3, 0.2, 0.1),
                                             production_share=(0.2, 0.2, 0.3, 0.3))
                         if f.value is not None else f for f in report.features)
        return dataclasses.replace(report, features=features)

    ws.monitors.latest = binned


async def test_drift_enter_opens_the_features_most_drifted_first_and_enter_draws_its_histogram():
    ws = CannedWorkspace()
    with_bins(ws)
    app = CannedApp(ws, refresh_s=3600)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(app, pilot)
        drift = app.query_one("#drift")
        most = feature_order(ws.monitors.latest("churn-drift").features)[0].feature
        await pilot.press(str(number("drift")))
        await until(pilot, lambda: app.focused is drift.monitors_table)
        await pilot.press("enter")  # the monitor: into its features, the most drifted under the cursor
        await until(pilot, lambda: app.focused is drift.features_table)
        assert drift.selected_feature() == most == "tenure_months" and app.zoomed is None
        await pilot.press("enter")  # the feature: its histograms, in the overview
        await until(pilot, lambda: drift.histograms.feature == most)
        await pilot.pause()
        assert app.zoomed is None
        chart = text_of(app, drift.histograms)
        bar_rows = [line for line in chart if "█" in line and "baseline" not in line]
        assert len(bar_rows) > 1, chart
        assert any(most in line for line in text_of(app, drift.features_table))  # still in view
        await pilot.press("escape")  # back to the monitors
        await until(pilot, lambda: app.focused is drift.monitors_table)


async def test_the_note_column_takes_the_room_the_other_columns_leave():
    app = CannedApp(refresh_s=3600)
    async with app.run_test(size=(200, 50)) as pilot:
        await started(app, pilot)
        table = app.query_one("#drift-features")
        assert "NOTE" in table.shown
        widths = sum(column.get_render_width(table) for column in table.columns.values())
        assert widths == table.room
        await pilot.press(str(number("drift")), "z")  # zoomed: the whole note, however long
        await until(pilot, lambda: app.zoomed == "drift")
        await pilot.pause()
        assert any("not enough data: 12 production rows" in line for line in text_of(app, table))


# --- jobs ----------------------------------------------------------------------------------------


async def test_after_a_submit_the_jobs_cursor_follows_the_new_job_once_it_is_listed():
    ws = CannedWorkspace()
    app = CannedApp(ws, refresh_s=3600)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(app, pilot)
        jobs = app.query_one("#jobs")
        log = jobs.query_one(".job-log")
        # A job the pane already lists (the oldest, last row): the cursor and the detail go to it.
        app.console_screen.post_message(JobSubmitted("happy_cloud_3j5k7l9m0n"))
        await until(pilot, lambda: jobs.selected_job() == "happy_cloud_3j5k7l9m0n"
                    and "happy_cloud_3j5k7l9m0n" in str(log.border_title), 5)
        # One the workspace has but the pane has not read yet: the jobs area is read at once.
        ws.state.jobs.append(Job("quiet_fern_5t6y7u8i9o", "Queued", experiment_name="ui", display_name="echo",
                                 created_at=NOW - timedelta(days=30)))  # the oldest: the last row
        app.console_screen.post_message(JobSubmitted("quiet_fern_5t6y7u8i9o"))
        await until(pilot, lambda: jobs.selected_job() == "quiet_fern_5t6y7u8i9o"
                    and "quiet_fern_5t6y7u8i9o" in str(log.border_title), 5)
        assert app.focused is jobs.query_one(DataTable)


async def test_the_log_tail_wraps_long_lines_instead_of_cutting_them():
    app = CannedApp(refresh_s=3600)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(app, pilot)
        log = app.query_one("#jobs .job-log")
        line = "[2026-03-01 11:59:02] " + " ".join(f"word{i}" for i in range(20))
        app.query_one("#jobs").show_detail(line + "\n")
        await pilot.pause()
        assert log.size.width < len(line)
        shown = [row.strip() for row in text_of(app, log)[1:]]  # under its title
        assert " ".join(row for row in shown if row) == line  # every word, over several rows
        assert log.virtual_size.width <= log.size.width  # nothing to scroll sideways


# --- room for what needs it ----------------------------------------------------------------------


async def test_the_endpoints_row_is_as_tall_as_its_rows_and_its_footer_stays_in_view():
    ws = CannedWorkspace()
    app = CannedApp(ws, refresh_s=3600)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(app, pilot)
        pane = app.query_one("#endpoints")
        await until(pilot, lambda: pane.region.height == 6, 5)  # two deployments, the header, the footer
        assert app.query_one("#jobs").region.height > 13  # the rest goes to the panes above and below
        endpoint = ws.state.endpoints[0]
        ws.state.endpoints.extend(dataclasses.replace(endpoint, name=f"ep-{i:02d}") for i in range(20))
        await pilot.press("r")
        await until(pilot, lambda: pane.region.height == 40 * 2 // 5, 5)  # 42 rows: 40 % of the screen
        assert "all 21 endpoints" in text_of(app, pane)[-2]  # the cost footer, under the rows that scroll


def test_the_header_says_a_reason_shared_by_every_failed_area_once():
    from console.ui.screens.console import said_once

    why = "no Azure credential found: use --credential device_code"
    assert said_once({"jobs": why, "computes": why, "monitors": why}) == why
    assert said_once({"jobs": why}) == f"jobs: {why}"
    assert said_once({"jobs": why, "computes": why, "quotas": "429"}) == f"jobs, computes: {why}; quotas: 429"
    assert said_once({}) is None


async def test_a_pane_redrawn_for_another_areas_read_has_not_loaded_its_own():
    """The compute pane redraws on an endpoints read (its bill counts deployments); that is not
    the computes read, so a failed computes read then says 'cannot read', not 'stale'."""
    from console.ui.panes.compute import ComputePane
    from console.ui.snapshot import Snapshot
    from fakes.canned import ENDPOINTS, NOW

    from textual.app import App

    pane = ComputePane()

    class PaneApp(App):
        def compose(self):
            yield pane

    async with PaneApp().run_test(size=(120, 20)) as pilot:
        pane.apply(Snapshot(taken_at=NOW, endpoints=list(ENDPOINTS)))
        await pilot.pause()
        assert not pane.loaded
        pane.apply(Snapshot(taken_at=NOW, endpoints=list(ENDPOINTS), errors={"computes": "no credential"}))
        await pilot.pause()
        assert str(pane.query_one(".pane-status").render()) == "cannot read: no credential"
