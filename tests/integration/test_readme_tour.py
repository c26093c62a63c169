"""README.md's tour, run as written: every command of its `## A short tour` section, in order, on a
fresh workspace, each expected to exit as the README shows (0 unless its comment says `# exits N`).

The commands are read from the README itself (the section's ```sh blocks), so the tour and the
tool cannot drift apart. They run in one bash, as a reader pastes them (so `. .venv/bin/activate`
and `job=$(...)` carry over), from the repository root, with TMPDIR, XDG_DATA_HOME and
XDG_CONFIG_HOME in this test's temporary folder: the workspace the tour makes (`mktemp -d`) is a
private one there, and neither the user's default workspace nor their config file is touched.
Afterwards `amlops local down --all` runs on that workspace whatever happened (the tour's own last
step does it too) and no process of it may be left.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

import pytest

from helpers import REPO, wait_until, workspace_processes

pytestmark = pytest.mark.integration

SECTION = "## A short tour"
EXITS = re.compile(r"#\s*exits (\d+)\b")
TOUR_TIMEOUT_S = 200  # about 50 s on a quiet 2-core machine (training 20 s, four scoring servers)


def tour_commands(readme: str) -> list[tuple[str, int]]:
    """(command, expected exit status) for each command of the tour's ```sh blocks, in order.
    A line ending in `\\` goes on with the next; a line that is only a comment is none."""
    start = readme.index(SECTION)
    end = readme.find("\n## ", start + len(SECTION))
    section = readme[start:end if end != -1 else len(readme)]
    commands: list[tuple[str, int]] = []
    for block in re.findall(r"^```sh\n(.*?)^```", section, flags=re.S | re.M):
        pending = ""
        for line in block.splitlines():
            if not pending and (not line.strip() or line.lstrip().startswith("#")):
                continue
            pending += line + "\n"
            if line.rstrip().endswith("\\"):
                continue
            match = EXITS.search(pending)
            commands.append((pending.rstrip("\n"), int(match.group(1)) if match else 0))
            pending = ""
        assert not pending, f"a tour command ends in a continuation: {pending!r}"
    return commands


def tour_script(commands: list[tuple[str, int]], steps: Path) -> str:
    """One bash script: each command as written, its output to steps/N.out, its exit status and
    the workspace it used recorded; the script stops at the first status the README does not show."""
    lines = ["set -u"]
    for n, (command, expected) in enumerate(commands):
        lines += [
            "{",
            command,
            f'}} >"{steps}/{n}.out" 2>&1 </dev/null',
            "rc=$?",
            f'printf "%s %s\\n" "$rc" "$EPOCHREALTIME" >"{steps}/{n}.rc"',
            f'printf "%s" "${{AMLOPS_WORKSPACE_DIR:-}}" >"{steps}/workspace"',
            f'[ "$rc" -eq {expected} ] || exit 3',
        ]
    return "\n".join(lines) + "\n"


def test_the_tour_parses_with_its_exit_statuses():
    commands = tour_commands((REPO / "README.md").read_text())
    assert commands[0][0] == ". .venv/bin/activate"
    assert commands[-1][0].startswith("amlops local down --all")
    assert ("amlops lint tests/fixtures/broken", 2) in [(c.split("#")[0].strip(), e) for c, e in commands]
    # Every file a command names is in the repository (the old tour named a deploy.yml and a req.json).
    for command, _ in commands:
        for path in re.findall(r"(?:^|\s)((?:specs|tests)/\S+)", command):
            assert (REPO / path).exists(), f"{command!r} names {path}, which is not in the repository"


def test_the_readme_tour_runs_as_written(tmp_path):
    commands = tour_commands((REPO / "README.md").read_text())
    steps = tmp_path / "steps"
    steps.mkdir()
    script = tmp_path / "tour.sh"
    script.write_text(tour_script(commands, steps))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AMLOPS_", "VIRTUAL_ENV"))}
    env.update(TMPDIR=str(tmp_path), XDG_DATA_HOME=str(tmp_path / "data"), XDG_CONFIG_HOME=str(tmp_path / "config"),
               # Were the tour to forget its own workspace, it would still be a private one.
               AMLOPS_WORKSPACE_DIR=str(tmp_path / "fallback-workspace"))
    started = time.time()
    try:
        status = subprocess.run(["bash", str(script)], cwd=REPO, env=env, timeout=TOUR_TIMEOUT_S,
                                capture_output=True, text=True).returncode
    except subprocess.TimeoutExpired:
        status = f"timed out after {TOUR_TIMEOUT_S} s"
    finally:
        workspace = _workspace(steps, tmp_path)
        subprocess.run([str(REPO / ".venv" / "bin" / "amlops"), "--workspace-dir", str(workspace), "local", "down",
                        "--all"], cwd=REPO, env=env, capture_output=True, timeout=120)
    report = _report(commands, steps, started)
    print(report)  # each step's seconds: shown with -s, and on a failure
    assert status == 0, f"the tour stopped ({status}; 3: a status the README does not show):\n{report}"
    assert len(list(steps.glob("*.rc"))) == len(commands), report
    assert workspace.is_relative_to(tmp_path) and workspace != tmp_path / "fallback-workspace", \
        f"the tour used {workspace}, not a workspace of its own"
    # What the README says these print is what they print.
    out = lambda prefix: _output(commands, steps, prefix)  # noqa: E731
    assert "NOTE" in out("amlops environment list") and "not built" in out("amlops environment list"), report
    newest = out("amlops operation list").splitlines()[1].split()[0]  # under the header: the 50/50 split
    assert f"id       {newest}" in out('amlops operation show "$(') and "endpoints.set_traffic" in out("amlops operation show")
    assert "demo load (pid" in out("amlops local status"), report
    # Nothing of the tour's workspace runs on: no daemon, router, scoring server, job or demo load.
    wait_until(lambda: not workspace_processes(workspace), timeout=10)


def _output(commands: list[tuple[str, int]], steps: Path, prefix: str) -> str:
    """What the first command starting with `prefix` printed (stdout and stderr)."""
    n = next(n for n, (command, _) in enumerate(commands) if command.startswith(prefix))
    return (steps / f"{n}.out").read_text()


def _workspace(steps: Path, tmp_path: Path) -> Path:
    recorded = steps / "workspace"
    return Path(recorded.read_text()) if recorded.exists() and recorded.read_text() else tmp_path / "fallback-workspace"


def _report(commands: list[tuple[str, int]], steps: Path, started: float) -> str:
    """Each command run: its status against the README's, its seconds; the output of the one that
    stopped the tour."""
    lines, previous = [], started
    for n, (command, expected) in enumerate(commands):
        rc_file = steps / f"{n}.rc"
        if not rc_file.exists():
            break
        rc, at = rc_file.read_text().split()
        lines.append(f"  [{n:2d}] exit {rc} (README: {expected}) {float(at) - previous:5.1f} s  {command.splitlines()[0][:90]}")
        previous = float(at)
        if int(rc) != expected:
            lines.append((steps / f"{n}.out").read_text()[-4000:])
    return "\n".join(lines)
