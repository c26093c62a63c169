"""The router's config: what the daemon pushes (`validate_config` checks all of it before a
router takes it, and says which field breaks which rule), its redacted form for `GET /-/config`,
and the files a router keeps beside it (the state file, the lock), written atomically."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from console.local.serving.collector import COLLECTIONS

DEFAULT_TIMEOUT_MS = 5000
MAX_DEPLOYMENTS = 20
MAX_MIRROR = 50
REDACTED = "***"


class ConfigError(ValueError):
    """A config the router refuses; the message names the field and the rule."""


def _name_ok(name: Any) -> bool:
    from console.naming import ENDPOINT_NAME

    return isinstance(name, str) and bool(ENDPOINT_NAME.match(name))


def _int(value: Any, field: str, lo: int, hi: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{field}: must be an integer, got {value!r}")
    if value < lo or (hi is not None and value > hi):
        raise ConfigError(f"{field}: must be between {lo} and {hi}, got {value}" if hi is not None
                          else f"{field}: must be at least {lo}, got {value}")
    return value


def validate_config(raw: Any) -> dict[str, Any]:
    """Check a full config and return it normalised (defaults filled, traffic for every
    deployment, mirror without zero entries). Raises ConfigError naming the first problem.

    {"endpoint", "host", "port", "auth_mode": "key"|"aml_token", "keys": {"primary", "secondary"},
     "admin_token", "collect_dir", "traffic": {name: int}, "mirror": {name: int},
     "deployments": {name: {"instances": [url], "request_timeout_ms", "max_concurrent_requests_per_instance",
                            "instance_count", "collect": ["model_inputs", "model_outputs"]}},
     "version": int}
    """
    if not isinstance(raw, dict):
        raise ConfigError("config: must be a JSON object")
    cfg: dict[str, Any] = {}
    if not _name_ok(raw.get("endpoint")):
        raise ConfigError(f"endpoint: {raw.get('endpoint')!r} must be 3 to 32 characters, a letter first, "
                          "then letters, digits or dashes")
    cfg["endpoint"] = raw["endpoint"]
    host = raw.get("host", "127.0.0.1")
    if not isinstance(host, str) or not host:
        raise ConfigError("host: must be a non-empty string")
    cfg["host"] = host
    cfg["port"] = _int(raw.get("port", 0), "port", 0, 65535)
    auth_mode = raw.get("auth_mode", "key")
    if auth_mode not in ("key", "aml_token"):
        raise ConfigError(f"auth_mode: must be 'key' or 'aml_token', got {auth_mode!r}")
    cfg["auth_mode"] = auth_mode
    keys = raw.get("keys")
    if not isinstance(keys, dict) or not all(isinstance(keys.get(k), str) and keys.get(k) and keys[k].isascii()
                                             for k in ("primary", "secondary")):
        raise ConfigError("keys: must hold non-empty ASCII 'primary' and 'secondary' keys")
    cfg["keys"] = {"primary": keys["primary"], "secondary": keys["secondary"]}
    token = raw.get("admin_token")
    if not isinstance(token, str) or not token or not token.isascii():
        raise ConfigError("admin_token: must be a non-empty ASCII string")
    cfg["admin_token"] = token

    deployments = raw.get("deployments", {})
    if not isinstance(deployments, dict):
        raise ConfigError("deployments: must be an object of name -> deployment")
    if len(deployments) > MAX_DEPLOYMENTS:
        raise ConfigError(f"deployments: at most {MAX_DEPLOYMENTS} deployments an endpoint, got {len(deployments)}")
    cfg["deployments"] = {}
    any_collect = False
    for name, d in deployments.items():
        where = f"deployments.{name}"
        if not _name_ok(name):
            raise ConfigError(f"{where}: name must be 3 to 32 characters, a letter first, then letters, "
                              "digits or dashes")
        if not isinstance(d, dict):
            raise ConfigError(f"{where}: must be an object")
        instances = d.get("instances", [])
        if not isinstance(instances, list) or not all(
                isinstance(u, str) and u.startswith("http://") for u in instances):
            raise ConfigError(f"{where}.instances: must be a list of http:// URLs")
        if len(set(instances)) != len(instances):
            raise ConfigError(f"{where}.instances: duplicate instance URL")
        collect = d.get("collect", [])
        if not isinstance(collect, list) or any(c not in COLLECTIONS for c in collect):
            raise ConfigError(f"{where}.collect: must be a list of {', '.join(COLLECTIONS)}")
        any_collect = any_collect or bool(collect)
        cfg["deployments"][name] = {
            "instances": [u.rstrip("/") for u in instances],
            "request_timeout_ms": _int(d.get("request_timeout_ms", DEFAULT_TIMEOUT_MS),
                                       f"{where}.request_timeout_ms", 1, 300_000),
            "max_concurrent_requests_per_instance": _int(d.get("max_concurrent_requests_per_instance", 1),
                                                         f"{where}.max_concurrent_requests_per_instance", 1, 1000),
            "instance_count": _int(d.get("instance_count", max(len(instances), 1)),
                                   f"{where}.instance_count", 1, 1000),
            "collect": list(dict.fromkeys(collect)),
        }
    collect_dir = raw.get("collect_dir")
    if collect_dir is not None and (not isinstance(collect_dir, str) or not os.path.isabs(collect_dir)):
        raise ConfigError(f"collect_dir: must be an absolute path, got {collect_dir!r}")
    if any_collect and not collect_dir:
        raise ConfigError("collect_dir: required when a deployment collects model_inputs or model_outputs")
    cfg["collect_dir"] = collect_dir

    traffic = raw.get("traffic", {})
    if not isinstance(traffic, dict):
        raise ConfigError("traffic: must be an object of deployment -> percent")
    for name, pct in traffic.items():
        if name not in cfg["deployments"]:
            raise ConfigError(f"traffic: unknown deployment {name!r}")
        _int(pct, f"traffic.{name}", 0, 100)
    total = sum(traffic.values())
    if total not in (0, 100):
        raise ConfigError(f"traffic: percentages must sum to 0 or 100, got {total}")
    cfg["traffic"] = {name: int(traffic.get(name, 0)) for name in cfg["deployments"]}

    mirror = raw.get("mirror") or {}
    if not isinstance(mirror, dict):
        raise ConfigError("mirror: must be an object of deployment -> percent")
    mirror = {name: pct for name, pct in mirror.items() if pct != 0}
    if len(mirror) > 1:
        raise ConfigError("mirror: at most one deployment can receive mirrored traffic")
    for name, pct in mirror.items():
        if name not in cfg["deployments"]:
            raise ConfigError(f"mirror: unknown deployment {name!r}")
        _int(pct, f"mirror.{name}", 0, MAX_MIRROR)
        if cfg["traffic"][name] != 0:
            raise ConfigError(f"mirror: deployment {name!r} has {cfg['traffic'][name]}% live traffic; "
                              "a mirrored deployment must have 0% live traffic")
    cfg["mirror"] = mirror
    cfg["version"] = _int(raw.get("version", 0), "version", 0)
    return cfg


def redact(cfg: dict[str, Any]) -> dict[str, Any]:
    out = dict(cfg)
    out["keys"] = {k: REDACTED for k in cfg.get("keys", {})}
    out["admin_token"] = REDACTED
    return out


def write_json_atomic(path: Path, obj: Any, mode: int = 0o600) -> None:
    """tmp file (same folder) + fsync + os.replace: readers see the old or the new file, whole."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(obj, f, indent=2)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def state_path(config_path: Path) -> Path:
    return config_path.with_suffix(".state.json")


def lock_path(config_path: Path) -> Path:
    return config_path.with_suffix(".lock")


def load_config(path: Path) -> dict[str, Any]:
    return validate_config(json.loads(path.read_text()))
