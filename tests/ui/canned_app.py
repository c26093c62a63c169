"""The console app over the canned workspace (tests/fakes/canned.py), and `settle` to wait until
it shows it, for snapshot tests and the tests of what the overview shows. `CannedApp` stamps each
snapshot with the canned `NOW` instead of the wall clock, so ages, durations and idle times read
the same on every run."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from textual.widgets import DataTable, Log

from console.ui.app import AmlopsApp

from fakes.canned import NOW, CannedWorkspace
from helpers import REPO


class CannedApp(AmlopsApp):
    """The console over a CannedWorkspace, its snapshots taken at NOW rather than the wall clock."""

    def __init__(self, workspace: Any = None, **kw: Any) -> None:
        kw.setdefault("specs", REPO / "specs")  # the demo project's, as `amlops` run from the repo finds it
        super().__init__(workspace if workspace is not None else CannedWorkspace(), **kw)

    def now(self) -> datetime:
        return NOW


MAX_PAUSES = 500  # x 10 ms: a bound for waits that take a few milliseconds, never a timing


async def settle(pilot, done: Callable[[], bool], what: str) -> None:
    """Pause until `done()` holds and no worker is left running (a job's detail, a palette search),
    twice in a row: a worker may start in reply to a message the first pause delivered."""
    quiet = 0
    for _ in range(MAX_PAUSES):
        await pilot.pause(0.01)
        # Not workers.wait_for_complete(): it raises for a worker an exclusive one cancelled.
        quiet = quiet + 1 if done() and all(w.is_finished for w in pilot.app.workers) else 0
        if quiet == 2:
            return
    raise AssertionError(f"the console never showed {what}")


def loaded(app: CannedApp) -> bool:
    """The first snapshot is applied, every table of every pane has rows, and the highlighted
    job's log is in (its metrics come from the same worker, which `settle` waits for)."""
    main = app.screen_stack[0]
    tables, logs = main.query(DataTable), main.query("#jobs Log")
    return (app.snapshot is not None and len(tables) >= 6 and all(t.row_count for t in tables)
            and bool(logs) and logs.first(Log).line_count > 0)
