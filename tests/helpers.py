"""Helpers shared by the test modules (importable as `helpers`: pyproject.toml puts `tests/` on
pytest's `pythonpath`).

It owns `wait_until`, the one polling helper the integration and UI tests use to wait for real
processes (daemons, routers, jobs, scoring servers) to reach a state, and `spy`, which records
what a pane's refresh changed in its table. Keep module-specific helpers
in their modules; only what several modules share belongs here."""

from __future__ import annotations

import inspect
import os
import time
from typing import Any, Callable, TypeVar

T = TypeVar("T")


def wait_until(predicate: Callable[[], T], timeout: float, what: str | None = None, interval: float = 0.05) -> T:
    """Poll `predicate()` until it returns something truthy, and return that value.

    `predicate` is called at least once, and once more at or after the deadline, so a condition
    that came true during the last sleep still counts. After `timeout` seconds without a truthy
    value, raise AssertionError naming `what` was waited for (by default the predicate's source
    and location) and the last value it returned. Exceptions raised by `predicate` are not
    swallowed: they propagate at once (a predicate that may fail transiently catches that itself).
    """
    deadline = time.monotonic() + timeout
    while True:
        last = predicate()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what or _describe(predicate)} "
                                 f"(last: {last!r})")
        time.sleep(interval)


def _describe(predicate: Callable[[], object]) -> str:
    """`predicate` for a failure message: its source (for a lambda, the statement holding it) and where."""
    code = getattr(predicate, "__code__", None)
    where = f" ({os.path.basename(code.co_filename)}:{code.co_firstlineno})" if code else ""
    try:
        source = " ".join(inspect.getsource(predicate).split())
    except (OSError, TypeError):
        source = getattr(predicate, "__qualname__", None) or repr(predicate)
    if len(source) > 200:
        source = source[:197] + "..."
    return f"{source}{where}"


def spy(table: Any, monkeypatch: Any) -> tuple[list, list]:
    """Record which cells of `table` were updated (sync_table writes them in one batch through
    `console.ui.table._update_cells`) and which rows were added."""
    import console.ui.table as table_module

    updated, added = [], []
    update_cells, add_row = table_module._update_cells, table.add_row

    def on_update(target, changed):
        if target is table:
            updated.extend((key, getattr(column, "value", column)) for key, column, _ in changed)
        return update_cells(target, changed)

    def on_add(*cells, key=None, **kw):
        added.append(key)
        return add_row(*cells, key=key, **kw)

    monkeypatch.setattr(table_module, "_update_cells", on_update)
    table.add_row = on_add
    return updated, added
