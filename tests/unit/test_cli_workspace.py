"""Selecting a workspace: `--workspace local|azure|PROFILE`, or the config file's `workspace`.
A name that is none of them, an `azure` with no Azure ML config.json found upward, or a profile
with a field missing is refused with what to do, exit 2, and no local folder touched. Options
are never abbreviated. Nothing here connects to Azure."""

from __future__ import annotations

import argparse
import json

import pytest

from console import cli
from console.azure.target import find_config_file, from_config_file
from console.commands.selection import selected
from console.errors import InvalidField


@pytest.fixture
def config_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("AMLOPS_WORKSPACE_DIR", str(tmp_path / "ws"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config" / "amlops").mkdir(parents=True)
    return tmp_path / "config" / "amlops"


PROFILE = {"subscription_id": "00000000-0000-0000-0000-000000000000", "resource_group": "rg-demo",
           "workspace_name": "ws-demo", "read_only": True}


def test_azure_without_a_config_json_says_where_it_looked(config_home, tmp_path, capsys):
    assert cli.main(["--workspace", "azure", "job", "list"]) == 2
    err = capsys.readouterr().err
    assert "no Azure ML config.json" in err and "--workspace PROFILE" in err
    assert not (tmp_path / "ws").exists()  # no local workspace was started in its place


def test_the_config_files_workspace_must_name_a_backend_or_a_profile(config_home, tmp_path, capsys):
    (config_home / "config.json").write_text(json.dumps({"workspace": "azrue"}))
    assert cli.main(["job", "list"]) == 2
    assert "'azrue' in the config file's workspace" in capsys.readouterr().err
    assert not (tmp_path / "ws").exists()


def test_a_profile_selects_the_azure_backend(config_home):
    (config_home / "config.json").write_text(json.dumps({"profiles": {"prod": PROFILE}, "workspace": "prod"}))
    assert selected(argparse.Namespace(backend=None)) == ("azure", "prod")
    assert selected(argparse.Namespace(backend="local")) == ("local", None)
    with pytest.raises(InvalidField, match="'staging' in --workspace"):
        selected(argparse.Namespace(backend="staging"))


def test_a_profile_with_a_field_missing_is_refused_by_name(config_home, capsys):
    broken = {k: v for k, v in PROFILE.items() if k != "resource_group"}
    (config_home / "config.json").write_text(json.dumps({"profiles": {"prod": broken}}))
    assert cli.main(["--workspace", "prod", "job", "list"]) == 2
    assert "profiles.prod.resource_group: missing or empty" in capsys.readouterr().err


def test_azure_finds_the_config_json_upward_as_mlclient_from_config_does(tmp_path):
    (tmp_path / "project" / ".azureml").mkdir(parents=True)
    (tmp_path / "project" / "src" / "deep").mkdir(parents=True)
    (tmp_path / "project" / ".azureml" / "config.json").write_text(json.dumps(PROFILE))
    (tmp_path / "project" / "config.json").write_text("{}")  # .azureml/ comes first
    assert find_config_file(tmp_path / "project" / "src" / "deep") == tmp_path / "project" / ".azureml" / "config.json"
    target = from_config_file(tmp_path / "project" / "src" / "deep")
    assert (target.subscription_id, target.resource_group, target.workspace_name) == (
        PROFILE["subscription_id"], "rg-demo", "ws-demo")
    assert target.read_only


def test_options_are_not_abbreviated(config_home, capsys):
    # `--workspace` is an option of its own; a prefix of `--workspace-dir` is not one.
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--workspace-d", "/tmp/elsewhere", "job", "list"])
    assert exit_.value.code == 2
