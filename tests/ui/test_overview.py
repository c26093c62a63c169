"""What the overview shows a user at 120x40 and 80x24, read off the screen as text over the canned
workspace (tests/fakes/canned.py): every action key in the footer, the decisive figures of each
pane when it is narrow, the deployments' costs beside the compute's, and no scrollbar slivers.
The same checks at the cell level, on hand-built records, are in test_panes.py and
test_endpoint_drift_panes.py; the looks are pinned in test_snapshots.py."""

from __future__ import annotations

import io

import pytest
from rich.console import Console
from textual.widget import Widget
from textual.widgets import DataTable

from console import costs
from console.ui.footer import KeyFooter
from console.ui.panes import number
from console.ui.panes.base import Pane

from canned_app import CannedApp, loaded, settle
from fakes.canned import COMPUTES, COSTS_TODAY, ENDPOINTS, REPORTS

ACTIONS = {"g": "Green", "t": "Traffic", "b": "Rollback", "x": "Stop idle", "o": "Rollout", "s": "Submit",
           "c": "Cancel", "m": "Monitor"}
MUST_FIT_80 = {"g": "Green", "t": "Traffic", "b": "Rollback", "x": "Stop idle", "o": "Rollout"}
# What Textual draws a scrollbar's thumb ends with (and the thumb itself).
SCROLLBAR_GLYPHS = set("▁▂▃▄▅▆▇█▏▎▍▌▋▊▉")


def screen_lines(app) -> list[str]:
    """The characters on screen, one string per terminal row (as Textual's own screenshot
    renders them, without the SVG)."""
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), force_terminal=True, record=True,
                      legacy_windows=False, safe_box=False)
    console.print(app.screen._compositor.render_update(full=True))
    return console.export_text(styles=False).splitlines()


def text_of(app, widget: Widget) -> list[str]:
    """The rows of the screen a widget covers, cut to its columns."""
    region = widget.region
    return [line[region.x:region.right] for line in screen_lines(app)[region.y:region.bottom]]


def pane(app, name: str) -> Pane:
    return app.query_one(f"#{name}", Pane)


async def overview(size: tuple[int, int]):
    """The console over the canned workspace at `size`, loaded (a context manager's pilot)."""
    app = CannedApp(refresh_s=3600)  # one snapshot: nothing moves under the checks
    context = app.run_test(size=size)
    pilot = await context.__aenter__()
    await settle(pilot, lambda: loaded(app), "the canned workspace")
    return app, pilot, context


@pytest.fixture
async def at_120():
    app, pilot, context = await overview((120, 40))
    yield app
    await context.__aexit__(None, None, None)


@pytest.fixture
async def at_80():
    app, pilot, context = await overview((80, 24))
    yield app
    await context.__aexit__(None, None, None)


# --- the footer ---------------------------------------------------------------------------------


async def test_every_action_key_is_in_the_footer_at_120_columns_and_the_cut_says_so(at_120):
    footer = screen_lines(at_120)[-1]
    for key, label in {**ACTIONS, "/": "Filter", ":": "Pane"}.items():
        assert f"{key} {label}" in footer, (key, footer)
    assert footer.index("g Green") < footer.index("s Submit")  # the headline action first
    # Zoom, refresh and quit do not fit: the footer says it is cut, and where the rest are.
    assert "… ? all keys" in footer and "^p palette" in footer, footer
    assert "r Refresh" not in footer and at_120.query_one(KeyFooter).cut


async def test_the_footer_at_80_columns_keeps_the_rollout_keys_whole_and_says_it_is_cut(at_80):
    footer = screen_lines(at_80)[-1]
    for key, label in MUST_FIT_80.items():
        assert f"{key} {label}" in footer, (key, footer)
    # A key that does not fit is left out, not cut ("s Submi"), and the footer says so.
    shown = [k for k in at_80.query("FooterKey") if k.display and not k.has_class("-command-palette")]
    assert all(f"{k.key_display} {k.description}" in footer for k in shown)
    assert "s Submit" not in footer and footer.index("o Rollout") < footer.index("… ? all keys")
    assert "^p palette" in footer


async def test_a_footer_with_room_for_every_key_is_not_marked_cut():
    app, pilot, context = await overview((200, 50))
    try:
        footer = screen_lines(app)[-1]
        assert "r Refresh" in footer and "? Help" in footer and "…" not in footer, footer
        assert not app.query_one(KeyFooter).cut
    finally:
        await context.__aexit__(None, None, None)


# --- no scrollbar slivers -----------------------------------------------------------------------


@pytest.mark.parametrize("size", [(120, 40), (80, 24)], ids=["120x40", "80x24"])
async def test_no_scrollbar_is_drawn_in_the_panes_of_the_overview(size):
    app, pilot, context = await overview(size)
    try:
        scrolling = [w for w in app.query("#panes Pane *") if w.scrollbar_size_vertical or w.scrollbar_size_horizontal]
        assert not scrolling, [f"{w!r} in {w.parent!r}" for w in scrolling]
        # Where the content itself draws no blocks (the quota and traffic bars, the sparklines do),
        # not one block glyph is on screen.
        plain = [*app.query("#jobs FitTable"), *app.query("#jobs Log"), *app.query("#compute FitTable"),
                 *app.query("#drift FitTable")]
        for widget in plain:
            stray = SCROLLBAR_GLYPHS & set("".join(text_of(app, widget)))
            assert not stray, (widget, stray, text_of(app, widget))
        # The tables still scroll: the drift features run past the pane, and the cursor follows.
        features = app.query_one("#drift-features", DataTable)
        features.focus()
        await pilot.press(*["down"] * features.row_count)
        await pilot.pause()
        assert features.scroll_y > 0 and features.cursor_row == features.row_count - 1
    finally:
        await context.__aexit__(None, None, None)


