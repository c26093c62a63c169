"""The azure workspace's audit log: every change the console makes, appended to a JSON-lines
file of its own beside the workspace's other state (owner-only), with the actor, the time, what
changed from what to what, and how it ended. Azure's Activity Log records the same calls on its
side; this is the console's own account, which `amlops audit` shows as on the local workspace. A
traffic write's DETAIL is its split before and after (`rollout.split_detail`, every backend's).
"""

from __future__ import annotations

import getpass
import json
import os
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any


TRAFFIC_WRITES = frozenset({"endpoints.set_traffic", "endpoints.set_mirror", "endpoints.rollback"})


class AuditLog:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def append(self, operation: str, target: str, *, before: Any = None, after: Any = None,
               result: str = "Succeeded", detail: str | None = None) -> None:
        entry = {"time": datetime.now(timezone.utc).isoformat(), "actor": getpass.getuser(), "operation": operation,
                 "target": target, "before": before, "after": after, "result": result, "detail": detail}
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            with os.fdopen(fd, "a") as out:
                out.write(json.dumps(entry, default=str) + "\n")

    def entries(self) -> list[dict[str, Any]]:
        """Oldest first."""
        try:
            lines = self.path.read_text().splitlines()
        except FileNotFoundError:
            return []
        return [json.loads(line) for line in lines if line.strip()]
