"""Keyed DataTable updates: remove rows that went away, touch only the cells that changed, add
new rows. A refresh of 10,000 jobs must not rebuild the table, nor ask it for every row back:
the cells last shown are kept beside the table and compared as tuples."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from textual.widgets import DataTable

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
    for key, cells in rows.items():
        cells = tuple(cells)
        before = shown.get(key)
        if before is None:
            table.add_row(*cells, key=key)
            added = True
        elif before != cells:
            for column, old, new in zip(column_keys, before, cells):
                if old != new:
                    table.update_cell(key, column, new)
        shown[key] = cells
    setattr(table, _SHOWN, shown)
    return added
