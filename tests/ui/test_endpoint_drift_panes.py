"""The endpoints and drift panes render a Snapshot: keyed rows, traffic bars, readiness, serving
figures and "-" where none were read, sparklines, diffing across refreshes, drift verdicts, the
selected monitor's features, the histogram chart and the stale line. Records are built by hand:
this pins rendering, not a backend."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import datetime, timezone

import pytest
from rich.text import Text
from textual.app import App, ComposeResult
from textual.widgets import DataTable, Static

from console.domain import (Deployment, DeploymentMetrics, DriftReport, Endpoint, FeatureDrift, Monitor,
                            Traffic)
from console.ui.panes.drift import NO_REPORT, PLACEHOLDER, DriftPane
from console.ui.panes.endpoints import EndpointsPane, sparkline, traffic_bar
from console.ui.snapshot import Snapshot

from helpers import spy

NOW = datetime(2025, 3, 1, 12, 0, 0, tzinfo=timezone.utc)
WASSERSTEIN, JENSEN_SHANNON = "normalized_wasserstein_distance", "jensen_shannon_distance"


class PaneApp(App):
    def __init__(self, pane) -> None:
        super().__init__()
        self.pane = pane
        self.chosen: list[tuple[str, str]] = []

    def compose(self) -> ComposeResult:
        yield self.pane

    def on_drift_pane_feature_chosen(self, message: DriftPane.FeatureChosen) -> None:
        self.chosen.append((message.monitor, message.feature))


def drive(pane, scenario, size=(120, 40)) -> None:
    async def main() -> None:
        app = PaneApp(pane)
        async with app.run_test(size=size) as pilot:
            await scenario(app, pilot)

    asyncio.run(main())


def text(cell) -> str:
    return cell.plain if isinstance(cell, Text) else cell


def screen_text(app) -> str:
    """The characters on screen (the text nodes of Textual's SVG screenshot, not its markup)."""
    import html
    import re

    text = html.unescape("".join(re.findall(r">([^<]*)</text>", app.export_screenshot())))
    return text.replace("\xa0", " ")


def row(table: DataTable, key: str) -> dict[str, str]:
    return {str(c.key.value): text(v) for c, v in zip(table.ordered_columns, table.get_row(key))}


def keys(table: DataTable) -> list[str]:
    return [r.key.value for r in table.ordered_rows]


def style_of(cell) -> str:
    assert isinstance(cell, Text)
    return " ".join(str(span.style) for span in cell.spans)


# --- endpoints -----------------------------------------------------------------------------------


def deployment(endpoint: str, name: str, *, count: int = 2, ready: int = 2, state: str = "Succeeded",
               hourly: float | None = None, today: float | None = None) -> Deployment:
    return Deployment(endpoint_name=endpoint, name=name, model="azureml:churn:1", instance_type="Standard_DS3_v2",
                      instance_count=count, ready_instances=ready, provisioning_state=state,
                      cost_per_hour=hourly, cost_today=today)


def metrics(endpoint: str, name: str, *, rps=12.34, success=0.995, p99=48.0,
            series=(10.0, 20.0, 40.0, 80.0)) -> DeploymentMetrics:
    return DeploymentMetrics(endpoint_name=endpoint, deployment=name, window_s=60, requests=740, rps=rps,
                             success_rate=success, p50_ms=9.0, p95_ms=30.0, p99_ms=p99,
                             latency_series_ms=tuple(series))


def churn_snapshot(*, live=None, mirror=None, deployments=None, extra=(), **kw) -> Snapshot:
    deployments = deployments or (deployment("churn", "blue"), deployment("churn", "green", ready=0, state="Creating"))
    churn = Endpoint(name="churn", traffic=Traffic(live=live or {"blue": 100, "green": 0}, mirror=mirror or {"green": 10}),
                     deployments=tuple(deployments))
    empty = Endpoint(name="fraud", provisioning_state="Creating")
    return Snapshot(taken_at=NOW, endpoints=[churn, empty, *extra], **kw)


def test_traffic_bar_is_ten_cells_in_eighths_then_the_percent():
    assert traffic_bar(100) == "██████████ 100%"
    assert traffic_bar(25) == "██▌░░░░░░░  25%"
    assert traffic_bar(0) == "░░░░░░░░░░   0%"


def test_sparkline_scales_the_last_twelve_points_to_their_maximum():
    assert sparkline((10.0, 20.0, 40.0, 80.0)) == "▁▂▄█"
    assert sparkline(tuple(range(100))) == sparkline(tuple(range(88, 100)))
    assert len(sparkline(tuple(range(100)))) == 12
    assert sparkline(()) == "-"
    assert sparkline((0.0, 0.0)) == "▁▁"


def test_endpoint_rows_show_traffic_mirror_readiness_metrics_and_costs():
    snapshot = churn_snapshot(metrics={"churn": [metrics("churn", "blue")]},
                              deployments=(deployment("churn", "blue", hourly=0.586, today=7.032),
                                           deployment("churn", "green", ready=0, state="Creating")))

    async def scenario(app, pilot):
        pane = app.pane
        pane.apply(snapshot)
        await pilot.pause()
        table = pane.table
        assert keys(table) == ["churn/blue", "churn/green", "fraud"]
        assert row(table, "churn/blue") == {
            "ENDPOINT": "churn", "DEPLOYMENT": "blue", "TRAFFIC": "██████████ 100%", "MIRROR": "-",
            "READY": "2/2", "RPS": "12", "SUCCESS": "99.5%", "P99": "48 ms", "LATENCY": "▁▂▄█",
            "$/HOUR": "0.59", "$ TODAY": "7.03",
        }
        # No metrics were read for green and it has no price: dashes, not zeros.
        assert row(table, "churn/green") == {
            "ENDPOINT": "churn", "DEPLOYMENT": "green", "TRAFFIC": "░░░░░░░░░░   0%", "MIRROR": "10%",
            "READY": "Creating", "RPS": "-", "SUCCESS": "-", "P99": "-", "LATENCY": "-",
            "$/HOUR": "-", "$ TODAY": "-",
        }
        # An endpoint without deployments: one row keyed by its name, its own state.
        assert row(table, "fraud")["DEPLOYMENT"] == "-"
        assert row(table, "fraud")["READY"] == "Creating"
        warning = app.theme_variables["text-warning"]
        assert warning in style_of(table.get_cell("churn/green", "READY"))

    drive(EndpointsPane(), scenario)


def test_the_footer_totals_the_highlighted_endpoint_and_all_of_them():
    scoring = Endpoint(name="scoring", deployments=(deployment("scoring", "blue", hourly=0.146, today=1.752),
                                                    deployment("scoring", "canary", hourly=None)))
    snapshot = churn_snapshot(deployments=(deployment("churn", "blue", hourly=0.586, today=7.032),
                                           deployment("churn", "green", hourly=0.293, today=0.1953)), extra=(scoring,))

    async def scenario(app, pilot):
        pane = app.pane
        pane.apply(snapshot)
        await pilot.pause()
        footer = pane.query_one(".endpoints-footer", Static)
        # churn is highlighted; fraud, still Creating with no deployments, costs nothing; the canary
        # has no price: counted out loud, not guessed.
        assert str(footer.render()) == ("churn: $0.88/hour, $7.23 today; all 3 endpoints: $1.02/hour ($24.60/day), "
                                        "$8.98 today (+1 unpriced)")
        pane.table.focus()
        await pilot.press("down", "down", "down")  # churn/green, fraud, then scoring/blue
        await pilot.pause()
        assert pane.selected() == ("scoring", "blue")
        assert str(footer.render()).startswith("scoring: $0.15/hour, $1.75 today; all 3 endpoints: $1.02/hour")

    drive(EndpointsPane(), scenario)


def test_a_filter_keeps_rows_by_endpoint_or_deployment_and_the_totals_stay_the_workspaces():
    scoring = Endpoint(name="scoring", deployments=(deployment("scoring", "blue", hourly=0.146, today=1.752),
                                                    deployment("scoring", "canary", hourly=None)))
    snapshot = churn_snapshot(deployments=(deployment("churn", "blue", hourly=0.586, today=7.032),
                                           deployment("churn", "green", hourly=0.293, today=0.1953)), extra=(scoring,))

    async def scenario(app, pilot):
        pane = app.pane
        footer = pane.query_one(".endpoints-footer", Static)
        pane.apply(snapshot)
        await pilot.pause()
        unfiltered = str(footer.render())
        assert unfiltered.startswith("churn: $0.88/hour, $7.23 today; all 3 endpoints: $1.02/hour")
        # `/blue` matches deployment names, not only endpoint names: both blue rows stay.
        pane.filter_text = "blue"
        pane.apply(snapshot)
        await pilot.pause()
        assert keys(pane.table) == ["churn/blue", "scoring/blue"]
        assert str(footer.render()) == unfiltered
        assert pane.border_subtitle.startswith("filter blue: 2 of 5 shown")
        pane.filter_text = "!churn"
        pane.apply(snapshot)
        await pilot.pause()
        assert keys(pane.table) == ["fraud", "scoring/blue", "scoring/canary"]
        assert "all 3 endpoints: $1.02/hour ($24.60/day), $8.98 today" in str(footer.render())
        # A filter that hides every row highlights nothing: the footer is the workspace's total,
        # never "no online endpoints: nothing billed" while endpoints bill.
        pane.filter_text = "nothing-matches"
        pane.apply(snapshot)
        await pilot.pause()
        assert pane.table.row_count == 0 and pane.selected() is None
        assert str(footer.render()) == ("all 3 endpoints: $1.02/hour ($24.60/day), $8.98 today; 1 deployment "
                                        "without a known price, not counted")
        pane.filter_text = ""
        pane.apply(snapshot)
        await pilot.pause()
        assert len(keys(pane.table)) == 5 and str(footer.render()) == unfiltered

    drive(EndpointsPane(), scenario)


def test_the_one_endpoints_total_stands_when_the_filter_hides_its_rows():
    snapshot = Snapshot(taken_at=NOW, endpoints=[Endpoint(
        name="churn-ep", traffic=Traffic(live={"blue": 100}),
        deployments=(deployment("churn-ep", "blue", hourly=0.586, today=7.032),
                     deployment("churn-ep", "green", hourly=0.293, today=0.1953)))])

    async def scenario(app, pilot):
        pane = app.pane
        pane.filter_text = "red"
        pane.apply(snapshot)
        await pilot.pause()
        assert pane.table.row_count == 0
        assert str(pane.query_one(".endpoints-footer", Static).render()).startswith("churn-ep: $0.88/hour ($21.10/day)")

    drive(EndpointsPane(), scenario)


def test_the_figures_window_and_its_age_are_the_backends_and_said_under_the_pane():
    local = [dataclasses.replace(metrics("churn", name), window_s=10) for name in ("blue", "green")]
    # Azure Monitor's newest complete minute, two and a half minutes old (another endpoint's four).
    azure = [dataclasses.replace(metrics("churn", "blue"), age_s=150.0),
             dataclasses.replace(metrics("scoring", "blue"), age_s=245.0)]
    scoring = Endpoint(name="scoring", deployments=(deployment("scoring", "blue"),))

    async def scenario(app, pilot):
        pane = app.pane
        pane.apply(churn_snapshot(metrics={"churn": local}))
        await pilot.pause()
        assert pane.border_subtitle == "RPS SUCCESS P99: last 10s"
        assert "RPS SUCCESS P99: last 10s" in screen_text(app)
        pane.apply(churn_snapshot(metrics={"churn": azure[:1]}))
        await pilot.pause()
        assert pane.border_subtitle == "RPS SUCCESS P99: 1m, 2m ago"
        pane.apply(churn_snapshot(metrics={"churn": azure[:1], "scoring": azure[1:]}, extra=(scoring,)))
        await pilot.pause()
        assert pane.border_subtitle == "RPS SUCCESS P99: 1m, 2m-4m ago"
        pane.filter_text = "blue"
        pane.apply(churn_snapshot(metrics={"churn": local}))
        await pilot.pause()
        assert pane.border_subtitle == "filter blue: 1 of 3 shown; RPS SUCCESS P99: last 10s"
        pane.filter_text = ""
        pane.apply(churn_snapshot())  # no figures read: nothing to label
        await pilot.pause()
        assert pane.border_subtitle == ""

    drive(EndpointsPane(), scenario)


def test_low_success_is_in_the_error_colour_and_short_readiness_in_the_warning_colour():
    snapshot = churn_snapshot(
        deployments=(deployment("churn", "blue", count=3, ready=1), deployment("churn", "green")),
        metrics={"churn": [metrics("churn", "blue", success=0.9876, p99=512.0),
                           metrics("churn", "green", success=None, rps=0.0, p99=None, series=())]})

    async def scenario(app, pilot):
        pane = app.pane
        pane.apply(snapshot)
        await pilot.pause()
        table = pane.table
        blue, green = row(table, "churn/blue"), row(table, "churn/green")
        assert (blue["READY"], blue["SUCCESS"], blue["P99"]) == ("1/3", "98.7%", "512 ms")
        assert app.theme_variables["text-error"] in style_of(table.get_cell("churn/blue", "SUCCESS"))
        assert app.theme_variables["text-warning"] in style_of(table.get_cell("churn/blue", "READY"))
        # No requests in the window: no success rate, no latency; the rps is a real 0.
        assert (green["RPS"], green["SUCCESS"], green["P99"], green["LATENCY"]) == ("0.0", "-", "-", "-")

    drive(EndpointsPane(), scenario)


def test_an_endpoint_whose_router_is_down_reads_router_down_in_every_deployment_row():
    down = Endpoint(name="churn", traffic=Traffic(live={"blue": 100, "green": 0}),
                    deployments=(deployment("churn", "blue"), deployment("churn", "green")),
                    healthy=False, unhealthy_reason="its router is down; the daemon is restarting it")

    async def scenario(app, pilot):
        app.pane.apply(Snapshot(taken_at=NOW, endpoints=[down]))
        await pilot.pause()
        table = app.pane.table
        assert row(table, "churn/blue")["READY"] == row(table, "churn/green")["READY"] == "router down"
        assert app.theme_variables["text-error"] in style_of(table.get_cell("churn/blue", "READY"))
        app.pane.apply(Snapshot(taken_at=NOW, endpoints=[dataclasses.replace(down, healthy=True)]))
        await pilot.pause()
        assert row(table, "churn/blue")["READY"] == "2/2"

    drive(EndpointsPane(), scenario)


def test_an_ansi_theme_colours_cells_with_its_ansi_names():
    snapshot = churn_snapshot(metrics={"churn": [metrics("churn", "blue", success=0.5)]})

    async def scenario(app, pilot):
        app.theme = "ansi-dark"  # its colours are "ansi_red", which Rich cannot parse
        await pilot.pause()
        app.pane.apply(snapshot)
        await pilot.pause()
        assert style_of(app.pane.table.get_cell("churn/blue", "SUCCESS")) == "red"
        app.export_screenshot()  # renders every cell

    drive(EndpointsPane(), scenario)


def test_a_second_snapshot_is_diffed_by_key(monkeypatch):
    first = churn_snapshot(metrics={"churn": [metrics("churn", "blue")]})
    # green went away, blue's traffic changed shape, a third deployment appeared, fraud is unchanged.
    second = churn_snapshot(
        live={"blue": 90, "canary": 10}, mirror={},
        deployments=(deployment("churn", "blue"), deployment("churn", "canary", count=1, ready=1)),
        metrics={"churn": [metrics("churn", "blue", rps=3.25), metrics("churn", "canary", rps=0.5)]})

    async def scenario(app, pilot):
        pane = app.pane
        pane.apply(first)
        await pilot.pause()
        assert "100%" in screen_text(app)
        table = pane.table
        updated, added = spy(table, monkeypatch)
        pane.apply(second)
        await pilot.pause()
        # The new deployment sits beside its endpoint, not at the end of the table.
        assert keys(table) == ["churn/blue", "churn/canary", "fraud"]
        assert added == ["churn/canary"]
        assert sorted(updated) == [("churn/blue", "RPS"), ("churn/blue", "TRAFFIC")]
        assert row(table, "churn/blue")["TRAFFIC"] == "█████████░  90%"
        assert row(table, "churn/blue")["RPS"] == "3.2"
        # What is drawn follows the batch write too (DataTable caches rendered rows).
        screen = screen_text(app)
        assert " 3.2 " in screen and "90%" in screen and "100%" not in screen
        # A refresh that only changes figures (no row added or removed) is drawn as well.
        third = churn_snapshot(
            live={"blue": 90, "canary": 10}, mirror={},
            deployments=(deployment("churn", "blue"), deployment("churn", "canary", count=1, ready=1)),
            metrics={"churn": [metrics("churn", "blue", rps=7.75), metrics("churn", "canary", rps=0.5)]})
        pane.apply(third)
        await pilot.pause()
        screen = screen_text(app)
        assert " 7.8 " in screen and " 3.2 " not in screen
        assert row(table, "churn/canary")["TRAFFIC"] == "█░░░░░░░░░  10%"

    drive(EndpointsPane(), scenario)


def test_selection_follows_the_highlighted_row_and_survives_a_refresh():
    snapshot = churn_snapshot()

    async def scenario(app, pilot):
        pane = app.pane
        footer = pane.query_one(".endpoints-footer", Static)
        assert pane.selected() is None
        pane.apply(snapshot)
        await pilot.pause()
        assert pane.selected() == ("churn", "blue")
        pane.table.focus()
        await pilot.press("down")
        await pilot.pause()
        assert pane.selected() == ("churn", "green")
        await pilot.press("down")
        await pilot.pause()
        assert pane.selected() == ("fraud", None)
        assert str(footer.render()).startswith("fraud: ")  # the footer totals the highlighted endpoint
        # A new row above the cursor does not move the selection to another deployment.
        pane.apply(Snapshot(taken_at=NOW, endpoints=[Endpoint(name="aardvark"), *snapshot.endpoints]))
        await pilot.pause()
        assert keys(pane.table)[0] == "aardvark"
        assert pane.selected() == ("fraud", None)
        assert str(footer.render()).startswith("fraud: ")

    drive(EndpointsPane(), scenario)


def test_a_failed_endpoints_read_keeps_the_rows_and_says_stale():
    async def scenario(app, pilot):
        pane = app.pane
        pane.apply(churn_snapshot())
        await pilot.pause()
        pane.apply(Snapshot(taken_at=NOW, errors={"endpoints": "HttpResponseError: 503"}))
        await pilot.pause()
        status = pane.query_one(".pane-status", Static)
        assert status.has_class("-shown")
        assert "stale: HttpResponseError: 503" in str(status.render())
        assert keys(pane.table) == ["churn/blue", "churn/green", "fraud"]
        pane.apply(churn_snapshot())
        await pilot.pause()
        assert not status.has_class("-shown")

    drive(EndpointsPane(), scenario)


def test_five_hundred_endpoints_refresh_in_place():
    def snapshot(rps: float) -> Snapshot:
        endpoints, figures = [], {}
        for i in range(500):
            name = f"ep-{i:03d}"
            endpoints.append(Endpoint(name=name, traffic=Traffic(live={"blue": 90, "green": 10}),
                                      deployments=(deployment(name, "blue"), deployment(name, "green"))))
            figures[name] = [metrics(name, "blue", rps=rps), metrics(name, "green", rps=rps)]
        return Snapshot(taken_at=NOW, endpoints=endpoints, metrics=figures)

    first, second = snapshot(5.0), snapshot(7.0)

    async def scenario(app, pilot):
        pane = app.pane
        pane.apply(first)
        await pilot.pause()
        pane.apply(second)  # how fast is benchmarks/ui.py's business: timed tests are flaky
        await pilot.pause()
        assert pane.table.row_count == 1000
        assert row(pane.table, "ep-499/green")["RPS"] == "7.0"

    drive(EndpointsPane(), scenario)


# --- drift ---------------------------------------------------------------------------------------


def feature(name: str, value: float | None, *, drifted: bool = False, kind: str = "numeric",
            note: str | None = None) -> FeatureDrift:
    metric = WASSERSTEIN if kind == "numeric" else JENSEN_SHANNON
    return FeatureDrift(feature=name, type=kind, metric=metric, value=value, threshold=0.1, drifted=drifted, note=note)


def report(monitor: str, features: tuple[FeatureDrift, ...], *, alert: bool, share: float) -> DriftReport:
    return DriftReport(monitor=monitor, endpoint_name="churn", deployment="blue",
                       window_start=datetime(2025, 3, 1, 8, 0, tzinfo=timezone.utc),
                       window_end=datetime(2025, 3, 1, 9, 0, tzinfo=timezone.utc), baseline_rows=5000,
                       production_rows=12345, features=features, drifted_share=share, alert=alert)


CHURN_FEATURES = (
    feature("tenure", 0.02),
    feature("monthly_charges", 0.4321, drifted=True),
    feature("contract", 0.2468, drifted=True, kind="categorical"),
    feature("region", None, kind="categorical", note="not enough data"),
)


def drift_snapshot(**kw) -> Snapshot:
    monitors = [Monitor(name="churn-drift", endpoint_name="churn", deployment="blue"),
                Monitor(name="churn-green", endpoint_name="churn", deployment="green"),
                Monitor(name="fraud-drift", endpoint_name="fraud", deployment="blue")]
    reports = {
        "churn-drift": report("churn-drift", CHURN_FEATURES, alert=True, share=2 / 3),
        "churn-green": report("churn-green", (feature("tenure", 0.01), feature("contract", 0.03, kind="categorical")),
                              alert=False, share=0.0),
    }
    return Snapshot(taken_at=NOW, monitors=monitors, reports=reports, **kw)


def test_drift_verdicts_alert_ok_and_no_report_yet():
    async def scenario(app, pilot):
        pane = app.pane
        pane.apply(drift_snapshot())
        await pilot.pause()
        table = pane.monitors_table
        assert keys(table) == ["churn-drift", "churn-green", "fraud-drift"]
        alert = row(table, "churn-drift")
        assert (alert["TARGET"], alert["VERDICT"], alert["DRIFTED"], alert["ROWS"]) == \
            ("churn/blue", "ALERT", "2/3 (67%)", "12,345")
        assert alert["WINDOW"] == datetime(2025, 3, 1, 9, 0, tzinfo=timezone.utc).astimezone().strftime("%m-%d %H:%M")
        assert app.theme_variables["text-error"] in style_of(table.get_cell("churn-drift", "VERDICT"))
        assert row(table, "churn-green")["VERDICT"] == "ok"
        assert app.theme_variables["text-success"] in style_of(table.get_cell("churn-green", "VERDICT"))
        assert row(table, "fraud-drift") == {"MONITOR": "fraud-drift", "TARGET": "fraud/blue", "VERDICT": NO_REPORT,
                                             "DRIFTED": "-", "ROWS": "-", "WINDOW": "-"}
        assert "dim" in style_of(table.get_cell("fraud-drift", "VERDICT"))

    drive(DriftPane(), scenario)


def test_the_feature_table_shows_the_selected_monitors_report_drifted_first():
    async def scenario(app, pilot):
        pane = app.pane
        pane.apply(drift_snapshot())
        await pilot.pause()
        assert pane.selected_monitor() == "churn-drift"
        features = pane.features_table
        assert keys(features) == ["monthly_charges", "contract", "tenure", "region"]
        assert row(features, "monthly_charges") == {"FEATURE": "monthly_charges", "TYPE": "numeric",
                                                    "VALUE": "0.4321", "THRESHOLD": "W1 > 0.1", "PSI": "-",
                                                    "NOTE": ""}
        assert row(features, "contract")["THRESHOLD"] == "JS > 0.1"
        assert row(features, "region")["VALUE"] == "-"
        assert row(features, "region")["NOTE"] == "not enough data"
        assert pane.selected_feature() == "monthly_charges"

        pane.monitors_table.focus()
        await pilot.press("down")
        await pilot.pause()
        assert pane.selected_monitor() == "churn-green"
        assert keys(features) == ["contract", "tenure"]  # no drift: largest distance first
        await pilot.press("down")
        await pilot.pause()
        assert pane.selected_monitor() == "fraud-drift"
        assert features.row_count == 0
        assert pane.selected_feature() is None

        # A refresh in which a feature's drift changes re-orders it, the cursor stays on its feature.
        # Back through churn-green (cursor on its first feature, contract) to churn-drift: the
        # cursor stays on the same feature rather than the same row index.
        await pilot.press("up", "up")
        await pilot.pause()
        assert pane.selected_monitor() == "churn-drift"
        assert pane.selected_feature() == "contract"
        assert features.cursor_row == 1
        features.focus()
        changed = dict(drift_snapshot().reports)
        changed["churn-drift"] = report("churn-drift", (feature("tenure", 0.9, drifted=True), *CHURN_FEATURES[1:]),
                                        alert=True, share=1.0)
        pane.apply(Snapshot(taken_at=NOW, monitors=drift_snapshot().monitors, reports=changed))
        await pilot.pause()
        assert keys(features) == ["tenure", "monthly_charges", "contract", "region"]
        assert pane.selected_feature() == "contract"
        await pilot.press("enter")
        await pilot.pause()
        assert app.chosen == [("churn-drift", "contract")]

    drive(DriftPane(), scenario)


def test_histograms_wait_for_data_then_draw_both_series():
    async def scenario(app, pilot):
        pane = app.pane
        pane.apply(drift_snapshot())
        await pilot.pause()
        view = pane.histograms
        assert str(view.render()) == PLACEHOLDER
        assert pane.show_histograms("monthly_charges", [0.1, 0.3, 0.4, 0.2], [0.05, 0.15, 0.3, 0.5],
                                    ["<20", "20-50", "50-80", ">80"])
        await pilot.pause()
        drawn = view.render()
        shown = drawn.plain if isinstance(drawn, Text) else str(drawn)
        assert "baseline" in shown and "production" in shown and "monthly_charges" in shown
        assert "20-50" in shown and ">80" in shown
        assert "█" in shown
        assert view.size.height >= 8
        assert len(shown.splitlines()) <= view.size.height
        with pytest.raises(ValueError):
            pane.show_histograms("tenure", [0.5, 0.5], [1.0], ["a", "b"])
        # An answer for a monitor that is no longer selected is dropped.
        assert not pane.show_histograms("tenure", [1.0], [1.0], ["a"], monitor="churn-green")
        # Selecting another monitor takes the chart away.
        pane.monitors_table.focus()
        await pilot.press("down")
        await pilot.pause()
        assert str(view.render()) == PLACEHOLDER

    drive(DriftPane(), scenario)


def test_a_failed_monitors_read_says_stale():
    async def scenario(app, pilot):
        pane = app.pane
        pane.apply(drift_snapshot())
        await pilot.pause()
        pane.apply(drift_snapshot(errors={"monitors": "report read failed"}))
        await pilot.pause()
        status = pane.query_one(".pane-status", Static)
        assert status.has_class("-shown")
        assert "stale: report read failed" in str(status.render())
        assert keys(pane.monitors_table) == ["churn-drift", "churn-green", "fraud-drift"]

    drive(DriftPane(), scenario)


def test_both_panes_fit_a_small_terminal():
    async def endpoints(app, pilot):
        app.pane.apply(churn_snapshot(metrics={"churn": [metrics("churn", "blue")]}))
        await pilot.pause()
        assert app.pane.table.size.height >= 3

    async def drift(app, pilot):
        pane = app.pane
        pane.apply(drift_snapshot())
        await pilot.pause()
        pane.show_histograms("contract", [0.5, 0.5], [0.2, 0.8], ["month", "year"])
        await pilot.pause()
        assert pane.monitors_table.size.height >= 3 and pane.features_table.size.height >= 3
        assert "production" in pane.histograms.render().plain

    drive(EndpointsPane(), endpoints, size=(80, 24))
    drive(DriftPane(), drift, size=(80, 24))
