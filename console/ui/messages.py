"""The typed messages the console's workers and actions post to the screen (as Harlequin's do):
what a refresh read, a job's detail, a long action's start and steps, what an action did, and
what a flow's worker found for its next question (lint findings, model versions). Workers never
touch the DOM; the screen handles these on the UI thread. A worker that raises posts nothing:
the screen's one `Worker.StateChanged` handler shows its error."""

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


@dataclass
class ActionStarted(Message):
    """A long action began: its steps go to a progress modal titled `title` (deploy green)."""

    action: str
    title: str


@dataclass
class Linted(Message):
    """A job YAML was linted before it is submitted: its findings as the CLI prints them, and
    whether it can be submitted at all."""

    path: str
    findings: str
    valid: bool


@dataclass
class ModelsListed(Message):
    """The registered model versions green may be deployed from, for green's spec and endpoint."""

    spec: Any  # the Path of green's deployment spec
    endpoint: str
    versions: list[str]


@dataclass
class JobSubmitted(Message):
    """A job was submitted from the console: the jobs pane's cursor follows it once it is listed."""

    name: str
