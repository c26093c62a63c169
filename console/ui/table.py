"""Keyed DataTable updates: remove rows that went away, touch only the cells that changed, add
new rows. A refresh of 10,000 jobs must not rebuild the table, nor ask it for every row back:
the cells last shown are kept beside the table and compared as tuples. `sync_in_order` adds
the order the pane wants and keeps the cursor on its row; every pane's tables go through it."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any
from weakref import WeakKeyDictionary

from rich.text import Text
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
