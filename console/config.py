"""Where a workspace lives and how the user picked it.

The user's own settings live in `$XDG_CONFIG_HOME/amlops/config.json` (`read_only`, and a
`keymap` from binding ids to keys, e.g. {"stop_idle": "X", "rollback": "ctrl+b"}).

A local workspace is a folder: `--workspace-dir`, else `AMLOPS_WORKSPACE_DIR`, else
`$XDG_DATA_HOME/amlops/workspaces/<name>` (name `default`). It is created owner-only (0700),
since it will hold scoring keys and the daemon's socket.
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_WORKSPACE = "default"


def data_home() -> Path:
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")


def workspace_dir(explicit: str | os.PathLike[str] | None = None, name: str = DEFAULT_WORKSPACE) -> Path:
    """The local workspace folder the user selected, not yet created. InvalidField, naming where
    it was chosen, when no workspace can live there (a file, a folder this user cannot write)."""
    if explicit:
        return usable(Path(explicit).expanduser().resolve(), "--workspace-dir")
    if os.environ.get("AMLOPS_WORKSPACE_DIR"):
        return usable(Path(os.environ["AMLOPS_WORKSPACE_DIR"]).expanduser().resolve(), "AMLOPS_WORKSPACE_DIR")
    return usable(data_home() / "amlops" / "workspaces" / name, "the default workspace folder")


def usable(path: Path, source: str) -> Path:
    """`path` if a workspace folder can live there: a folder this user can write (it holds the
    database and the daemon's socket), or one that can be made in the nearest existing parent.
    InvalidField naming `source` (the option, the variable) otherwise. Only reads."""
    from console.errors import InvalidField

    existing = path
    try:
        while not existing.exists() and existing.parent != existing:
            existing = existing.parent
        is_dir = existing.is_dir()
    except OSError as exc:  # a parent this user cannot even look into
        raise InvalidField(source, f"{path}: cannot be read ({exc.strerror})") from None
    made = "" if existing == path else f"{path} cannot be created: "
    if not is_dir:
        raise InvalidField(source, f"{made}{existing} is a file, not a folder" + ("" if made else ": a local workspace is a folder"))
    if not os.access(existing, os.W_OK | os.X_OK):
        raise InvalidField(source, f"{made}{existing} is not writable by this user"
                           + ("" if made else ", and a local workspace keeps its database and socket there"))
    return path


def ensure_private_dir(path: Path) -> Path:
    """Create `path` (and parents) and make it readable by its owner only."""
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path


def config_file() -> Path:
    """The user's config file: $XDG_CONFIG_HOME/amlops/config.json."""
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "amlops" / "config.json"


def user_config() -> dict:
    """The user's config file as a dict ({} when there is none). Raises BadInput if unreadable."""
    import json

    from console.errors import BadInput

    path = config_file()
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise BadInput(f"{path}: {exc}") from None
    if not isinstance(data, dict):
        raise BadInput(f"{path}: expected a JSON object")
    return data
