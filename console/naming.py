"""Azure ML's naming rules, checked before anything is created (and by the linter).

Pure: the same rules hold for the local and the Azure workspace.
"""

from __future__ import annotations

import re

from console.errors import InvalidField

# Online endpoints and deployments: 3 to 32 characters, a letter first, then letters, digits, dashes.
ENDPOINT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{2,31}$")
# Compute: 3 to 24 characters, a letter first, letters, digits and dashes, not ending in a dash.
COMPUTE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{1,22}[A-Za-z0-9]$")
# Jobs: letters, digits, '-' and '_' (never a path), a letter or digit first.
JOB_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,254}$")
# Assets (data, environments, models): letters, digits, '-', '_', '.', a letter or digit first.
ASSET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$")

RULES = {
    "endpoint": (ENDPOINT_NAME, "3 to 32 characters, a letter first, then letters, digits or dashes"),
    "deployment": (ENDPOINT_NAME, "3 to 32 characters, a letter first, then letters, digits or dashes"),
    "compute": (COMPUTE_NAME, "3 to 24 characters, a letter first, then letters, digits or dashes, not ending in a dash"),
    "job": (JOB_NAME, "up to 255 letters, digits, '-' or '_', starting with a letter or digit"),
    "asset": (ASSET_NAME, "up to 255 letters, digits, '-', '_' or '.', starting with a letter or digit"),
}


def check_name(kind: str, name: object, field: str = "name") -> str:
    """Return `name` if Azure accepts it for `kind`; raise InvalidField naming the rule otherwise."""
    pattern, rule = RULES[kind]
    if not isinstance(name, str) or not pattern.match(name):
        raise InvalidField(field, f"{kind} name {name!r} breaks Azure's rule: {rule}")
    return name
