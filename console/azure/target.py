"""Which Azure ML workspace the user means, found without importing azure.

`--workspace PROFILE` names a profile of the user's config file:

    {"profiles": {"prod": {"subscription_id": "...", "resource_group": "...", "workspace_name": "...",
                           "read_only": true, "credential": "cli"}}}

`--workspace azure` alone reads the Azure ML `config.json` that `MLClient.from_config` reads:
`.azureml/`, `aml_config/` or the folder itself, `config.json` then `project.json`, from the
working directory up to 20 levels, in that order of priority. Bad or missing fields are
InvalidField naming the file and the field.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from console.errors import BadInput, InvalidField

# azure-identity's credentials a profile may name instead of the DefaultAzureCredential chain.
CREDENTIALS = ("default", "cli", "device_code", "managed_identity", "environment")
_FIELDS = ("subscription_id", "resource_group", "workspace_name")


@dataclass(frozen=True)
class AzureTarget:
    subscription_id: str
    resource_group: str
    workspace_name: str
    read_only: bool = False
    credential: str = "default"
    source: str = ""  # where it was found, for messages: "profile prod in FILE", "FILE"

    @property
    def arm_id(self) -> str:
        return (f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
                f"/providers/Microsoft.MachineLearningServices/workspaces/{self.workspace_name}")


def from_profile(name: str, config: dict[str, Any], config_file: str) -> AzureTarget:
    profiles = config.get("profiles") or {}
    if not isinstance(profiles, dict) or name not in profiles:
        known = ", ".join(sorted(profiles)) if isinstance(profiles, dict) else ""
        raise InvalidField("workspace", f"{name!r} is not local, azure or a profile in {config_file}"
                                        + (f" (profiles: {known})" if known else ""))
    return _target(profiles[name], f"profile {name} in {config_file}", f"profiles.{name}.")


def from_config_file(start: Path | None = None) -> AzureTarget:
    """The workspace of the Azure ML config.json nearest the working directory."""
    found = find_config_file(start or Path.cwd())
    if found is None:
        raise BadInput("no Azure ML config.json (or .azureml/config.json) here or in a parent folder: "
                       "download it from the workspace's page in the Azure portal, or name a profile "
                       "(--workspace PROFILE, profiles in ~/.config/amlops/config.json)")
    try:
        data = json.loads(found.read_text())
    except (OSError, ValueError) as err:
        raise InvalidField(str(found), f"not readable JSON: {err}") from None
    # Some downloads spell the group "resource_group_name"; MLClient accepts both.
    if isinstance(data, dict) and "resource_group" not in data and "resource_group_name" in data:
        data = {**data, "resource_group": data["resource_group_name"]}
    return _target(data, str(found), "")


def find_config_file(start: Path, levels: int = 20) -> Path | None:
    for folder in (".azureml", "aml_config", None):
        for name in ("config.json", "project.json"):
            here = start.resolve()
            for _ in range(levels + 1):
                candidate = (here / folder / name) if folder else (here / name)
                if candidate.is_file():
                    return candidate
                if here.parent == here:
                    break
                here = here.parent
    return None


def _target(data: Any, source: str, prefix: str) -> AzureTarget:
    if not isinstance(data, dict):
        raise InvalidField(source, "expected a JSON object with subscription_id, resource_group, workspace_name")
    values = {}
    for field in _FIELDS:
        value = data.get(field)
        if not isinstance(value, str) or not value.strip():
            raise InvalidField(f"{prefix}{field}", f"missing or empty in {source}")
        values[field] = value.strip()
    credential = str(data.get("credential", "default"))
    if credential not in CREDENTIALS:
        raise InvalidField(f"{prefix}credential", f"{credential!r} in {source}: one of {', '.join(CREDENTIALS)}")
    read_only = data.get("read_only", False)
    if not isinstance(read_only, bool):
        raise InvalidField(f"{prefix}read_only", f"must be true or false in {source}")
    return AzureTarget(**values, read_only=read_only, credential=credential, source=source)


def state_dir(target: AzureTarget) -> Path:
    """Where the console keeps what it knows of this workspace (its audit log, its operations)."""
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "amlops" / "azure" / target.subscription_id / target.resource_group / target.workspace_name
