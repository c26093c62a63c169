"""The typed messages the console's workers post back to the UI thread (as Harlequin's do):
what a refresh read, a job's detail, a step of a long action, what an action did. Workers never
touch the DOM; the screen handles these on the UI thread."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from textual.message import Message


@dataclass
class AreaRead(Message):
    """One area of the workspace read again (`values` empty when the read failed)."""

    area: str
    values: dict[str, Any]
    error: str | None


@dataclass
class JobDetail(Message):
    """The highlighted job's log tail and MLflow metrics (`note`: why the metrics are missing)."""

    name: str
    log: str
    series: list = field(default_factory=list)
    note: str | None = None


@dataclass
class ActionStep(Message):
    """A step of a long action, for its progress modal (deploy green's spec, operation, instances)."""

    action: str
    step: str
    line: str


@dataclass
class ActionDone(Message):
    """What an action did, as it happened: `ok` only when the backend says it succeeded."""

    action: str
    ok: bool
    message: str
