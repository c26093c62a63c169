"""The command palette offers what applies now, each entry naming its key: no Traffic or
Rollback without an endpoint, no Cancel without a job that runs, nothing that writes in read-only
mode, and none of Textual's own Keys, Maximize or Screenshot. Over the canned workspace."""

from __future__ import annotations

import dataclasses

from canned_app import CannedApp
from console.ui.bindings import KEYS
from fakes.canned import CannedWorkspace
from helpers import until

SIZE = (120, 40)
ACTIONS = {k.palette for k in KEYS if k.palette}
WRITES = {k.palette for k in KEYS if k.palette and k.mutates}


async def palette(app: CannedApp) -> dict[str, str]:
    """title -> help of every entry the palette would list now."""
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.snapshot is not None and app.snapshot.jobs is not None
                    and app.snapshot.endpoints is not None and app.snapshot.computes is not None
                    and app.snapshot.monitors is not None, what="the first read")
        return {c.title: c.help for c in app.get_system_commands(app.screen)}


async def test_the_palette_names_each_actions_key_and_leaves_out_textuals_own():
    app = CannedApp()
    app.set_keymap({"traffic": "T"})  # the key in force is the one named
    entries = await palette(app)
    assert not {"Keys", "Maximize", "Minimize", "Screenshot"} & entries.keys()
    assert ACTIONS - {"Submit job", "Deploy green"} <= entries.keys()  # the canned workspace submits nothing
    assert entries["Traffic"].endswith("(key T)") and entries["Rollback"].endswith("(key b)")
    jobs_key = next(k for k in KEYS if k.id == "pane.jobs")
    assert entries["Go to jobs"].endswith(f"(key {app.shown_key(jobs_key)})")
    unnamed = [title for title, help in entries.items() if title != "Theme" and "(key " not in help]
    assert unnamed == []


async def test_the_palette_offers_only_what_applies_now():
    ws = CannedWorkspace()
    ws.state.endpoints = []
    ws.state.jobs = [j for j in ws.state.jobs if j.is_terminal]
    ws.state.computes = [dataclasses.replace(c, state="Stopped") if c.is_instance else c
                         for c in ws.state.computes]
    entries = await palette(CannedApp(ws))
    assert not {"Traffic", "Rollback", "Cancel job", "Stop idle compute"} & entries.keys()
    assert "Run monitor" in entries  # the canned monitor is still there


async def test_read_only_offers_nothing_that_writes():
    entries = await palette(CannedApp(read_only=True))
    assert not WRITES & entries.keys()
    assert {"Refresh", "Filter", "Help: keys", "Quit"} <= entries.keys()
