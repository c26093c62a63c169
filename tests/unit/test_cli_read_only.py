"""`--read-only` refuses every CLI command that changes what the workspace holds or runs: exit 2,
ReadOnlyError's message, nothing stopped, started or created (the workspace folder not even
made), and no question asked first. The workspace layer refuses the writes it carries (submit,
create, traffic, ...); these are the commands that changed things around it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from console.cli import main
from console.demo import LOAD_PID, set_up
from console.errors import ReadOnlyError
from console.local.client import LocalWorkspace
from console.local.procs import start_time


@pytest.fixture()
def root(empty_workspace):
    """A workspace folder not made yet (conftest stops whatever a failing test started in it)."""
    return empty_workspace.folder.root


@pytest.mark.parametrize("argv", [
    ["demo"],
    ["local", "down"],
    ["endpoint", "delete", "churn-ep"],
    ["deployment", "delete", "churn-ep", "blue"],
    ["endpoint", "load", "churn-ep", "--duration", "1"],
])
def test_refused_at_once_and_nothing_is_touched(argv, root, capsys):
    assert main(["--read-only", "--workspace-dir", str(root), *argv]) == 2
    out, err = capsys.readouterr()
    assert "refused: read-only mode" in err
    assert out == ""  # no "linting ...", no question
    assert not root.exists()  # no daemon was started to ask anything


def test_local_down_leaves_the_demo_load_running(root, capsys):
    root.mkdir(mode=0o700)
    (root / "logs").mkdir()
    load = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        (root / LOAD_PID).write_text(f"{load.pid} {start_time(load.pid)}")
        assert main(["--read-only", "--workspace-dir", str(root), "local", "down"]) == 2
        assert "local down refused: read-only mode" in capsys.readouterr().err
        assert load.poll() is None
        assert (root / LOAD_PID).exists()
    finally:
        load.kill()
        load.wait()


def test_a_read_only_folder_config_refuses_local_down_too(root, capsys):
    root.mkdir(mode=0o700)
    (root / "config.json").write_text(json.dumps({"read_only": True}))
    assert main(["--workspace-dir", str(root), "local", "down"]) == 2
    assert "local down refused" in capsys.readouterr().err


def test_the_demo_set_up_refuses_a_read_only_workspace_before_asking_the_daemon(root):
    with pytest.raises(ReadOnlyError, match="demo refused"):
        set_up(LocalWorkspace(root, read_only=True))
    assert not root.exists()
