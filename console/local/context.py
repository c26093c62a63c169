"""What every service of the local daemon shares: the workspace folder, its store, the clock,
the audit log and the operation table, and the events that stop and wake the daemon's loops.

Services take a `Context` (and the collaborators they use) in their constructors; only the
daemon's entry point builds them, so no service imports the daemon.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from console.errors import NotFound
from console.local.folder import WorkspaceFolder
from console.local.rpc import Request
from console.local.store import Store


class Clock:
    """Wall time plus an offset that tests may advance (only with AMLOPS_TEST_CLOCK=1)."""

    def __init__(self, offset_s: float = 0.0) -> None:
        self.offset_s = offset_s

    def now(self) -> datetime:
        return datetime.now(timezone.utc) + timedelta(seconds=self.offset_s)


@dataclass
class Context:
    folder: WorkspaceFolder
    store: Store
    clock: Any = field(default_factory=Clock)  # anything with now() -> aware datetime
    stopping: threading.Event = field(default_factory=threading.Event)
    wake: threading.Event = field(default_factory=threading.Event)

    # --- the audit log -----------------------------------------------------------------------

    def audit(self, req: Request, operation: str, target: str, *, before: Any = None,
              after: Any = None, result: str = "Succeeded", detail: str | None = None) -> None:
        """Append who did what to which target, from what to what, and how it ended."""
        self.store.insert("audit", {
            "time": self.clock.now().isoformat(), "actor": req.actor, "operation": operation,
            "target": target, "before": before, "after": after, "result": result, "detail": detail,
        })

    def audit_list(self, req: Request, limit: int | None = None, since: str | None = None) -> list[dict]:
        sql, params = "SELECT * FROM audit", []
        if since:
            sql += " WHERE time >= ?"
            params.append(since)
        sql += " ORDER BY id DESC"
        if limit:
            sql += f" LIMIT {int(limit)}"
        rows = self.store.rows(sql, tuple(params))
        for row in rows:
            row.pop("id")
        return rows

    # --- long-running operations -------------------------------------------------------------

    def new_operation(self, kind: str, target: str, status: str = "InProgress",
                      error: str | None = None) -> dict[str, Any]:
        now = self.clock.now().isoformat()
        op = {"id": os.urandom(8).hex(), "kind": kind, "target": target, "status": status,
              "started_at": now, "ended_at": None if status == "InProgress" else now, "error": error}
        self.store.insert("operations", op)
        return op

    def finish_operation(self, op_id: str, status: str = "Succeeded", error: str | None = None) -> None:
        self.store.update("operations", {"id": op_id},
                          {"status": status, "ended_at": self.clock.now().isoformat(), "error": error})

    def operation_get(self, req: Request, id: str) -> dict[str, Any]:
        op = self.store.row("SELECT * FROM operations WHERE id = ?", (id,))
        if op is None:
            raise NotFound("operation", id)
        return op
