"""The jobs pane: top-level jobs newest first, their status, age and duration, and for the
highlighted job its log tail beside a plotext chart of its MLflow metrics. It never calls the
backend: the app fetches the log and the metrics in a worker and hands them to `show_detail`
and `show_metrics`.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import DataTable, Log
from textual.widgets.data_table import RowDoesNotExist

from console import format as fmt
from console.domain import Job, MetricSeries
from console.format import aware
from console.ui.charts import SERIES_COLOURS, ChartView, legend, line_chart, trend
from console.ui.panes.base import Pane, cell
from console.ui.snapshot import Snapshot
from console.ui.table import Column, FitTable, cursor_key

# What an operator scans for first comes first, and stays when the pane is narrow (the overview
# at 80 columns keeps name, status and start; zoomed shows every column).
# STATUS is fixed: a cell updated in place is not re-measured, and "NotStarted" (a job Azure just took)
# is wider than every status of the first read.
# The display name (what the job's YAML calls it; Azure's names are random) shows where there is
# room: the filter matches it, and the experiment, as well as the name.
TABLE = (Column("NAME"), Column("STATUS", width=10, rank=1), Column("STARTED", rank=2), Column("DURATION", rank=3),
         Column("COMPUTE", rank=4), Column("DISPLAY NAME", rank=5), Column("EXPERIMENT", rank=6))
COLUMNS = tuple(c.label for c in TABLE)
LOG_TAIL_LINES = 15
MAX_CURVES = 3
NO_METRICS = "no MLflow metrics yet"

# One shared Text per status: a refresh of 10,000 jobs builds no Rich objects for this column.
_STATUS_STYLES = {
    "Completed": "green",
    "Failed": "bold red",
    "NotResponding": "red",
    "Running": "yellow",
    "Starting": "yellow",
    "Preparing": "yellow",
    "Provisioning": "yellow",
    "Finalizing": "yellow",
    "Queued": "dim",
    "NotStarted": "dim",
    "Paused": "dim",
    "Canceled": "magenta",
    "CancelRequested": "magenta",
}
_STATUS_TEXT: dict[str, Text] = {}

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
_EPOCH = datetime.min.replace(tzinfo=timezone.utc)
_DAY = timedelta(days=1)


def status_text(status: str) -> Text:
    found = _STATUS_TEXT.get(status)
    if found is None:
        found = _STATUS_TEXT[status] = Text(status, style=_STATUS_STYLES.get(status, ""), end="")
    return found


# Old jobs keep their start and end times from one refresh to the next, and turning a time into a
# local date costs a system call: remember what was formatted (bounded, cleared when full).
_DATES: dict[datetime, str] = {}
_SPANS: dict[tuple[datetime, datetime], str] = {}
_CACHE_MAX = 50_000


def ago(moment: datetime | None, now: datetime) -> str:
    """`console.format.ago`, with the local dates of old jobs remembered."""
    if moment is None or (now - aware(moment)).total_seconds() < 86400:
        return fmt.ago(moment, now)
    found = _DATES.get(moment)
    if found is None:
        if len(_DATES) >= _CACHE_MAX:
            _DATES.clear()
        found = _DATES[moment] = fmt.local_date(moment)
    return found


def duration(job: Job, now: datetime) -> str:
    """Start to end, or to the snapshot's time while the job runs."""
    started, ended = job.started_at, job.ended_at
    if started is None:
        return "-"
    if ended is None:
        return fmt.span((now - aware(started)).total_seconds())
    found = _SPANS.get((started, ended))
    if found is None:
        if len(_SPANS) >= _CACHE_MAX:
            _SPANS.clear()
        found = _SPANS[(started, ended)] = fmt.span((aware(ended) - aware(started)).total_seconds())
    return found


def chosen_curves(series: Sequence[MetricSeries]) -> list[MetricSeries]:
    """The metrics worth a line: those with more than one step, losses first (what a learning
    curve is read for), at most `MAX_CURVES` of them so the chart stays legible."""
    curves = [s for s in series if len(s.steps) > 1]
    curves.sort(key=lambda s: ("loss" not in s.key, s.key))
    return curves[:MAX_CURVES]


def scalars_line(series: Sequence[MetricSeries]) -> str:
    """The single-value metrics (auc, accuracy, ...) as `key value` pairs, last values."""
    return "  ".join(f"{s.key} {s.values[-1]:.4g}" for s in series if len(s.steps) == 1 and s.values)


CHART_MIN_HEIGHT = 8  # below this the curves are drawn as one-line trends


