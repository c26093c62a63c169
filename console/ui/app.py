"""The console's App: the shell around `ConsoleScreen` (console/ui/screens/console.py).

It holds what every screen shares: the workspace, read-only mode, the specs folder and the demo
the CLI found, the stylesheet, the keymap from the config file (remembered, so help and the
palette name the key in force), and the command palette, built from the one table of keys in
`console/ui/bindings.py`. The panes, the refresh and the actions live on the screen.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from textual.app import App
from textual.binding import Binding

from console.ui.bindings import KEYS
from console.ui.panes import PANES
from console.ui.screens.console import REFRESH_S, ConsoleScreen

if TYPE_CHECKING:
    from console.ui.snapshot import Snapshot
    from console.workspace import Workspace


class AmlopsApp(App[None]):
    CSS_PATH = Path(__file__).with_name("app.tcss")  # absolute: subclasses may live anywhere
    TITLE = "amlops"

    def __init__(self, workspace: Workspace, *, read_only: bool = False, refresh_s: float = REFRESH_S,
                 started_at: float | None = None, specs: Path | None = None,
                 demo: Callable[..., int] | None = None, autorefresh: bool = True) -> None:
        """`specs`: the project's specs folder (jobs to submit, green's deployment spec), which the
        CLI finds; `demo`: sets the demo project up (`out=` a file for its progress), offered on an
        empty workspace; None where there is no demo (it is the local workspace's)."""
        super().__init__()
        self.ws = workspace
        self.read_only = read_only or workspace.read_only
        self.specs = specs
        self.demo = demo
        self.started_at = started_at
        self.first_frame_s: float | None = None
        self.keymap: dict[str, str] = {}  # binding id -> key, from the config file
        self.console_screen = ConsoleScreen(refresh_s=refresh_s, autorefresh=autorefresh)

    def get_default_screen(self) -> ConsoleScreen:
        return self.console_screen

    def on_mount(self) -> None:
        self.call_after_refresh(self._first_frame)

    def _first_frame(self) -> None:
        if self.started_at is not None:
            self.first_frame_s = time.perf_counter() - self.started_at
            self.log(f"first frame {self.first_frame_s * 1000:.0f} ms after start")

    def now(self) -> datetime:
        """The time a snapshot is taken at (snapshot tests fix it)."""
        return datetime.now(timezone.utc)

    @property
    def snapshot(self) -> Snapshot | None:
        """What the console shows now."""
        return self.console_screen.snapshot

    @property
    def zoomed(self) -> str | None:
        return self.console_screen.zoomed

    # --- keys ---------------------------------------------------------------------------------

    def set_keymap(self, keymap: dict[str, str]) -> None:
        """Remap bindings by id (the config file's `keymap`), remembered for help and the palette."""
        self.keymap = dict(keymap)
        super().set_keymap(keymap)

    def shown_key(self, key) -> str:
        """The key in force for a `bindings.Key`, as the footer writes it ("?", not "question_mark")."""
        return self.get_key_display(Binding(self.keymap.get(key.id, key.key), key.action))

    def get_system_commands(self, screen):
        """The command palette: Textual's own entries, then one per console action (read-only
        leaves out the ones that change something), each naming the key that does the same."""
        from textual.app import SystemCommand

        yield from super().get_system_commands(screen)
        for key in KEYS:
            if key.palette is None or (self.read_only and key.mutates):
                continue
            yield SystemCommand(key.palette, f"{key.palette_help}  (key {self.shown_key(key)})",
                                lambda action=key.action: self.console_screen.run_action(action))
        for index, name in enumerate(PANES, start=1):
            yield SystemCommand(f"Go to {name}", f"Focus the {name} pane  [key {index}]",
                                lambda name=name: self.console_screen.action_focus_pane(name), discover=False)
