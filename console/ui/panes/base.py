"""What every pane shares: a title, a body, and a status line that says when it is stale."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from console.ui.snapshot import Snapshot


class Pane(Vertical, can_focus=False):
    """One area of the workspace. Subclasses set `title` and `area` and implement `show`."""

    DEFAULT_CSS = """
    Pane { border: round $primary-darken-2; height: 1fr; }
    Pane:focus-within { border: round $accent; }
    Pane > .pane-status { height: 1; color: $warning; display: none; }
    Pane > .pane-status.-shown { display: block; }
    """

    title = "pane"
    area = "jobs"  # the Snapshot area whose errors make this pane stale

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.border_title = self.title

    def compose(self) -> ComposeResult:
        yield Static("", classes="pane-status")
        yield from self.body()

    def body(self) -> ComposeResult:
        yield from ()

    def apply(self, snapshot: Snapshot) -> None:
        """Show a new snapshot; on a failed read keep the last data and say it is stale."""
        status = self.query_one(".pane-status", Static)
        error = snapshot.errors.get(self.area)
        if error:
            status.update(f"stale: {error}")
            status.add_class("-shown")
            if getattr(snapshot, self.area, None) is None:
                return
        else:
            status.remove_class("-shown")
        self.show(snapshot)

    def show(self, snapshot: Snapshot) -> None:
        raise NotImplementedError