async def test_a_zoomed_pane_shows_every_column_and_may_scroll_sideways():
    from console.ui.table import FitTable

    app, pilot, context = await overview((80, 24))
    try:
        table = app.query_one("#endpoints-table", FitTable)
        assert "$/HOUR" not in table.shown  # the overview at 80 columns keeps traffic, success, p99
        await pilot.press(str(number("endpoints")), "z")
        await pilot.pause()
        assert table.shown == tuple(c.label for c in table.all_columns)
        assert table.scrollbar_size_horizontal == 1  # wider than 80: the zoomed table scrolls
        await pilot.press("escape")
        await pilot.pause()
        assert "$/HOUR" not in table.shown and not table.scrollbar_size_horizontal
    finally:
        await context.__aexit__(None, None, None)


# --- the drift pane -----------------------------------------------------------------------------


async def test_the_drift_pane_shows_each_features_value_and_threshold_at_120x40(at_120):
    report = REPORTS["churn-drift"]
    table = at_120.query_one("#drift-features", DataTable)
    lines = text_of(at_120, table)
    assert lines[0].split() == ["FEATURE", "VALUE", "THRESHOLD"]
    short = {"normalized_wasserstein_distance": "W1", "jensen_shannon_distance": "JS"}
    shown = {line.split()[0]: line.split()[1:] for line in lines[1:] if line.strip()}
    assert len(shown) == table.size.height - 1  # every row the pane has room for
    for feature in report.features:
        if feature.feature in shown:
            value = "-" if feature.value is None else f"{feature.value:.4f}"
            assert shown[feature.feature] == [value, short[feature.metric], ">", f"{feature.threshold:g}"]
    assert "tenure_months" in shown  # the most drifted, on top


# --- the decisive figures at 80x24 --------------------------------------------------------------


async def test_at_80x24_each_pane_shows_its_decisive_figures_first(at_80):
    quotas = " ".join(text_of(at_80, pane(at_80, "quotas")))
    assert "USED/LIMIT" in quotas and "20/24" in quotas and "0/24" in quotas

    drift = text_of(at_80, pane(at_80, "drift"))
    assert any(line.split()[:3] == ["│", "churn-drift", "ALERT"] for line in drift), drift

    endpoints = {line.split()[2]: line for line in text_of(at_80, pane(at_80, "endpoints"))
                 if line.startswith("│ churn-ep")}
    assert {"blue", "green"} <= set(endpoints)
    for deployment, traffic, success, p99 in (("blue", "90%", "99.9%", "42 ms"), ("green", "10%", "100%", "52 ms")):
        line = endpoints[deployment]
        assert traffic in line and success in line and p99 in line, line

    compute = text_of(at_80, pane(at_80, "compute"))
    assert "$/HOUR" in compute[1]
    assert any("dev-instance" in line and "0.29" in line for line in compute)  # the idle one, on top
    assert any("now $1.17/hour, $28.08/day" in line for line in compute), compute


# --- costs --------------------------------------------------------------------------------------


def _money(value: float) -> str:
    return f"{value:,.2f}"


async def test_the_endpoints_pane_shows_what_each_deployment_and_the_endpoint_cost(at_120):
    (endpoint,) = ENDPOINTS
    lines = text_of(at_120, pane(at_120, "endpoints"))
    header = lines[1]
    assert "$/HOUR" in header and "$ TODAY" in header
    for deployment in endpoint.deployments:
        line = next(l for l in lines if l.split()[1:3] == ["churn-ep", deployment.name])
        assert line.split()[-3:-1] == [_money(deployment.cost_per_hour), _money(deployment.cost_today)], line
    total = f"churn-ep: ${_money(endpoint.cost_per_hour)}/hour (${_money(endpoint.cost_per_hour * 24)}/day), " \
            f"${_money(endpoint.cost_today)} today"
    assert any(total in line for line in lines), lines


async def test_the_compute_footer_totals_compute_and_online_deployments(at_120):
    # What runs: cpu-cluster's one node and dev-instance (both DS3_v2); the rest is stopped or empty.
    running = [c for c in COMPUTES if c.current_nodes or c.state == "Running"]
    assert [c.name for c in running] == ["cpu-cluster", "dev-instance"]
    compute_hour = sum(costs.hourly_cost(c.size) for c in running)
    online_hour = sum(e.cost_per_hour for e in ENDPOINTS)
    compute_today = sum(row.cost for row in COSTS_TODAY)
    idle_today = sum(row.idle_cost for row in COSTS_TODAY)
    online_today = sum(e.cost_today for e in ENDPOINTS)
    hour = compute_hour + online_hour
    lines = " ".join(text_of(at_120, at_120.query_one(".compute-footer")))
    assert (f"now ${_money(hour)}/hour, ${_money(hour * 24)}/day = compute ${_money(compute_hour)} "
            f"+ deployments ${_money(online_hour)}") in lines, lines
    assert (f"today ${_money(compute_today + online_today)} = compute ${_money(compute_today)} "
            f"(idle ${_money(idle_today)}) + deployments ${_money(online_today)}") in lines, lines
