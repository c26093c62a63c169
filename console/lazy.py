"""Modules imported on first use: the one way the console defers an import it may never need.

`records = lazy("console.domain")` binds a stand-in at import time; the module is imported the
first time an attribute is read (`records.Job`), and every later read goes straight to it. What a
first frame or a `--json` listing never touches (the domain records' dataclasses, the VM catalog,
the traffic rules, the Textual modals) then costs nothing at start. Imports nothing itself but
importlib, so importing it is free.
"""

from __future__ import annotations

from importlib import import_module
from types import ModuleType
from typing import Any


class LazyModule:
    """Stands in for the module `name` until an attribute is read from it."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attr: str) -> Any:  # only for what the instance lacks: the module's names
        module = self._module
        if module is None:
            if attr.startswith("__") and attr.endswith("__"):
                # A probe of the stand-in (pytest's `__test__` on every global of a module it
                # collects, copy's `__deepcopy__`), not a use of the module: importing for it
                # would make the stand-in pointless.
                raise AttributeError(attr)
            module = self._module = import_module(self._name)
        return getattr(module, attr)

    def __repr__(self) -> str:
        return f"<lazy {self._name}{'' if self._module is None else ' (imported)'}>"


def lazy(name: str) -> Any:
    """The module `name`, imported when first used (typed Any: it reads as the module does)."""
    return LazyModule(name)