def render_metrics(job: str, series: Sequence[MetricSeries], width: int, height: int) -> Text:
    """The single-value metrics, then the curves: on shared axes (step on x) when there is room
    for a chart, else one trend line per curve with its first and last value."""
    curves = chosen_curves(series)
    colours = [(s.key, colour) for s, colour in zip(curves, SERIES_COLOURS)]
    scalars = scalars_line(series)
    head = [Text(scalars, style="dim")] if scalars else []
    for line in head:  # one line each, whatever the width: the chart below needs the rows
        line.truncate(width, overflow="ellipsis")
    if height < CHART_MIN_HEIGHT:
        lines = []
        for curve, (key, colour) in zip(curves, colours):
            first, last = f"{curve.values[0]:.4g}", f"{curve.values[-1]:.4g}"
            room = width - len(key) - len(first) - len(last) - 3
            if room < 8:  # narrow: the trend and its last value only
                first, room = "", width - len(key) - len(last) - 2
            parts = [(key, "bold"), " ", *([first, " "] if first else []),
                     (trend(curve.values, max(room, 1)), f"color({colour})"), " ", last]
            lines.append(Text.assemble(*parts, no_wrap=True, overflow="crop"))
        return Text("\n", no_wrap=True, overflow="crop", end="").join([*lines, *head])
    lines = [(s.steps, s.values, colour) for s, (_, colour) in zip(curves, colours)]
    chart = line_chart(lines, width, max(height - len(head) - 1, 4))
    title = legend(job, colours)
    title.truncate(width, overflow="ellipsis")
    return Text("\n", no_wrap=True, overflow="crop", end="").join([title, *head, chart])


class MetricsView(ChartView):
    """The highlighted job's MLflow metrics: curves when a metric has steps, else the values."""

    def __init__(self, *, classes: str | None = None) -> None:
        super().__init__(NO_METRICS, classes=classes)

    def plot(self, job: str, series: Sequence[MetricSeries]) -> None:
        series = tuple(series)
        if chosen_curves(series):
            self.show(lambda width, height: render_metrics(job, series, width, height))
        else:
            self.reset(f"{job}: {scalars_line(series) or NO_METRICS}")


