"""Bad numbers on the command line are refused by the parser: exit 2, the option named, and no
workspace touched (the folder is not even created)."""

from __future__ import annotations

import pytest

from console.cli import main


@pytest.mark.parametrize("argv, message", [
    (["audit", "--limit", "-5"], "argument --limit: must be 1 or more, got -5"),
    (["audit", "--limit", "0"], "argument --limit: must be 1 or more, got 0"),
    (["job", "list", "--limit", "ten"], "argument --limit: expected a whole number, got 'ten'"),
    (["deployment", "logs", "churn-ep", "blue", "--lines", "-1"], "argument --lines: must be 1 or more"),
    (["endpoint", "load", "churn-ep", "--rps", "-3"], "argument --rps: must be above 0"),
    (["endpoint", "load", "churn-ep", "--duration", "nan"], "argument --duration: must be above 0"),
    (["endpoint", "load", "churn-ep", "--drift", "1.5"], "argument --drift: must be from 0 to 1"),
])
def test_bad_numbers_exit_2_before_the_workspace_is_touched(argv, message, tmp_path, capsys):
    root = tmp_path / "ws"
    with pytest.raises(SystemExit) as exit_:
        main(["--workspace-dir", str(root), *argv])
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err
    assert not root.exists()
