"""Selecting a workspace: `--workspace azure` (or the config file's `workspace`) says plainly that
the Azure backend is not built, and touches no local folder; options are never abbreviated."""

from __future__ import annotations

import json

import pytest

from console import cli


@pytest.fixture
def config_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("AMLOPS_WORKSPACE_DIR", str(tmp_path / "ws"))
    return tmp_path / "config" / "amlops"


def test_workspace_azure_is_refused_with_a_reason(config_home, tmp_path, capsys):
    assert cli.main(["--workspace", "azure", "job", "list"]) == 1
    err = capsys.readouterr().err
    assert "azure workspace's backend" in err and "not built yet" in err
    assert not (tmp_path / "ws").exists()  # no local workspace was started in its place


def test_the_config_files_workspace_selects_it_too(config_home, tmp_path, capsys):
    config_home.mkdir(parents=True)
    (config_home / "config.json").write_text(json.dumps({"workspace": "azure"}))
    assert cli.main(["job", "list"]) == 1
    assert "not built yet" in capsys.readouterr().err
    (config_home / "config.json").write_text(json.dumps({"workspace": "azrue"}))
    assert cli.main(["job", "list"]) == 2
    assert "workspace: 'azrue' in the config file" in capsys.readouterr().err
    assert not (tmp_path / "ws").exists()


def test_options_are_not_abbreviated(config_home, capsys):
    # `--workspace` is an option of its own; a prefix of `--workspace-dir` is not one.
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--workspace-d", "/tmp/elsewhere", "job", "list"])
    assert exit_.value.code == 2
