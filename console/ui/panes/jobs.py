"""The jobs pane: top-level jobs newest first, their status, age and duration, and the log tail of
the highlighted job. It never calls the backend: the app fetches the log in a worker and hands it
to `show_detail`. Also home of `sync_in_order`, the ordered table update the other panes share.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any
from weakref import WeakKeyDictionary

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.coordinate import Coordinate
from textual.message import Message
from textual.widgets import DataTable, Log

from console.domain import Job
from console.ui.panes.base import Pane
from console.ui.snapshot import Snapshot
from console.ui.table import sync_table

COLUMNS = ("NAME", "EXPERIMENT", "STATUS", "COMPUTE", "STARTED", "DURATION")
LOG_TAIL_LINES = 15

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


def cell(value: str | None) -> str | Text:
    """A plain cell. DataTable reads str cells as markup, so a '[' goes in a Text instead."""
    if not value:
        return "-"
    return Text(value, end="") if "[" in value else value


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


# Old jobs keep their start and end times from one refresh to the next, and turning a time into a
# local date costs a system call: remember what was formatted (bounded, cleared when full).
_DATES: dict[datetime, str] = {}
_SPANS: dict[tuple[datetime, datetime], str] = {}
_CACHE_MAX = 50_000


def _local_date(moment: datetime) -> str:
    found = _DATES.get(moment)
    if found is None:
        if len(_DATES) >= _CACHE_MAX:
            _DATES.clear()
        found = _DATES[moment] = moment.astimezone().date().isoformat()
    return found


def ago(moment: datetime | None, now: datetime) -> str:
    """'12s ago', '5m ago', '3h ago', then the local date."""
    if moment is None:
        return "-"
    moment = _aware(moment)
    seconds = (now - moment).total_seconds()
    if seconds < 60:
        return f"{max(int(seconds), 0)}s ago"  # a negative age is clock skew, not the future
    if seconds < 3600:
        return f"{int(seconds // 60)}m ago"
    if seconds < 86400:
        return f"{int(seconds // 3600)}h ago"
    return _local_date(moment)


def span(seconds: float | None) -> str:
    """A duration as '42s', '1m05s', '2h03m' or '3d04h'."""
    if seconds is None:
        return "-"
    s = max(int(seconds), 0)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def duration(job: Job, now: datetime) -> str:
    """Start to end, or to the snapshot's time while the job runs."""
    started, ended = job.started_at, job.ended_at
    if started is None:
        return "-"
    if ended is None:
        return span((now - _aware(started)).total_seconds())
    found = _SPANS.get((started, ended))
    if found is None:
        if len(_SPANS) >= _CACHE_MAX:
            _SPANS.clear()
        found = _SPANS[(started, ended)] = span((_aware(ended) - _aware(started)).total_seconds())
    return found


def cursor_key(table: DataTable) -> str | None:
    """The row key under the cursor, or None on an empty table."""
    if not table.row_count or not table.is_valid_row_index(table.cursor_row):
        return None
    return table.coordinate_to_cell_key(Coordinate(table.cursor_row, 0)).row_key.value


# The order each table was last put in, so a refresh can tell without walking the table's rows.
_ORDERS: WeakKeyDictionary[DataTable, list[str]] = WeakKeyDictionary()


def sync_in_order(table: DataTable, columns: Sequence[str], rows: Mapping[str, Sequence[Any]]) -> None:
    """`sync_table`, then show the rows in the order of `rows`, the cursor staying on its row.

    `sync_table` keeps existing rows where they are and appends new ones, so a newer job would land
    at the bottom; sort only when the resulting order differs (most refreshes it does not).
    The first column must show the row key (a str, or a Text whose plain text is the key).
    """
    selected = cursor_key(table)
    before = _ORDERS.get(table)
    sync_table(table, columns, rows)
    wanted = list(rows)
    if before is None:
        after = [row.key.value for row in table.ordered_rows]
    elif before == wanted:
        after = before
    else:
        known = set(before)
        after = [key for key in before if key in rows] + [key for key in wanted if key not in known]
    if after != wanted:
        rank = {key: index for index, key in enumerate(wanted)}
        table.sort(columns[0], key=lambda first: rank[first if isinstance(first, str) else first.plain])
    _ORDERS[table] = wanted
    if selected is not None and selected in rows:
        index = table.get_row_index(selected)
        if index != table.cursor_row:
            table.move_cursor(row=index)


class JobsPane(Pane):
    """Top-level jobs, newest first; a pipeline's steps are left to a drill-down."""

    DEFAULT_CSS = """
    JobsPane > DataTable { height: 3fr; min-height: 4; }
    JobsPane > .job-log { height: 2fr; min-height: 3; max-height: 18; display: none;
                          border-top: solid $primary-darken-2; border-title-align: left; }
    JobsPane > .job-log.-shown { display: block; }
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
        table: DataTable = DataTable(cursor_type="row", zebra_stripes=False)
        for label in COLUMNS:
            table.add_column(label, key=label)
        yield table
        yield Log(classes="job-log", auto_scroll=True)

    def show(self, snapshot: Snapshot) -> None:
        now = _aware(snapshot.taken_at)
        day_ago = now - _DAY
        top = [job for job in snapshot.jobs or () if job.parent is None]
        # Backends list newest first already, so this sort is a linear pass in practice.
        top.sort(key=lambda job: _aware(job.created_at or job.started_at or _EPOCH), reverse=True)
        # A row that no longer changes with time (not started yet, or ended and started over a day
        # ago) is reused while its job's fields are the same: most of 10,000 jobs are such rows.
        previous, stable = self._stable_rows, {}
        rows: dict[str, tuple[Any, ...]] = {}
        for job in top:
            name, status, started, ended = job.name, job.status, job.started_at, job.ended_at
            hit = previous.get(name)
            if (hit is not None and hit[0] == status and hit[1] == started and hit[2] == ended
                    and hit[3] == job.experiment_name and hit[4] == job.compute):
                rows[name] = hit[5]
                stable[name] = hit
                continue
            cells = rows[name] = (
                cell(name),
                cell(job.experiment_name),
                status_text(status),
                cell(job.compute),
                ago(started, now),
                duration(job, now),
            )
            if started is None or (ended is not None and _aware(started) <= day_ago):
                stable[name] = (status, started, ended, job.experiment_name, job.compute, cells)
        self._stable_rows = stable
        self._jobs = {job.name: job for job in top}
        with self.app.batch_update():
            sync_in_order(self.query_one(DataTable), COLUMNS, rows)
        self._announce()

    # --- selection and detail ----------------------------------------------------------------

    def selected_job(self) -> str | None:
        """The name of the highlighted job, if any."""
        return cursor_key(self.query_one(DataTable))

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
        log = self.query_one(".job-log", Log)
        log.border_title = f"log: {name or selected or '-'} (last {LOG_TAIL_LINES} lines)"
        log.clear()
        log.write_lines(lines or ["(no output yet)"])
        log.add_class("-shown")

    def clear_detail(self) -> None:
        log = self.query_one(".job-log", Log)
        log.clear()
        log.remove_class("-shown")

    @on(DataTable.RowHighlighted)
    def _row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._announce()

    def _announce(self) -> None:
        name = self.selected_job()
        if name != self._announced:
            self._announced = name
            self.post_message(self.Selected(self, name))
