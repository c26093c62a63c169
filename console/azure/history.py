"""Which deployment of each endpoint was last stable on the azure workspace: what rollback goes
back to.

This module owns that history, and only that. Azure keeps none: an endpoint says its split now,
never which deployment held 100 % before a rollout began. So every split the console reads
(`AzureEndpoints`) is shown to `TrafficHistory.saw`, which remembers each deployment seen holding
100 % (`console.rollout.record_full`), in a JSON file beside the workspace's other state
(`traffic-history.json`: endpoint -> deployment names, the newest last). `full` gives it back
for `rollout.rollback_split`. The local workspace keeps the same list in its store.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path


class TrafficHistory:
    """Per endpoint, the deployments seen holding all live traffic, oldest first."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()  # reads run in the console's workers, writes' checks in their threads

    def full(self, endpoint: str) -> list[str]:
        """The deployments `endpoint` was seen serving at 100 %, the newest last."""
        return list(self._read().get(endpoint, []))

    def saw(self, endpoint: str, live: dict[str, int]) -> None:
        """Remember the deployment that holds 100 % of `live`, if one does and it is news."""
        from console.rollout import record_full

        with self._lock:
            data = self._read()
            history = list(data.get(endpoint, []))
            updated = record_full(history, live)
            if updated == history:
                return
            data[endpoint] = updated
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            self.path.write_text(json.dumps(data))

    def _read(self) -> dict[str, list[str]]:
        try:
            data = json.loads(self.path.read_text())
        except (FileNotFoundError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}
