"""Which Azure ML workspace the user means, found without importing azure.

`--workspace PROFILE` names a profile of the user's config file:

    {"profiles": {"prod": {"subscription_id": "...", "resource_group": "...", "workspace_name": "...",
                           "read_only": true, "credential": "cli"}}}

`--workspace azure` alone reads the Azure ML `config.json` that `MLClient.from_config` reads:
`.azureml/`, `aml_config/` or the folder itself, `config.json` then `project.json`, from the
working directory up to 20 levels, in that order of priority. Bad or missing fields are
InvalidField naming the file and the field. `credential` (a profile's key, or `--credential`,
which wins) picks azure-identity's credential; `device_code` is the one that needs no `az`.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from console.errors import BadInput, InvalidField

# azure-identity's credentials a profile may name instead of the DefaultAzureCredential chain,
# with what each is, for `--credential`'s help.
CREDENTIALS = ("default", "cli", "device_code", "managed_identity", "environment")
CREDENTIAL_HELP = {
    "default": "DefaultAzureCredential: environment, workload identity, managed identity, Azure CLI, ...",
    "device_code": "a code to enter at microsoft.com/devicelogin from any browser: no az needed",
    "cli": "the Azure CLI's sign-in (az login)",
    "managed_identity": "the managed identity of this Azure VM or service",
    "environment": "a service principal in AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET",
}
_FIELDS = ("subscription_id", "resource_group", "workspace_name")


@dataclass(frozen=True)
class AzureTarget:
    subscription_id: str
    resource_group: str
    workspace_name: str
    read_only: bool = False
    credential: str = "default"
    source: str = ""  # where it was found, for messages: "profile prod in FILE", "FILE"
    config_file: str = ""  # the file read: a profile's config file, or the Azure ML config.json
    profile: str = ""  # the profile of config_file, if it came from one

    def setting(self, key: str, value: str) -> str:
        """Where to set `key` for this workspace, in the file that was read: for messages."""
        place = f"profile {self.profile} of {self.config_file}" if self.profile else self.config_file
        return f'"{key}": "{value}"' + (f" in {place}" if place else "")

    @property
    def arm_id(self) -> str:
        return (f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
                f"/providers/Microsoft.MachineLearningServices/workspaces/{self.workspace_name}")


def from_profile(name: str, config: dict[str, Any], config_file: str, *, credential: str | None = None) -> AzureTarget:
    """Profile `name` of the user's config file (`config`, read from `config_file`); `credential`
    (from `--credential`) instead of the profile's own."""
    profiles = config.get("profiles") or {}
    if not isinstance(profiles, dict) or name not in profiles:
        known = ", ".join(sorted(profiles)) if isinstance(profiles, dict) else ""
        raise InvalidField("workspace", f"{name!r} is not local, azure or a profile in {config_file}"
                                        + (f" (profiles: {known})" if known else ""))
    target = _target(profiles[name], f"profile {name} in {config_file}", f"profiles.{name}.")
    return with_credential(dataclasses.replace(target, config_file=str(config_file), profile=name), credential)


def from_config_file(start: Path | None = None, *, credential: str | None = None) -> AzureTarget:
    """The workspace of the Azure ML config.json nearest the working directory; `credential`
    (from `--credential`) instead of the file's own `credential` key."""
    found = find_config_file(start or Path.cwd())
    if found is None:
        from console.config import config_file

        raise BadInput("no Azure ML config.json (or .azureml/config.json) here or in a parent folder: "
                       "download it from the workspace's page in the Azure portal, or name a profile "
                       f"(--workspace PROFILE, profiles in {config_file()})")
    try:
        data = json.loads(found.read_text())
    except (OSError, ValueError) as err:
        raise InvalidField(str(found), f"not readable JSON: {err}") from None
    # Some downloads spell the group "resource_group_name"; MLClient accepts both.
    if isinstance(data, dict) and "resource_group" not in data and "resource_group_name" in data:
        data = {**data, "resource_group": data["resource_group_name"]}
    return with_credential(dataclasses.replace(_target(data, str(found), ""), config_file=str(found)), credential)


def with_credential(target: AzureTarget, credential: str | None) -> AzureTarget:
    """`target` signing in with `credential` (`--credential`'s value) instead of its own; None
    keeps the file's. InvalidField for a name azure-identity has no credential for here."""
    if credential is None:
        return target
    if credential not in CREDENTIALS:
        raise InvalidField("credential", f"{credential!r}: one of {', '.join(CREDENTIALS)}")
    return dataclasses.replace(target, credential=credential)


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
