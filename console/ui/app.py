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
        """The command palette: one entry per console action that applies now (`applies`),
        each naming the key that does the same, then the panes by their keys, then Textual's
        Theme. Textual's Keys, Maximize and Screenshot are left out: `?` lists the keys, `z`
        zooms, and a screenshot is no operator's task."""
        from textual.app import SystemCommand

        for key in KEYS:
            if key.palette is None or not self.applies(key):
                continue
            yield SystemCommand(key.palette, f"{key.palette_help}  (key {self.shown_key(key)})",
                                lambda action=key.action: self.console_screen.run_action(action))
        for key in KEYS:
            if key.id.startswith("pane."):
                name = key.id.removeprefix("pane.")
                yield SystemCommand(f"Go to {name}", f"Focus the {name} pane  (key {self.shown_key(key)})",
                                    lambda name=name: self.console_screen.action_focus_pane(name), discover=False)
        quit_key = next(k for k in KEYS if k.id == "quit")
        yield SystemCommand("Quit", f"Quit the console; jobs and endpoints keep running  (key {self.shown_key(quit_key)})",
                            self.action_quit)
        yield from (c for c in super().get_system_commands(screen) if c.title == "Theme")

    def applies(self, key) -> bool:
        """Whether a palette entry can do something now: nothing that changes the workspace in
        read-only mode or where the backend cannot; traffic and rollback need an endpoint with
        deployments, cancel a job that has not ended, a monitor run a monitor, stop idle an idle
        instance, from what the screen last read."""
        from console import costs

        if key.mutates and self.read_only:
            return False
        snapshot = self.snapshot
        endpoints = [e for e in (snapshot.endpoints if snapshot else None) or [] if e.deployments]
        capable = self.ws.capabilities
        needs = {
            "traffic": bool(endpoints) and "endpoints.traffic" in capable,
            "rollback": bool(endpoints) and "endpoints.traffic" in capable,
            "deploy_green": self.specs is not None and "assets.create" in capable,
            "submit": "jobs.submit" in capable,
            "cancel_job": any(not j.is_terminal for j in (snapshot.jobs if snapshot else None) or []),
            "run_monitor": bool(snapshot and snapshot.monitors),
            "stop_idle": any(costs.is_idle(c) for c in (snapshot.computes if snapshot else None) or []),
            "rollout": bool(endpoints) and "rollouts" in capable,
        }
        return needs.get(key.id, True)
