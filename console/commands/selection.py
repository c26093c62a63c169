"""Which workspace a command runs on: `--workspace local|azure|PROFILE` (else the config file's
`workspace`, else local), opened through the backend registry in `console/workspace.py`. A
profile is an Azure workspace named in the config file's `profiles`; `azure` alone is the one
whose Azure ML config.json is found upward from the working directory.
`local_workspace` is for what only the local workspace has (its folder, `local up/down`, the
demo): it refuses another backend instead of reaching past the protocol.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from console.local.client import LocalWorkspace
    from console.workspace import Workspace


def selected(args: argparse.Namespace) -> tuple[str, str | None]:
    """(backend, profile): `--workspace`, else the config file's `workspace`, else local. A name
    that is neither a backend nor a profile of the config file is InvalidField."""
    from console.config import config_file, user_config
    from console.workspace import BACKENDS

    config = None
    chosen = getattr(args, "backend", None)
    if not chosen:
        config = user_config()
        chosen = str(config.get("workspace", "local"))
    if chosen in BACKENDS:
        return chosen, None
    config = user_config() if config is None else config
    if chosen in (config.get("profiles") or {}):
        return "azure", chosen
    from console.errors import InvalidField

    where = "--workspace" if getattr(args, "backend", None) else f"the config file's workspace ({config_file()})"
    raise InvalidField("workspace", f"{chosen!r} in {where}: use local, azure or a profile of {config_file()}")


def backend_of(args: argparse.Namespace) -> str:
    return selected(args)[0]


def workspace(args: argparse.Namespace) -> Workspace:
    """The workspace the user selected."""
    from console.workspace import open_workspace

    backend, profile = selected(args)
    options: dict[str, Any] = {}
    credential = getattr(args, "credential", None)
    if backend == "local":
        if credential:
            from console.errors import BadInput

            raise BadInput(f"--credential {credential} is for an Azure workspace, not the local one")
        from console.config import workspace_dir

        options["root"] = workspace_dir(args.workspace_dir)
    else:
        options["sign_in"] = credential  # the profile's "credential" unless --credential names one
        if profile:
            options["profile"] = profile
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
