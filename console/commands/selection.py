"""Which workspace a command runs on: `--workspace local|azure` (else the config file's
`workspace`, else local), opened through the backend registry in `console/workspace.py`.
`local_workspace` is for what only the local workspace has (its folder, `local up/down`, the
demo): it refuses another backend instead of reaching past the protocol.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from console.local.client import LocalWorkspace
    from console.workspace import Workspace


def backend_of(args: argparse.Namespace) -> str:
    """`--workspace`, else the config file's `workspace` (InvalidField if it names no backend), else local."""
    if getattr(args, "backend", None):
        return args.backend
    from console.config import user_config
    from console.workspace import BACKENDS

    backend = str(user_config().get("workspace", "local"))
    if backend not in BACKENDS:
        from console.errors import InvalidField

        raise InvalidField("workspace", f"{backend!r} in the config file: use {' or '.join(BACKENDS)}")
    return backend


def workspace(args: argparse.Namespace) -> Workspace:
    """The workspace the user selected."""
    from console.workspace import open_workspace

    backend = backend_of(args)
    options: dict[str, Any] = {}
    if backend == "local":
        from console.config import workspace_dir

        options["root"] = workspace_dir(args.workspace_dir)
    return open_workspace(backend, read_only=args.read_only, **options)


def local_workspace(args: argparse.Namespace, what: str) -> LocalWorkspace:
    """The local workspace, for `what` only it has; BadInput on another backend."""
    backend = backend_of(args)
    if backend != "local":
        from console.errors import BadInput

        raise BadInput(f"{what} is for the local workspace, not the {backend} one")
    from console.config import workspace_dir
    from console.local.client import LocalWorkspace

    return LocalWorkspace(workspace_dir(args.workspace_dir), read_only=args.read_only)


def overrides(pairs: list[str] | None) -> dict[str, Any]:
    """`--set KEY=VALUE` pairs as a dict (SpecError for a malformed one)."""
    from console.specs import parse_overrides

    return parse_overrides(pairs or [])
