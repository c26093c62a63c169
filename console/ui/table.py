"""Keyed DataTable updates: remove rows that went away, touch only the cells that changed, add
new rows. A refresh of 10,000 jobs must not rebuild the table, nor ask it for every row back:
the cells last shown are kept beside the table and compared as tuples. `sync_in_order` adds
the order the pane wants and keeps the cursor on its row; every pane's tables go through it.

`FitTable` shows only the columns that fit its width, the most important first: a pane in the
overview shows its decisive figures instead of a cut row and a horizontal scrollbar, and the
same pane zoomed shows every column."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any
from weakref import WeakKeyDictionary

from rich.cells import cell_len
from rich.text import Text
from textual import events
from textual.coordinate import Coordinate
from textual.widgets import DataTable
from textual.widgets.data_table import RowKey

_SHOWN = "_amlops_shown"  # attribute on the table: key -> the cells it shows


def sync_table(table: DataTable, columns: Sequence[str], rows: Mapping[str, Sequence[Any]]) -> bool:
    """Make `table` show `rows` (key -> cells; new rows are appended in the mapping's order).
    Returns whether rows were added, so a pane that keeps an order can re-sort only then."""
    if not table.columns:
        for label in columns:
            table.add_column(label, key=label)
    shown: dict[str, tuple[Any, ...]] = getattr(table, _SHOWN, None) or {}
    if shown and len(shown) != len(table.rows):  # someone else touched the table: start over
        shown = {key.value: tuple(table.get_row(key)) for key in table.rows}  # type: ignore[misc]
    column_keys = list(table.columns)
    for key in [k for k in shown if k not in rows]:
        table.remove_row(key)
        del shown[key]
    added = False
    changed: list[tuple[str, Any, Any]] = []
    for key, cells in rows.items():
        cells = tuple(cells)
        before = shown.get(key)
        if before is None:
            table.add_row(*cells, key=key)
            added = True
        elif before != cells:
            changed.extend((key, column, new) for column, old, new in zip(column_keys, before, cells) if old != new)
        shown[key] = cells
    _update_cells(table, changed)
    setattr(table, _SHOWN, shown)
    return added


def _update_cells(table: DataTable, changed: list[tuple[str, Any, Any]]) -> None:
    """Write many cells with one refresh.

    `DataTable.update_cell` refreshes the widget once per cell, and a refresh of 500 endpoints
    whose figures all move changes some 2,000 cells: that refresh, not the writes, was most of
    the UI thread's time. This does what update_cell does (store the value, bump the update
    count that keys the render caches, refresh) for all of them at once. It leans on two fields
    of Textual's DataTable (the version is pinned in pyproject.toml); without them it falls back
    to update_cell, cell by cell.
    """
    if not changed:
        return
    data = getattr(table, "_data", None)
    if not isinstance(data, dict) or not isinstance(getattr(table, "_update_count", None), int):
        for key, column, value in changed:
            table.update_cell(key, column, value)
        return
    for key, column, value in changed:
        data[RowKey(key)][column] = value
    table._update_count += 1
    table.refresh()


def cursor_key(table: DataTable) -> str | None:
    """The row key under the cursor, or None on an empty table."""
    if not table.row_count:
        return None
    row = min(max(table.cursor_row, 0), table.row_count - 1)
    return table.coordinate_to_cell_key(Coordinate(row, 0)).row_key.value


def _plain(cell: Any) -> str:
    return cell.plain if isinstance(cell, Text) else str(cell)


# The order each table was last put in, so a refresh can tell without walking the table's rows.
_ORDERS: WeakKeyDictionary[DataTable, list[str]] = WeakKeyDictionary()


def sync_in_order(table: DataTable, columns: Sequence[str], rows: Mapping[str, Sequence[Any]], *,
                  key_of: Callable[[Sequence[Any]], str] | None = None, sort_by: Sequence[str] = ()) -> None:
    """`sync_table`, then show the rows in the order of `rows`, the cursor staying on its row.

    `sync_table` keeps existing rows where they are and appends new ones, so a newer job would land
    at the bottom; sort only when the resulting order differs (most refreshes it does not).
    DataTable sorts by cell values, not row keys: by default the first column must show the row
    key; otherwise `key_of` turns the cells of the `sort_by` columns back into the row key.
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
        if key_of is None:
            table.sort(columns[0], key=lambda first: rank[_plain(first)])
        else:
            table.sort(*sort_by, key=lambda cells: rank[key_of(cells)])
    _ORDERS[table] = wanted
    if selected is not None and selected in rows:
        index = table.get_row_index(selected)
        if index != table.cursor_row:
            table.move_cursor(row=index, animate=False)


