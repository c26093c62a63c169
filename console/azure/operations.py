"""The azure workspace's long-running writes as `Operation`s.

Each write runs in a thread of its own: azure-ai-ml's poller until Azure says it is done, then,
for what Azure applies eventually (a traffic split), reads until the new state is reported. The
table answers `get` and `wait` from memory in this process. Every operation is also written to a
JSON-lines file with what it expects to see (a compute's state, an endpoint's split), so a later
process (`amlops operation show ID` after `--no-wait`) can tell from the live resource whether
it has happened.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from console.errors import NotFound, describe

if TYPE_CHECKING:
    from console.domain import Operation

# An operation's record -> its status now ("Failed" may come with the reason), or None: unknown.
Check = Callable[[dict[str, Any]], "str | tuple[str, str] | None"]


class OperationTable:
    def __init__(self, path: Path, check: Check) -> None:
        self.path, self.check = path, check
        self._ops: dict[str, Operation] = {}
        self._lock = threading.Lock()

    def start(self, kind: str, target: str, work: Callable[[], None], expect: dict[str, Any]) -> Operation:
        """Run `work` (which raises when the write failed) in a thread; the Operation at once."""
        from console.domain import Operation

        op = Operation(os.urandom(8).hex(), kind, target, "InProgress", started_at=datetime.now(timezone.utc))
        self._set(op, expect)

        def run() -> None:
            try:
                work()
            except Exception as err:  # the operation carries the reason
                self._set(self._end(op, "Failed", describe(err)))
            else:
                self._set(self._end(op, "Succeeded"))

        threading.Thread(target=run, name=f"op-{kind}-{target}", daemon=True).start()
        return op

    def get(self, id: str) -> Operation:
        with self._lock:
            found = self._ops.get(id)
        if found is not None:
            return found
        record = self._record(id)
        if record is None:
            raise NotFound("operation", id)
        from console.domain import Operation

        op = Operation.from_dict({k: v for k, v in record.items() if k != "expect"})
        if not op.done:  # started by another process: the live resource says where it stands
            status = self.check(record)
            status, error = status if isinstance(status, tuple) else (status, None)
            if status is not None:
                op = Operation(op.id, op.kind, op.target, status, op.started_at,
                               datetime.now(timezone.utc) if status != "InProgress" else None, error)
        return op

    def list(self, limit: int | None = None) -> list[Operation]:
        """Every operation this machine started on the workspace, newest first: each one's latest
        line, resolved as `get` resolves it (one another process left running, from the live
        resource)."""
        try:
            lines = self.path.read_text().splitlines()
        except FileNotFoundError:
            return []
        latest: dict[str, dict[str, Any]] = {}
        for line in lines:
            if line.strip():
                record = json.loads(line)
                latest[record["id"]] = record
        newest = sorted(latest.values(), key=lambda r: str(r.get("started_at") or ""), reverse=True)
        return [self.get(r["id"]) for r in newest[:limit] if r.get("id")]

    def wait(self, id: str, *, timeout_s: float | None = None, poll_s: float = 0.05) -> Operation:
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            op = self.get(id)
            if op.done or (deadline is not None and time.monotonic() >= deadline):
                return op
            time.sleep(poll_s)

    @staticmethod
    def _end(op: Operation, status: str, error: str | None = None) -> Operation:
        from console.domain import Operation

        return Operation(op.id, op.kind, op.target, status, op.started_at, datetime.now(timezone.utc), error)

    def _set(self, op: Operation, expect: dict[str, Any] | None = None) -> None:
        with self._lock:
            self._ops[op.id] = op
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            with os.fdopen(fd, "a") as out:
                out.write(json.dumps({**op.to_dict(), **({"expect": expect} if expect else {})}, default=str) + "\n")

    def _record(self, id: str) -> dict[str, Any] | None:
        """The latest line written for `id` (its expectation kept from the first)."""
        found, expect = None, None
        try:
            lines = self.path.read_text().splitlines()
        except FileNotFoundError:
            return None
        for line in lines:
            if f'"{id}"' not in line:
                continue
            record = json.loads(line)
            if record.get("id") == id:
                expect = record.get("expect", expect)
                found = record
        return {**found, "expect": expect} if found else None
