"""Versioned assets from specs, like `az ml data|environment create -f`: data assets and environments.

Each spec is loaded with azure-ai-ml's loader (so what lands here is what Azure would accept),
then stored with its version. Data assets point at local paths. An environment resolves to the
interpreter running the daemon: there is no container runtime here, so the image and conda file
are recorded, not built, and the note says so.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from console import specs
from console.errors import BadInput, InvalidField, NotFound, NotSupported
from console.naming import check_name

if TYPE_CHECKING:
    from console.local.context import Context
    from console.local.rpc import Request


class AssetService:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.store = ctx.store

    def rpc_methods(self) -> dict[str, tuple[Any, bool]]:
        return {"list": (self.list, False), "get": (self.get, False)}

    def create(self, req: Request, spec: specs.Spec, data: dict[str, Any]) -> dict[str, Any]:
        """Store a data asset or an environment version (the same content again is a no-op)."""
        kind, name = spec.kind, check_name("asset", data.get("name"))
        version = str(data.get("version") or self._next_version(kind, name))
        base = Path(spec.path).resolve().parent
        note = None
        path = None
        if kind == "data":
            raw = str(data.get("path") or "")
            if raw.startswith(("azureml:", "http:", "https:", "wasbs:", "abfss:")):
                raise NotSupported("local", f"data at {raw}", "a local data asset points at a local path")
            path = str((base / raw).resolve())
            if not Path(path).exists():
                raise InvalidField("path", f"{raw} does not exist (resolved to {path})")
        else:
            conda = data.get("conda_file")
            if conda:
                data["conda_file"] = str((base / str(conda)).resolve())
            note = f"runs with {sys.executable}; image and conda file recorded, not built (no container runtime)"
        stored = {"kind": kind, "name": name, "version": version, "path": path, "spec": data, "note": note}
        existing = self.store.row("SELECT * FROM assets WHERE kind = ? AND name = ? AND version = ?",
                                  (kind, name, version))
        if existing:
            if _fingerprint(existing) == _fingerprint(stored):
                return _public(existing)  # same content: a no-op, as Azure treats it
            raise BadInput(f"{kind} {name}:{version} already exists with different content; "
                           "bump the version")
        with self.store.transaction():
            self.store.insert("assets", {**stored, "created_at": self.ctx.clock.now().isoformat()})
            row = self._get(kind, name, version)
            self.ctx.audit(req, f"{kind}.create", f"{name}:{version}", after=_public(row), detail=spec.path)
        return _public(row)

    def list(self, req: Request, kind: str) -> list[dict[str, Any]]:
        rows = self.store.rows("SELECT * FROM assets WHERE kind = ? ORDER BY name, created_at", (kind,))
        return [_public(r) for r in rows]

    def get(self, req: Request, kind: str, name: str, version: str | None = None) -> dict[str, Any]:
        return _public(self.resolve(kind, name, version))

    def resolve(self, kind: str, name: str, version: str | None = None, label: str | None = None) -> dict[str, Any]:
        """The stored asset for `name:version`, or the newest for `@latest` or no version."""
        if version is not None:
            return self._get(kind, name, version)
        if label not in (None, "latest"):
            raise NotSupported("local", f"label @{label}", "only @latest is resolved locally")
        row = self.store.row("SELECT * FROM assets WHERE kind = ? AND name = ? ORDER BY created_at DESC LIMIT 1",
                             (kind, name))
        if row is None:
            raise NotFound(kind, name)
        return row

    def _get(self, kind: str, name: str, version: str) -> dict[str, Any]:
        row = self.store.row("SELECT * FROM assets WHERE kind = ? AND name = ? AND version = ?",
                             (kind, name, version))
        if row is None:
            raise NotFound(f"{kind} asset", f"{name}:{version}")
        return row

    def _next_version(self, kind: str, name: str) -> int:
        versions = [r["version"] for r in self.store.rows(
            "SELECT version FROM assets WHERE kind = ? AND name = ?", (kind, name))]
        return max((int(v) for v in versions if v.isdigit()), default=0) + 1


def parse_ref(ref: str) -> tuple[str, str | None, str | None]:
    """`azureml:name:1` -> (name, "1", None); `azureml:name@latest` -> (name, None, "latest")."""
    body = ref.removeprefix("azureml:")
    if "@" in body:
        name, label = body.rsplit("@", 1)
        return name, None, label
    name, _, version = body.partition(":")
    return name, version or None, None


def _fingerprint(row: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps([row["path"], row["spec"]], sort_keys=True, default=str).encode()).hexdigest()


def _public(row: dict[str, Any]) -> dict[str, Any]:
    """The AssetVersion record's fields."""
    return {"kind": row["kind"], "name": row["name"], "version": row["version"], "path": row.get("path"),
            "image": (row.get("spec") or {}).get("image"), "created_at": row.get("created_at"), "note": row.get("note")}
