"""The console's modules that the first frame does not need, imported when first used: the
modals (a key opens one), the fitted table (the panes, mounted after the first frame). Each
would otherwise add milliseconds to every start (benchmarks/azure_refresh.py, ui.py)."""

from __future__ import annotations

from console.lazy import lazy

modals = lazy("console.ui.screens.modals")
table = lazy("console.ui.table")
