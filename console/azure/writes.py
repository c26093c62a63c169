"""The azure workspace's writes in flight: each from the moment it is asked until Azure says how it
ended, and where one stands when this process did not start it or Azure forgot it.

This module owns that, and only that. `Writes.begin` hands a write's work to the operation table
(`operations.py`, one thread per write) and audits it twice (`audit.py`): when it is asked, and
when it ends. What each kind of write expects to see (a compute's state, an endpoint's split, a
deployment gone, a key that changed, a monitor's report on disk) is kept with its operation;
`status` reads that back from the live resource, for `amlops operation show ID` in another
process and for an operation whose status URL ARM has forgotten (a 404 says nothing of how it
ended). A traffic change is done only once Azure reports the new split (`settle`): Azure applies
it eventually. The writes themselves, and the rules checked before them, are the operation
groups' (`workspace.py`, `create.py`, `submit.py`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from console import rollout
from console.azure.audit import TRAFFIC_WRITES
from console.azure.operations import OperationTable
from console.errors import NotFound

if TYPE_CHECKING:
    from console.azure.workspace import AzureWorkspace
    from console.domain import Operation

SETTLE_S = 120.0  # how long a change may take to be reported before it counts as failed


class Writes:
    """The writes of one azure workspace: started, audited, and resolved from the live resource."""

    def __init__(self, ws: AzureWorkspace, folder: Path) -> None:
        self.ws = ws
        self.table = OperationTable(folder / "operations.jsonl", self.status)

    def begin(self, kind: str, target: str, work: Callable[[], Any], expect: dict[str, Any], *,
              before: Any = None, after: Any = None, detail: str | None = None) -> Operation:
        """Start a write's operation and audit it: once when it was asked, once when it ended. A
        traffic write's detail is its split before and after."""
        ws = self.ws
        if detail is None and kind in TRAFFIC_WRITES and isinstance(before, dict) and isinstance(after, dict):
            detail = rollout.split_detail(before, after)
        if kind.startswith("endpoints."):  # the next listing reads its deployments afresh
            ws.endpoints.touched(target.split("/", 1)[0])
        ws.audit_log.append(kind, target, before=before, after=after, result="InProgress", detail=detail)

        def audited() -> None:
            try:
                try:
                    work()
                except Exception as err:
                    if not _status_url_gone(err):
                        raise
                    self._resolve_from_resource({"target": target, "expect": expect})
            except Exception as err:
                from console.azure.errors import translate
                from console.errors import AmlopsError, describe

                said = err if isinstance(err, AmlopsError) else translate(err, ws.target, kind, target, True)
                ws.audit_log.append(kind, target, before=before, after=after, result="Failed", detail=describe(said))
                raise said from None
            ws.audit_log.append(kind, target, before=before, after=after, result="Succeeded", detail=detail)

        return self.table.start(kind, target, audited, expect)

    def settle(self, endpoint: str, expect: dict[str, Any]) -> None:
        """Read the endpoint until Azure reports the split `expect` ({"traffic", "mirror"})."""
        deadline = time.monotonic() + SETTLE_S
        while True:
            if self.split_of(endpoint) == expect:
                return
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{endpoint}: Azure did not report the new split within {SETTLE_S:.0f} s")
            time.sleep(self.ws.poll_s)

    def split_of(self, endpoint: str) -> dict[str, Any]:
        """The split Azure reports now, zeros left out, as an operation expects it."""
        entity = self.ws.session.client().online_endpoints.get(endpoint)
        return {"traffic": {k: int(v) for k, v in (entity.traffic or {}).items() if int(v)},
                "mirror": {k: int(v) for k, v in (getattr(entity, "mirror_traffic", None) or {}).items() if int(v)}}

    def _resolve_from_resource(self, record: dict[str, Any]) -> None:
        """An operation whose status URL answered 404 (ARM forgets finished operations): the live
        resource says how it ended. Raises when it failed or never settles."""
        deadline = time.monotonic() + SETTLE_S
        while True:
            status = self.status(record)
            status, error = status if isinstance(status, tuple) else (status, None)
            if status == "Succeeded":
                return
            if status == "Failed" or status is None:
                from console.errors import OperationFailed

                raise OperationFailed(error or "Azure no longer knows the operation and the resource does not "
                                      "show the change")
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{record['target']}: not settled within {SETTLE_S:.0f} s")
            time.sleep(max(self.ws.poll_s, 0.05))

    def status(self, record: dict[str, Any]) -> str | tuple[str, str] | None:
        """Where an operation (perhaps another process's) stands, from the live resource."""
        ws, expect = self.ws, record.get("expect") or {}
        try:
            if "compute_state" in expect:
                return "Succeeded" if ws.compute.get(record["target"]).state == expect["compute_state"] else "InProgress"
            if "endpoint_split" in expect:
                return "Succeeded" if self.split_of(record["target"]) == expect["endpoint_split"] else "InProgress"
            if "job_status" in expect:
                return "Succeeded" if ws.jobs.get(record["target"]).status in expect["job_status"] else "InProgress"
            if "endpoint_state" in expect:
                state = ws.endpoints.get(record["target"]).provisioning_state
                return _settled(state, expect["endpoint_state"])
            if "deployment_state" in expect:
                endpoint, name, wanted = expect["deployment_state"]
                found = {d.name: d for d in ws.endpoints.get(endpoint).deployments}
                return _settled(found[name].provisioning_state, wanted) if name in found else "InProgress"
            if "deployment_gone" in expect:
                endpoint, name = expect["deployment_gone"]
                try:
                    found = {d.name for d in ws.endpoints.get(endpoint).deployments}
                except NotFound:  # the endpoint went with it
                    return "Succeeded"
                return "InProgress" if name in found else "Succeeded"
            if "key_changed" in expect:
                key_type, before = expect["key_changed"]
                keys = ws.endpoints.keys(record["target"])
                now = fingerprint(getattr(keys, key_type))
                return "Succeeded" if now != before else "InProgress"
            if "monitor_report" in expect:
                return self._monitor_run_status(expect)
            if "schedule_exists" in expect:
                ws.session.client().schedules.get(expect["schedule_exists"])
                return "Succeeded"
            if "endpoint_gone" in expect:
                ws.endpoints.get(expect["endpoint_gone"])
                return "InProgress"
        except NotFound:
            return "Succeeded" if "endpoint_gone" in expect else None
        return None

    def _monitor_run_status(self, expect: dict[str, Any]) -> str | tuple[str, str]:
        """A monitor run is computed by the process that asked for it: its report on disk, or
        that process gone before writing one."""
        name, start, end = expect["monitor_report"]
        report = self.ws.drift.latest(name)
        if report is not None and (report.window_start.isoformat(), report.window_end.isoformat()) == (start, end):
            return "Succeeded"
        if _alive(int(expect.get("pid") or 0)):
            return "InProgress"
        return ("Failed", f"the process that computed it (pid {expect.get('pid')}) ended before its report was "
                          f"written: run `amlops monitor run {name}` again without --no-wait")


def fingerprint(key: Any) -> str | None:
    """A key as an operation record may keep it: its hash, never the key."""
    import hashlib

    return hashlib.sha256(str(key).encode()).hexdigest()[:16] if key else None


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def _status_url_gone(err: Exception) -> bool:
    """A 404 from an operation's status URL (mfeOperationsStatus, mfeOperationResults, ...):
    ARM no longer knows the operation, which says nothing about how it ended."""
    response = getattr(err, "response", None)
    if getattr(err, "status_code", None) != 404 or response is None:
        return False
    url = str(getattr(getattr(response, "request", None), "url", "") or "").lower()
    return "operationsstatus/" in url or "operationresults/" in url


def _settled(state: str, wanted: str) -> str:
    """An operation's status from a resource's provisioning state."""
    if state == wanted:
        return "Succeeded"
    return "Failed" if state in ("Failed", "Canceled") else "InProgress"
