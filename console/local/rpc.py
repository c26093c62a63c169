"""The daemon's wire protocol: one JSON line in, one JSON line out, over a Unix socket.

Request `{"method": "jobs.list", "params": {...}}`; reply `{"ok": true, "result": ...}` or
`{"ok": false, "error": {"type": "NotFound", "message": ..., "fields": {...}}}`. Errors cross the
socket as their type name and constructor fields, so the client raises the same typed error the
daemon did.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

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