class TailLog(Log):
    """A job's log tail, wrapped to the width it has (a continuation indented two cells), and
    wrapped again when that changes: a long line is read whole rather than cut at the pane's
    edge, and nothing scrolls sideways (no stray scrollbar under a zoomed log)."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.raw: list[str] = []
        self._wrapped_at = 0

    def show_lines(self, lines: list[str]) -> None:
        self.raw = list(lines)
        self._write()

    def _room(self) -> int:
        return self.size.width - self.styles.scrollbar_size_vertical

    def _write(self) -> None:
        width = self._room()
        self._wrapped_at = width
        if width > 4:
            lines = [part for line in self.raw
                     for part in (textwrap.wrap(line, width, subsequent_indent="  ", break_on_hyphens=False,
                                                replace_whitespace=False) or [""])]
        else:  # not laid out yet: written as they are, wrapped on the first resize
            lines = self.raw
        self.clear()
        self.write_lines(lines)
        # The tail is what matters: at the end once the new height is laid out.
        self.call_after_refresh(self.scroll_end, animate=False)

    def on_resize(self) -> None:
        if self.raw and self._room() != self._wrapped_at:
            self._write()


class JobsPane(Pane):
    """Top-level jobs, newest first; a pipeline's steps are left to a drill-down."""

    DEFAULT_CSS = """
    JobsPane > FitTable { height: 3fr; min-height: 4; }
    JobsPane > .job-detail { height: 2fr; min-height: 3; max-height: 18; display: none; }
    JobsPane > .job-detail.-shown { display: block; }
    JobsPane .job-log { width: 1fr; height: 100%; border-top: solid $primary-darken-2; border-title-align: left; }
    JobsPane .job-metrics { width: 1fr; height: 100%; min-height: 1; padding-left: 1;
                            border-top: solid $primary-darken-2; border-title-align: left; }
    """

    title = "Jobs"
    area = "jobs"

    class Selected(Message):
        """The highlighted job changed; `name` is None when the table emptied."""

        def __init__(self, pane: JobsPane, name: str | None) -> None:
            self.pane = pane
            self.name = name
            super().__init__()

        @property
        def control(self) -> JobsPane:
            return self.pane

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._announced: str | None = None  # the job the last Selected message named
        self._jobs: dict[str, Job] = {}
        self._stable_rows: dict[str, tuple[Any, ...]] = {}

    def body(self) -> ComposeResult:
        yield FitTable(TABLE, cursor_type="row", zebra_stripes=False)
        with Horizontal(classes="job-detail"):
            yield TailLog(classes="job-log", auto_scroll=True)
            yield MetricsView(classes="job-metrics")

    def show(self, snapshot: Snapshot) -> None:
        now = aware(snapshot.taken_at)
        day_ago = now - _DAY
        every = [job for job in snapshot.jobs or () if job.parent is None]
        top = [job for job in every if self.keeps(job.name, job.display_name, job.experiment_name)]
        # Backends list newest first already, so this sort is a linear pass in practice.
        top.sort(key=lambda job: aware(job.created_at or job.started_at or _EPOCH), reverse=True)
        # A row that no longer changes with time (not started yet, or ended and started over a day
        # ago) is reused while its job's fields are the same: most of 10,000 jobs are such rows.
        previous, stable = self._stable_rows, {}
        rows: dict[str, tuple[Any, ...]] = {}
        for job in top:
            name, status, started, ended = job.name, job.status, job.started_at, job.ended_at
            hit = previous.get(name)
            if (hit is not None and hit[0] == status and hit[1] == started and hit[2] == ended
                    and hit[3] == job.experiment_name and hit[4] == job.compute and hit[5] == job.display_name):
                rows[name] = hit[6]
                stable[name] = hit
                continue
            cells = rows[name] = (
                cell(name),
                status_text(status),
                ago(started, now),
                duration(job, now),
                cell(job.compute),
                cell(job.display_name),
                cell(job.experiment_name),
            )
            if started is None or (ended is not None and aware(started) <= day_ago):
                stable[name] = (status, started, ended, job.experiment_name, job.compute, job.display_name, cells)
        self._stable_rows = stable
        self._jobs = {job.name: job for job in top}
        with self.app.batch_update():
            self.query_one(FitTable).sync(rows)
            self.count_shown(len(top), len(every))
        self._announce()

    # --- selection and detail ----------------------------------------------------------------

    def selected_job(self) -> str | None:
        """The name of the highlighted job, if any."""
        return cursor_key(self.query_one(FitTable))

    def select_job(self, name: str) -> bool:
        """Put the cursor on `name`'s row; False when the pane does not list it."""
        table = self.query_one(FitTable)
        if name not in self._jobs or not table.row_count:
            return False
        try:
            index = table.get_row_index(name)
        except RowDoesNotExist:  # listed in the snapshot, not yet laid out in the table (never sized)
            return False
        table.move_cursor(row=index, animate=False, scroll=True)
        return True

    def job(self, name: str) -> Job | None:
        """The record of a job the last snapshot showed."""
        return self._jobs.get(name)

    def show_detail(self, log_text: str, name: str | None = None) -> None:
        """Show the last lines of a job's log under the table.

        `name` is the job the log belongs to (default: the highlighted one); a log that arrives
        after the user moved on to another job is dropped.
        """
        selected = self.selected_job()
        if name is not None and name != selected:
            return
        lines = log_text.rstrip("\n").rsplit("\n", LOG_TAIL_LINES)[-LOG_TAIL_LINES:] if log_text else []
        # Progress bars redraw with '\r' and colour with ANSI codes: keep what a terminal would show.
        lines = [_ANSI.sub("", line.rsplit("\r", 1)[-1]).expandtabs() for line in lines]
        log = self.query_one(".job-log", TailLog)
        log.border_title = f"log: {name or selected or '-'} (last {LOG_TAIL_LINES} lines)"
        log.show_lines(lines or ["(no output yet)"])
        self.query_one(".job-detail").add_class("-shown")

    def show_metrics(self, name: str, series: Sequence[MetricSeries], note: str | None = None) -> None:
        """Chart `name`'s MLflow metrics beside its log; dropped if another job is highlighted.
        `note` says why there are none (the read failed), in place of the chart."""
        if name != self.selected_job():
            return
        view = self.query_one(MetricsView)
        view.border_title = f"MLflow metrics: {name}"
        if note:
            view.reset(f"metrics unavailable: {note}")
        else:
            view.plot(name, series)
        self.query_one(".job-detail").add_class("-shown")

    def clear_detail(self) -> None:
        self.query_one(".job-log", TailLog).show_lines([])
        self.query_one(MetricsView).reset()
        self.query_one(".job-detail").remove_class("-shown")

    @on(DataTable.RowHighlighted)
    def _row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._announce()

    def _announce(self) -> None:
        name = self.selected_job()
        if name != self._announced:
            self._announced = name
            self.post_message(self.Selected(self, name))
