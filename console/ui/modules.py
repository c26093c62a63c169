"""The console's modules that the first frame does not need, imported when first used: the
modals (a key opens one), the fitted table (the panes, mounted after the first frame). Each
would otherwise add milliseconds to every start (benchmarks/azure_refresh.py, ui.py)."""

from __future__ import annotations

from types import ModuleType


def modals() -> ModuleType:
    from console.ui.screens import modals

    return modals


def table() -> ModuleType:
    from console.ui import table

    return table
