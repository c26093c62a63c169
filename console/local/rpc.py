"""The daemon's wire protocol: one JSON line in, one JSON line out, over a Unix socket.

Request `{"method": "jobs.list", "params": {...}, "code": STAMP}`; reply `{"ok": true, "result": ...}`
or `{"ok": false, "error": {"type": "NotFound", "message": ..., "fields": {...}}}`. Errors cross the
socket as their type name and constructor fields, so the client raises the same typed error the
daemon did. `code` is the client's `code_stamp()`: a daemon started from other code answers
STALE instead, and a client whose own code is current restarts it (after a `git pull`, say).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

STALE = "StaleDaemon"

from console import errors


@dataclass(frozen=True)
class Request:
    """Who is calling: the OS user on the other end of the socket (or the scheduler itself)."""

    actor: str


SCHEDULER = Request("amlops-scheduler")

# Constructor fields of each error type, in order, so the client can rebuild it exactly.
_FIELDS: dict[str, tuple[str, ...]] = {
    "SpecError": ("file", "line", "field", "message"),
    "InvalidField": ("field", "message"),
    "NotFound": ("kind", "name"),
    "QuotaExceeded": ("family", "need", "used", "limit", "how_to_raise"),
    "NotSupported": ("backend", "capability", "why"),
    "ReadOnlyError": ("action",),
}


def code_stamp() -> str:
    """A fingerprint of the console package's code as it is on disk now: each .py file's path,
    size and modification time (about a millisecond). AMLOPS_CODE_STAMP overrides it, for tests."""
    return os.environ.get("AMLOPS_CODE_STAMP") or _stamp_of(_code_files())


def _code_files() -> tuple[tuple[str, int, int], ...]:
    root = Path(__file__).resolve().parents[1]
    out = []
    for path in sorted(root.rglob("*.py")):
        try:
            st = path.stat()
        except OSError:
            continue
        out.append((str(path.relative_to(root)), st.st_size, st.st_mtime_ns))
    return tuple(out)


@cache
def _stamp_of(files: tuple[tuple[str, int, int], ...]) -> str:
    return hashlib.sha1(repr(files).encode()).hexdigest()[:16]


class RawJSON(bytes):
    """A result that is already JSON: sent after a one-line header, never re-encoded or parsed."""


RAW_HEADER = b'{"ok":true,"raw":true}\n'


def encode(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), default=str).encode() + b"\n"


def error_payload(err: errors.AmlopsError) -> dict[str, Any]:
    name = type(err).__name__
    fields = {f: getattr(err, f, None) for f in _FIELDS.get(name, ())}
    return {"type": name, "message": err.message, "fields": fields}


def raise_error(payload: dict[str, Any]) -> None:
    name = payload.get("type", "OperationFailed")
    cls = getattr(errors, name, None)
    if not (isinstance(cls, type) and issubclass(cls, errors.AmlopsError)):
        raise errors.OperationFailed(f"{name}: {payload.get('message')}")
    if name in _FIELDS:
        fields = payload.get("fields") or {}
        if name == "QuotaExceeded":
            raise errors.QuotaExceeded(**{k: fields.get(k) for k in _FIELDS[name]})
        if name == "NotSupported":
            raise errors.NotSupported(fields.get("backend"), fields.get("capability"), fields.get("why") or "")
        raise cls(*(fields.get(f) for f in _FIELDS[name]))
    raise cls(payload.get("message", ""))
