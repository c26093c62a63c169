"""The jobs, compute and quotas panes render a Snapshot: keyed rows, cell texts, order, diffing,
costs (the compute footer's whole bill), quota bars, the columns kept when a pane is narrow, and
the stale line when a read failed. Records are built by hand: this pins rendering, not a backend."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

from rich.text import Text
from textual.app import App, ComposeResult
from textual.widgets import DataTable, Log, Static

from console import costs
from console.domain import Compute, ComputeCost, Deployment, Endpoint, Job, QuotaUsage
from console.ui.panes.compute import Bill, ComputePane
from console.ui.panes.jobs import JobsPane
from console.ui.panes.quotas import QuotasPane
from console.ui.snapshot import Snapshot
from console.ui.table import Column, FitTable, fit

from helpers import spy

NOW = datetime(2025, 3, 1, 12, 0, 0, tzinfo=timezone.utc)


def ago(**delta) -> datetime:
    return NOW - timedelta(**delta)


class PaneApp(App):
    def __init__(self, pane) -> None:
        super().__init__()
        self.pane = pane
        self.selected: list[str | None] = []

    def compose(self) -> ComposeResult:
        yield self.pane

    def on_jobs_pane_selected(self, message: JobsPane.Selected) -> None:
        self.selected.append(message.name)


def drive(pane, scenario, size=(120, 40)) -> None:
    async def main() -> None:
        app = PaneApp(pane)
        async with app.run_test(size=size) as pilot:
            await scenario(app, pilot)

    asyncio.run(main())


def plain(cells) -> list[str]:
    return [c.plain if isinstance(c, Text) else c for c in cells]


def keys(table: DataTable) -> list[str]:
    return [row.key.value for row in table.ordered_rows]


def status_line(pane) -> Static:
    return pane.query_one(".pane-status", Static)


# --- jobs ---------------------------------------------------------------------------------------

JOBS = [
    Job("train-a", "Completed", experiment_name="churn", compute="cpu-cluster",
        created_at=ago(hours=3, minutes=1), started_at=ago(hours=3), ended_at=ago(hours=3) + timedelta(seconds=65)),
    Job("train-b", "Running", experiment_name="churn", compute="cpu-cluster",
        created_at=ago(minutes=6), started_at=ago(minutes=5)),
    Job("train-c", "Queued", experiment_name="churn", created_at=ago(seconds=30)),
    Job("train-b-step", "Running", parent="train-b", created_at=ago(minutes=1), started_at=ago(seconds=50)),
    Job("old", "Failed", experiment_name=None, created_at=ago(days=3), started_at=ago(days=3),
        ended_at=ago(days=3) + timedelta(hours=2, minutes=3)),
]


def test_jobs_pane_shows_top_level_jobs_newest_first_with_age_and_duration():
    pane = JobsPane()

    async def scenario(app, pilot):
        pane.apply(Snapshot(taken_at=NOW, jobs=JOBS))
        await pilot.pause()
        table = pane.query_one(DataTable)
        assert keys(table) == ["train-c", "train-b", "train-a", "old"]  # the pipeline step is left out
        assert [c.label.plain for c in table.ordered_columns] == ["NAME", "STATUS", "STARTED", "DURATION", "COMPUTE",
                                                                   "DISPLAY NAME", "EXPERIMENT"]
        assert table.cursor_type == "row" and not table.zebra_stripes
        assert plain(table.get_row("train-a")) == ["train-a", "Completed", "3h ago", "1m05s", "cpu-cluster", "-",
                                                      "churn"]
        assert plain(table.get_row("train-b")) == ["train-b", "Running", "5m ago", "5m00s", "cpu-cluster", "-", "churn"]
        assert plain(table.get_row("train-c")) == ["train-c", "Queued", "-", "-", "-", "-", "churn"]
        old = plain(table.get_row("old"))
        assert old[6] == "-" and old[2] == ago(days=3).astimezone().date().isoformat() and old[3] == "2h03m"
        status = {key: table.get_row(key)[1] for key in keys(table)}
        assert "green" in str(status["train-a"].style) and "red" in str(status["old"].style)
        assert "yellow" in str(status["train-b"].style) and "dim" in str(status["train-c"].style)

    drive(pane, scenario)


def test_jobs_pane_diffs_rows_and_keeps_the_cursor_on_its_job(monkeypatch):
    pane = JobsPane()

    async def scenario(app, pilot):
        pane.apply(Snapshot(taken_at=NOW, jobs=JOBS))
        await pilot.pause()
        table = pane.query_one(DataTable)
        table.move_cursor(row=table.get_row_index("train-b"))
        await pilot.pause()
        unchanged = table.rows[next(k for k in table.rows if k.value == "train-c")]
        updated, added = spy(table, monkeypatch)

        later = [j for j in JOBS if j.name != "train-a"]
        later = [Job(j.name, "Failed", experiment_name=j.experiment_name, compute=j.compute,
                     created_at=j.created_at, started_at=j.started_at, ended_at=NOW, error="OOM")
                 if j.name == "train-b" else j for j in later]
        later.append(Job("train-d", "Starting", experiment_name="churn", created_at=ago(seconds=5),
                         started_at=ago(seconds=2)))
        pane.apply(Snapshot(taken_at=NOW, jobs=later))
        await pilot.pause()

        assert table.row_count == 4
        assert keys(table) == ["train-d", "train-c", "train-b", "old"]
        assert table.get_row("train-b")[1].plain == "Failed"
        assert added == ["train-d"]  # no row re-added
        assert ("train-b", "STATUS") in updated
        assert not [u for u in updated if u[0] == "train-c"]
        assert table.rows[next(k for k in table.rows if k.value == "train-c")] is unchanged
        assert plain(table.get_row("train-d"))[2:4] == ["2s ago", "2s"]
        assert pane.selected_job() == "train-b"  # the new job on top did not move the selection
        assert app.selected == ["train-c", "train-b"]  # one message per change, none for the re-sort

    drive(pane, scenario)


def test_jobs_pane_posts_selected_and_shows_the_log_tail():
    pane = JobsPane()

    async def scenario(app, pilot):
        pane.apply(Snapshot(taken_at=NOW, jobs=JOBS))
        await pilot.pause()
        assert app.selected == ["train-c"]
        pane.query_one(DataTable).focus()
        await pilot.press("down")
        await pilot.pause()
        assert app.selected == ["train-c", "train-b"] and pane.selected_job() == "train-b"

        log, detail = pane.query_one(Log), pane.query_one(".job-detail")
        assert not detail.display
        text = "\n".join(f"epoch {i} [loss] \x1b[32m0.{i}\x1b[0m" for i in range(40)) + "\n"
        pane.show_detail(text)
        await pilot.pause()
        assert detail.display
        assert list(log.lines) == [f"epoch {i} [loss] 0.{i}" for i in range(25, 40)]
        assert "train-b" in log.border_title

        pane.show_detail("late log of another job", name="train-a")
        await pilot.pause()
        assert log.lines[-1] == "epoch 39 [loss] 0.39"

    drive(pane, scenario)


def test_jobs_pane_keeps_its_rows_and_says_stale_when_the_read_failed():
    pane = JobsPane()

    async def scenario(app, pilot):
        pane.apply(Snapshot(taken_at=NOW, jobs=JOBS))
        await pilot.pause()
        pane.apply(Snapshot(taken_at=NOW, errors={"jobs": "ServiceUnavailable: try later"}))
        await pilot.pause()
        assert pane.query_one(DataTable).row_count == 4
        status = status_line(pane)
        assert status.display and "stale: ServiceUnavailable: try later" in str(status.render())
        pane.apply(Snapshot(taken_at=NOW, jobs=JOBS))
        await pilot.pause()
        assert not status.display

    drive(pane, scenario)


def test_jobs_pane_does_not_read_brackets_in_names_as_markup():
    pane = JobsPane()

    async def scenario(app, pilot):
        pane.apply(Snapshot(taken_at=NOW, jobs=[Job("sweep[1]", "Queued", experiment_name="[bold]x", created_at=NOW)]))
        await pilot.pause()
        table = pane.query_one(DataTable)
        row = plain(table.get_row("sweep[1]"))
        assert (row[0], row[-1]) == ("sweep[1]", "[bold]x")

    drive(pane, scenario)


# --- compute ------------------------------------------------------------------------------------

COMPUTES = [
    Compute("cpu-cluster", "amlcompute", "Standard_DS3_v2", "Steady", max_instances=4, current_nodes=2),
    Compute("ci-busy", "computeinstance", "Standard_DS3_v2", "JobRunning", last_activity=ago(minutes=1)),
    Compute("ci-new", "computeinstance", "Standard_DS3_v2", "Running", last_activity=ago(minutes=10)),
    Compute("ci-stopped", "computeinstance", "Standard_DS3_v2", "Stopped", last_activity=ago(days=1)),
    Compute("ci-old", "computeinstance", "Standard_DS3_v2", "Running", last_activity=ago(minutes=90)),
    Compute("gpu-odd", "amlcompute", "Standard_Made_Up_v9", "Resizing", max_instances=2, current_nodes=1),
]
COSTS_TODAY = {
    "ci-old": ComputeCost("ci-old", "2026-03-01", cost=1.5, idle_cost=0.44),
    "cpu-cluster": ComputeCost("cpu-cluster", "2026-03-01", cost=2.25, idle_cost=0.1),
}


def test_compute_pane_puts_idle_instances_first_with_costs():
    pane = ComputePane()

    async def scenario(app, pilot):
        pane.apply(Snapshot(taken_at=NOW, computes=COMPUTES, costs_today=COSTS_TODAY))
        await pilot.pause()
        table = pane.query_one(DataTable)
        assert keys(table) == ["ci-old", "ci-new", "ci-busy", "ci-stopped", "cpu-cluster", "gpu-odd"]
        ds3 = costs.hourly_cost("Standard_DS3_v2")
        assert plain(table.get_row("ci-old")) == ["ci-old", "Running", "1h30m", f"{ds3:.2f}", "0.44", "1.50", "-",
                                                  "instance", "Standard_DS3_v2"]
        assert "yellow" in str(table.get_row("ci-old")[2].style)
        assert plain(table.get_row("ci-new"))[2:6] == ["10m", f"{ds3:.2f}", "-", "-"]
        assert plain(table.get_row("ci-busy"))[2:4] == ["-", f"{ds3:.2f}"]
        assert plain(table.get_row("ci-stopped"))[2:4] == ["-", "0.00"]
        assert plain(table.get_row("cpu-cluster"))[1:] == ["Steady", "-", f"{ds3 * 2:.2f}", "0.10", "2.25", "2/4",
                                                           "cluster", "Standard_DS3_v2"]
        assert plain(table.get_row("gpu-odd"))[3] == "-"  # no price in the catalog: never a guess

        hourly = ds3 * 5  # three running instances and two cluster nodes; gpu-odd has no price
        footer = str(pane.query_one(".compute-footer", Static).render())
        # No endpoints were read: the deployments' share is unknown, not zero.
        assert f"now ${hourly:.2f}/hour, ${hourly * 24:.2f}/day = compute ${hourly:.2f} + deployments -" in footer
        assert "1 without a known price, not counted" in footer
        assert "today $3.75 = compute $3.75 (idle $0.54) + deployments -" in footer

        assert [c.name for c in pane.idle_instances(Snapshot(taken_at=NOW, computes=COMPUTES))] == ["ci-old", "ci-new"]
        table.move_cursor(row=1)
        await pilot.pause()
        assert pane.selected_compute() == "ci-new"

    drive(pane, scenario)


def test_compute_pane_updates_in_place_and_goes_stale_on_error(monkeypatch):
    pane = ComputePane()

    async def scenario(app, pilot):
        pane.apply(Snapshot(taken_at=NOW, computes=COMPUTES, costs_today=None))
        await pilot.pause()
        table = pane.query_one(DataTable)
        assert plain(table.get_row("ci-old"))[4:6] == ["-", "-"]
        assert "today: this workspace does not report what it has cost" in str(pane.query_one(".compute-footer", Static).render())
        updated, added = spy(table, monkeypatch)

        stopped = [Compute(c.name, c.type, c.size, "Stopped", last_activity=c.last_activity) if c.name == "ci-old"
                   else c for c in COMPUTES]
        pane.apply(Snapshot(taken_at=NOW, computes=stopped, costs_today=COSTS_TODAY))
        await pilot.pause()
        assert added == []
        assert keys(table)[0] == "ci-new" and plain(table.get_row("ci-old"))[1:4] == ["Stopped", "-", "0.00"]

        pane.apply(Snapshot(taken_at=NOW, errors={"computes": "AuthenticationError: token expired"}))
        await pilot.pause()
        assert table.row_count == len(COMPUTES)
        assert "stale: AuthenticationError" in str(status_line(pane).render()) and status_line(pane).display

    drive(pane, scenario)


def test_the_compute_footer_bills_compute_and_online_deployments_now_and_today():
    ds2 = costs.hourly_cost("Standard_DS2_v2")
    serving = [Endpoint("churn", deployments=(
        Deployment("churn", "blue", None, "Standard_DS2_v2", instance_count=2, cost_per_hour=2 * ds2,
                   cost_today=2 * ds2 * 12),
        Deployment("churn", "green", None, "Standard_Made_Up_v9", cost_per_hour=None, cost_today=None)))]
    pane = ComputePane()

    async def scenario(app, pilot):
        pane.apply(Snapshot(taken_at=NOW, computes=COMPUTES, costs_today=COSTS_TODAY, endpoints=serving))
        await pilot.pause()
        compute = costs.hourly_cost("Standard_DS3_v2") * 5
        hour, today = compute + 2 * ds2, 3.75 + 2 * ds2 * 12
        footer = str(pane.query_one(".compute-footer", Static).render()).splitlines()
        # gpu-odd and green have no price: counted out loud, not guessed.
        assert footer == [f"now ${hour:.2f}/hour, ${hour * 24:.2f}/day = compute ${compute:.2f} + deployments "
                          f"${2 * ds2:.2f}; 2 without a known price, not counted",
                          f"today ${today:.2f} = compute $3.75 (idle $0.54) + deployments ${2 * ds2 * 12:.2f}"]

    drive(pane, scenario)


def test_the_bill_is_as_detailed_as_the_footer_is_wide():
    bill = Bill(compute_hour=0.586, compute_today=1.6, idle_today=0.83, deployments_hour=0.584,
                deployments_today=3.6987, unpriced=0)
    assert bill.text(68).splitlines() == ["now $1.17/hour, $28.08/day = compute $0.59 + deployments $0.58",
                                          "today $5.30 = compute $1.60 (idle $0.83) + deployments $3.70"]
    # The overview at 80 columns: the total first, the split goes.
    assert bill.text(44).splitlines() == ["now $1.17/hour, $28.08/day", "today $5.30, idle compute $0.83"]
    assert bill.text(12).splitlines() == ["$1.17/hour", "today $5.30"]
    assert Bill(0.0, None, None, None, None, 0).text(80).splitlines() == [
        "now $0.00/hour, $0.00/day = compute $0.00 + deployments -",
        "today: this workspace does not report what it has cost"]
    # Half known stays a figure, with the unknown half shown as unknown.
    assert Bill(0.0, 1.0, None, None, None, 0).text(80).splitlines()[1] == \
        "today $1.00 = compute $1.00 (idle -) + deployments -"


# --- columns by width ---------------------------------------------------------------------------

COLUMNS_BY_RANK = (Column("NAME"), Column("STATE", 7, rank=2), Column("$/HOUR", 6, rank=1), Column("NOTE", 2, rank=3))


def test_columns_are_kept_by_rank_while_the_next_fits():
    widths = {"NAME": 10, "STATE": 7, "$/HOUR": 6, "NOTE": 2}
    every = 12 + 9 + 8 + 4
    assert fit(COLUMNS_BY_RANK, widths, every) == ("NAME", "STATE", "$/HOUR", "NOTE")  # in table order
    assert fit(COLUMNS_BY_RANK, widths, every - 1) == ("NAME", "STATE", "$/HOUR")
    assert fit(COLUMNS_BY_RANK, widths, 12 + 8) == ("NAME", "$/HOUR")
    # Strictly by rank: NOTE would fit beside $/HOUR, but STATE matters more and did not.
    assert fit(COLUMNS_BY_RANK, widths, 12 + 8 + 4) == ("NAME", "$/HOUR")
    assert fit(COLUMNS_BY_RANK, widths, 3) == ("NAME",)  # the names always show


def test_a_narrower_pane_drops_columns_and_keeps_the_cursor_on_its_row():
    pane = ComputePane()

    async def scenario(app, pilot):
        pane.apply(Snapshot(taken_at=NOW, computes=COMPUTES, costs_today=COSTS_TODAY))
        await pilot.pause()
        table = pane.query_one(FitTable)
        assert table.shown == tuple(c.label for c in table.all_columns)
        table.move_cursor(row=table.get_row_index("ci-busy"))
        await pilot.resize_terminal(48, 20)
        await pilot.pause()
        # $/hour comes right after the name in rank: it stays, $ today ("JobRunning" is wide) goes.
        assert table.shown == ("NAME", "STATE", "IDLE", "$/HOUR")
        assert plain(table.get_row("ci-old")) == ["ci-old", "Running", "1h30m", f"{costs.hourly_cost('Standard_DS3_v2'):.2f}"]
        assert pane.selected_compute() == "ci-busy"
        assert table.virtual_size.width <= table.size.width  # nothing to scroll sideways
        await pilot.resize_terminal(120, 40)
        await pilot.pause()
        assert len(table.shown) == len(table.all_columns) and pane.selected_compute() == "ci-busy"

    drive(pane, scenario)


def test_a_pane_hidden_while_another_is_zoomed_shows_what_it_missed():
    pane = ComputePane()

    async def scenario(app, pilot):
        pane.apply(Snapshot(taken_at=NOW, computes=COMPUTES[:2], costs_today=COSTS_TODAY))
        await pilot.pause()
        pane.display = False  # what zooming another pane does to this one
        await pilot.pause()
        pane.apply(Snapshot(taken_at=NOW, computes=COMPUTES, costs_today=COSTS_TODAY))
        await pilot.pause()
        pane.display = True
        await pilot.pause()
        assert keys(pane.query_one(FitTable)) == ["ci-old", "ci-new", "ci-busy", "ci-stopped", "cpu-cluster", "gpu-odd"]

    drive(pane, scenario)


# --- quotas -------------------------------------------------------------------------------------

QUOTAS = [
    QuotaUsage("standardDSv2Family", 20, 24),
    QuotaUsage("standardDSv3Family", 4, 24),
    QuotaUsage("standardFSv2Family", 0, 24),
    QuotaUsage("standardNCSv3Family", 0, 0),
    QuotaUsage("standardNCASv3_T4Family", 0, 0),
    QuotaUsage("standardESv3Family", 24, 24),
]


def test_quotas_pane_draws_bars_and_orders_by_use():
    pane = QuotasPane()

    async def scenario(app, pilot):
        pane.apply(Snapshot(taken_at=NOW, quotas=QUOTAS))
        await pilot.pause()
        table = pane.query_one(DataTable)
        # In use (fullest first), then no quota at all (what blocks a GPU job), then quota unused.
        assert keys(table) == ["standardESv3Family", "standardDSv2Family", "standardDSv3Family",
                               "standardNCASv3_T4Family", "standardNCSv3Family", "standardFSv2Family"]
        assert pane.border_subtitle == "no GPU quota: NCASv3_T4, NCSv3"
        assert plain(table.get_row("standardDSv2Family")) == ["DSv2", "██████████░░", "20/24", "4"]
        assert plain(table.get_row("standardDSv3Family"))[1:3] == ["██░░░░░░░░░░", "4/24"]
        assert plain(table.get_row("standardFSv2Family"))[1:3] == ["░░░░░░░░░░░░", "0/24"]
        assert plain(table.get_row("standardESv3Family"))[1:] == ["████████████", "24/24", "0"]
        zero = table.get_row("standardNCSv3Family")
        assert plain(zero) == ["NCSv3", "no quota", "0/0", "0"]
        assert "dim" in str(zero[1].style) and "dim" in str(zero[0].style)
        assert "yellow" in str(table.get_row("standardDSv2Family")[1].style)
        assert "red" in str(table.get_row("standardESv3Family")[1].style)

    drive(pane, scenario)


def test_quotas_pane_reorders_in_place_and_goes_stale_on_error(monkeypatch):
    pane = QuotasPane()

    async def scenario(app, pilot):
        pane.apply(Snapshot(taken_at=NOW, quotas=QUOTAS))
        await pilot.pause()
        table = pane.query_one(DataTable)
        updated, added = spy(table, monkeypatch)
        fuller = [QuotaUsage(q.family, 24, 24) if q.family == "standardDSv3Family" else q for q in QUOTAS]
        pane.apply(Snapshot(taken_at=NOW, quotas=fuller))
        await pilot.pause()
        assert added == []
        assert keys(table)[:3] == ["standardDSv3Family", "standardESv3Family", "standardDSv2Family"]
        assert plain(table.get_row("standardDSv3Family"))[1:] == ["████████████", "24/24", "0"]
        assert {u[0] for u in updated} == {"standardDSv3Family"}

        pane.apply(Snapshot(taken_at=NOW, errors={"quotas": "HttpResponseError: 429"}))
        await pilot.pause()
        assert table.row_count == len(QUOTAS) and "stale: HttpResponseError: 429" in str(status_line(pane).render())

    drive(pane, scenario)


def test_jobs_pane_charts_the_highlighted_jobs_mlflow_metrics():
    from console.domain import MetricSeries
    from console.ui.panes.jobs import MetricsView

    pane = JobsPane()
    curve = MetricSeries("train-c", "holdout_log_loss", tuple(range(1, 51)),
                         tuple(0.6 - 0.002 * i for i in range(50)))
    auc = MetricSeries("train-c", "auc", (0,), (0.7777,))

    async def scenario(app, pilot):
        pane.apply(Snapshot(taken_at=NOW, jobs=JOBS))
        await pilot.pause()
        view = pane.query_one(MetricsView)
        pane.show_metrics("train-c", [auc, curve])
        await pilot.pause()
        text = view.render().plain
        assert view.has_chart and "holdout_log_loss" in text and "auc 0.7777" in text
        assert any(ch in text for ch in "⠁⠂⠄⡀⠈⠐⠠⢀")  # the curve, drawn in braille
        assert view.border_title == "MLflow metrics: train-c"

        # A job with only single values gets them as a line, no empty chart.
        pane.show_metrics("train-c", [auc])
        await pilot.pause()
        assert not view.has_chart and view.render().plain == "train-c: auc 0.7777"

        # Metrics of a job that is no longer highlighted are dropped; a failed read says why.
        pane.show_metrics("train-a", [curve])
        await pilot.pause()
        assert not view.has_chart
        pane.show_metrics("train-c", [], note="NotSupported: no MLflow here")
        await pilot.pause()
        assert view.render().plain == "metrics unavailable: NotSupported: no MLflow here"

    drive(pane, scenario)


def test_a_short_metrics_view_draws_trends_scaled_to_their_range():
    from console.domain import MetricSeries
    from console.ui.charts import trend
    from console.ui.panes.jobs import render_metrics

    assert trend([0.57, 0.53, 0.50, 0.49], 4) == "█▅▂▁"  # min..max, not 0..max
    assert trend(list(range(100)), 10) == "▁▂▃▃▄▅▆▆▇█" and trend([1.0, 1.0], 5) == "▄▄"
    curve = MetricSeries("j", "holdout_log_loss", (1, 2, 3, 4), (0.57, 0.53, 0.50, 0.49))
    text = render_metrics("j", [curve, MetricSeries("j", "auc", (0,), (0.7777,))], 60, 3).plain
    assert text.splitlines() == ["holdout_log_loss 0.57 " + trend(curve.values, 32) + " 0.49", "auc 0.7777"]