# --- columns chosen by width -------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """A column of a FitTable: its label, a fixed width (None: as wide as its widest cell; fix
    the width of a column whose values change under a key, since cells are updated without
    re-measuring), and its rank: when the table is too narrow for every column, the columns of
    the highest rank go first. Rank 0 columns always show (the names rows are sorted by). A
    `grow` column (free text, such as a note) shows when its `width` fits, and then takes the
    room the others leave."""

    label: str
    width: int | None = None
    rank: int = 0
    grow: bool = False


def fit(columns: Sequence[Column], widths: Mapping[str, int], room: int, padding: int = 1) -> tuple[str, ...]:
    """The labels of the columns to show in `room` cells, in table order: rank 0, then rank by
    rank (table order within one) while the next still fits. Strictly in rank order: a narrow
    column of low rank never shows in place of a wider one that matters more."""
    chosen: set[str] = set()
    used = 0
    for column in sorted(columns, key=lambda c: c.rank):
        need = widths[column.label] + 2 * padding
        if column.rank and used + need > room:
            break
        chosen.add(column.label)
        used += need
    return tuple(c.label for c in columns if c.label in chosen)


def _width(cell: Any) -> int:
    return cell.cell_len if isinstance(cell, Text) else cell_len(str(cell))


class FitTable(DataTable):
    """A DataTable that shows the columns that fit its width, chosen again on every resize, or
    every column (scrolling sideways) once told `fit_to_width(False)`, as a zoomed pane is.

    Panes hand `sync` every column's cells (in `columns` order); the table shows the chosen ones
    through `sync_in_order`. When the choice changes, the table is rebuilt from the rows it was
    last given, the cursor staying on its row.
    """

    def __init__(self, columns: Sequence[Column], **kw: Any) -> None:
        super().__init__(**kw)
        self.all_columns = tuple(columns)
        self.shown: tuple[str, ...] = ()
        self._grown = 0  # the width a grow column was given on the last rebuild
        self._widest = 0  # the widest cell seen in a grow column
        # The widest cell seen per column (only new rows are measured: names never change per key).
        self._widths = {c.label: c.width if c.width is not None else cell_len(c.label) for c in self.all_columns}
        self._measured: set[str] = set()
        self._rows: Mapping[str, Sequence[Any]] = {}
        self._order: tuple[Callable[[Sequence[Any]], str] | None, Sequence[str]] = (None, ())
        self._restore: str | None = None  # the row the cursor was on before a rebuild
        self._fit = True
        # The width of the last layout: a hidden table reads as 0 wide, and gets no resize when it
        # comes back at the same size, so a refresh while hidden is laid out at this width.
        self._width = 0

    @property
    def rows_given(self) -> int:
        """How many rows the pane last gave it: laid out or not yet (before its first resize)."""
        return len(self._rows)

    @property
    def room(self) -> int:
        """The cells the columns may take: the width less a vertical scrollbar's, if any is drawn."""
        return self._width - self.styles.scrollbar_size_vertical

    def fit_to_width(self, fit: bool) -> None:
        """Show the columns that fit (True), or all of them (False)."""
        if fit != self._fit:
            self._fit = fit
            self._show()

    def _chosen(self) -> tuple[str, ...]:
        if not self._fit:
            return tuple(c.label for c in self.all_columns)
        return fit(self.all_columns, self._widths, self.room, self.cell_padding)

    def sync(self, rows: Mapping[str, Sequence[Any]], *, key_of: Callable[[Sequence[Any]], str] | None = None,
             sort_by: Sequence[str] = ()) -> None:
        """Show `rows` (key -> one cell per column of `all_columns`) in their order."""
        self._rows, self._order = rows, (key_of, sort_by)
        self._measure(rows)
        self._show()

    def _measure(self, rows: Mapping[str, Sequence[Any]]) -> None:
        grow = next((i for i, c in enumerate(self.all_columns) if c.grow), None)
        if grow is not None:
            self._widest = max((_width(cells[grow]) for cells in rows.values()), default=0)
        auto = [(i, c.label) for i, c in enumerate(self.all_columns) if c.width is None]
        if not auto:
            return
        seen, widths = self._measured, self._widths
        for key, cells in rows.items():
            if key not in seen:
                seen.add(key)
                for index, label in auto:
                    width = _width(cells[index])
                    if width > widths[label]:
                        widths[label] = width

    def _grow_width(self, shown: tuple[str, ...]) -> int:
        """The width of the shown grow column: its own, or all the room the other columns leave."""
        column = next((c for c in self.all_columns if c.grow and c.label in shown), None)
        if column is None:
            return 0
        used = sum(self._widths[label] + 2 * self.cell_padding for label in shown)
        width = self._widths[column.label] + max(0, self.room - used)
        # Zoomed (every column, scrolling sideways): as wide as its widest cell, if wider.
        return width if self._fit else max(width, self._widest)

    def _show(self) -> None:
        if not self._width:  # not laid out yet: the first resize shows the rows
            return
        shown = self._chosen()
        if shown != self.shown or self._grow_width(shown) != self._grown:
            self._rebuild(shown)
        rows = self._rows
        if len(shown) < len(self.all_columns):
            labels = [c.label for c in self.all_columns]
            project = _projection([labels.index(label) for label in shown])
            rows = {key: project(cells) for key, cells in rows.items()}
        key_of, sort_by = self._order
        sync_in_order(self, shown, rows, key_of=key_of, sort_by=sort_by)
        if self._restore is not None:
            key, self._restore = self._restore, None
            if key in rows:
                self.move_cursor(row=self.get_row_index(key), animate=False)

    def _rebuild(self, shown: tuple[str, ...]) -> None:
        self._restore = cursor_key(self)
        self.clear(columns=True)
        if hasattr(self, _SHOWN):
            delattr(self, _SHOWN)
        _ORDERS.pop(self, None)
        widths = {c.label: c.width for c in self.all_columns}
        self._grown = self._grow_width(shown)
        for column in self.all_columns:
            if column.grow:
                widths[column.label] = self._grown or column.width
        for label in shown:
            self.add_column(label, key=label, width=widths[label])
        self.shown = shown

    def on_resize(self, event: events.Resize) -> None:
        first, self._width = not self._width, event.size.width
        if first or self._chosen() != self.shown or self._grow_width(self.shown) != self._grown:
            self._show()

    def _update_dimensions(self, new_rows: Any) -> None:
        # DataTable measures new rows when idle and keeps the rows it drew before that: when the
        # new rows widen a column, those would stay drawn at the old width ("Region" for
        # "Region LP") until they change. Drawn again, they line up.
        before = [c.content_width for c in self.columns.values()]
        super()._update_dimensions(new_rows)
        if before != [c.content_width for c in self.columns.values()]:
            self._clear_caches()
            self.refresh()


def _projection(indices: Sequence[int]) -> Callable[[Sequence[Any]], tuple[Any, ...]]:
    """A function picking the cells at `indices` out of a row, as a tuple (itemgetter is C-fast:
    a refresh projects every one of 10,000 jobs)."""
    pick = itemgetter(*indices)
    return pick if len(indices) > 1 else lambda cells: (pick(cells),)
