"""Start-up, from a fresh clone to the console's first frame, and the import budget.

1. A fresh clone's set-up time to the first frame, once per installer, in one run:
   - `make run` as it is (uv installs into .venv; benchmarks the Makefile's own phases),
   - the same steps with plain pip instead (`python -m venv`, pip upgraded, `pip install -e .`,
     then `amlops demo` and `amlops`, which is what `make run` did before uv).
   Each clones this repository's HEAD into a temporary folder, sets up the demo on a workspace
   folder of its own, and runs under a pseudo-terminal of 120x40 until the console has drawn its
   first frame (its pane titles are on the screen); it then quits the console, stops every process
   of that workspace (`amlops local down --all`) and removes the folder. Prints each phase's
   seconds: venv, installer, install, demo, console, total.
   Caches: `warm` uses pip's and uv's own caches as they are (they may hold every package already);
   `cold` points PIP_CACHE_DIR and UV_CACHE_DIR at empty temporary folders, so every package is
   downloaded; `both` runs each. The index is PyPI either way.
2. Import time of `console.cli` beside `textual.app` and `azure.ai.ml`, each in a fresh
   interpreter (budget, DESIGN.md: `import console.cli` and `amlops --help` pay for no heavy
   library): the median of N cold imports per module, and the `amlops --help` wall time.

Slow (minutes: two installs, two demo trainings): a benchmark, not a test.
Run: .venv/bin/python benchmarks/startup.py [--runs N] [--caches warm|cold|both] [--no-clone]
"""

from __future__ import annotations

import argparse
import fcntl
import os
import pty
import re
import select
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

MODULES = ("console.cli", "textual.app", "azure.ai.ml")
REPO = Path(__file__).resolve().parent.parent
PHASE = re.compile(rb"==> ([^\r\n]+)")  # the Makefile's phase lines (and the pip script's, worded alike)
# A phase line's start -> the phase's name in the report.
PHASES = {"creating": "venv", "installing uv": "installer", "upgrading pip": "installer",
          "installing amlops": "install", "setting up the demo": "demo", "opening the console": "console"}
# The first frame: every pane title is on the screen (none of them is printed before the console).
FRAME_MARKERS = (b"Jobs", b"Quotas", b"Compute", b"Endpoints", b"Drift")
ANSI = re.compile(rb"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[()][A-Z0-9]|\x1b[=>]|\x1b\][^\x07]*\x07")
TIMEOUT_S = 900.0

# What `make run` did before uv, step for step, with the same phase lines as the Makefile's.
PIP_SCRIPT = """set -e
echo "==> creating .venv with python3"
python3 -m venv .venv
echo "==> upgrading pip"
.venv/bin/python -m pip install --quiet --upgrade pip
echo "==> installing amlops and its dependencies (pip install -e .)"
.venv/bin/python -m pip install --quiet -e .
echo "==> setting up the demo on the local workspace (amlops demo)"
PATH="$PWD/.venv/bin:$PATH" .venv/bin/amlops demo
echo "==> opening the console (amlops)"
PATH="$PWD/.venv/bin:$PATH" exec .venv/bin/amlops
"""


# --- 1. a fresh clone to the first frame ----------------------------------------------------------


def fresh_clone_run(installer: str, cold: bool) -> dict[str, float]:
    """Seconds per phase, from `git clone` to the console's first frame, for one installer."""
    tmp = Path(tempfile.mkdtemp(prefix=f"amlops-startup-{installer}-"))
    clone, ws = tmp / "clone", tmp / "workspace"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AMLOPS_", "VIRTUAL_ENV"))}
    env.update(AMLOPS_WORKSPACE_DIR=str(ws), TERM="xterm-256color", COLUMNS="120", LINES="40")
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if ".venv" not in p)
    # PyPI only, for both: pip's configuration may name other indexes or wheel folders (uv reads none).
    env = {k: v for k, v in env.items() if k not in ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS")}
    env["PIP_CONFIG_FILE"] = os.devnull
    if cold:
        env.update(PIP_CACHE_DIR=str(tmp / "pip-cache"), UV_CACHE_DIR=str(tmp / "uv-cache"))
    try:
        start = time.monotonic()
        subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
        phases = {"clone": time.monotonic() - start}
        command = ["make", "run"] if installer == "uv" else ["sh", "-c", PIP_SCRIPT]
        marks = run_to_first_frame(command, clone, env)
        previous = phases["clone"]
        for name, at in marks:
            phases[name] = at - start - previous
            previous = at - start
        phases["total"] = previous
        return phases
    finally:
        if (clone / ".venv" / "bin" / "amlops").exists():
            subprocess.run([str(clone / ".venv" / "bin" / "amlops"), "local", "down", "--all"], env=env,
                           cwd=clone, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)
        shutil.rmtree(tmp, ignore_errors=True)


def run_to_first_frame(command: list[str], cwd: Path, env: dict[str, str]) -> list[tuple[str, float]]:
    """Run `command` on a 120x40 pseudo-terminal until the console's first frame; the monotonic
    time each phase ended at, in order, the last the console's (its first frame)."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: the command, with the pty as its terminal
        os.chdir(cwd)
        os.execvpe(command[0], command, env)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    marks: list[tuple[str, float]] = []
    phase, output, screen = "", b"", b""
    deadline = time.monotonic() + TIMEOUT_S
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 1.0)
            if not ready:
                continue
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # the child ended before any frame
                break
            if not chunk:
                break
            now = time.monotonic()
            output += chunk
            for match in PHASE.finditer(chunk):  # a phase starts: the previous one ended now
                if phase:
                    marks.append((phase, now))
                phase = _label(match.group(1).decode())
            if phase == "console":
                screen += ANSI.sub(b"", chunk)
                if all(m in screen for m in FRAME_MARKERS):
                    return marks + [("console", now)]
        tail = ANSI.sub(b"", output[-3000:]).decode(errors="replace")
        raise RuntimeError(f"no first frame from {' '.join(command)} (last phase: {phase}):\n{tail}")
    finally:
        try:
            os.write(fd, b"q")
            _reap(pid, 10.0)
        finally:
            os.close(fd)


def _label(line: str) -> str:
    return next((name for start, name in PHASES.items() if line.startswith(start)), line)


def _reap(pid: int, timeout_s: float) -> None:
    """Wait for the command to end (it was told to quit); past `timeout_s`, end its process group
    (the pty made it a session of its own: make, the demo, the console; what the workspace runs
    is stopped by `local down --all` after)."""
    for sig in (None, signal.SIGTERM, signal.SIGKILL):
        if sig is not None:
            try:
                os.killpg(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if os.waitpid(pid, os.WNOHANG)[0]:
                return
            time.sleep(0.1)


def report_clone(caches: str) -> None:
    for cold in {"warm": [False], "cold": [True], "both": [False, True]}[caches]:
        print(f"a fresh clone to the console's first frame, 120x40 pty, {'cold (empty) caches' if cold else 'warm caches (as they are)'}",
              flush=True)
        for installer in ("uv", "pip"):
            phases = fresh_clone_run(installer, cold)
            # installer: uv installed into the venv, or pip upgraded in it (as `make run` did).
            cells = "  ".join(f"{name} {secs:6.1f} s" for name, secs in phases.items() if name != "total")
            print(f"  {installer:<4} {'make run' if installer == 'uv' else 'venv + pip install -e .'}: "
                  f"{phases['total']:6.1f} s total  ({cells})", flush=True)


# --- 2. the import budget -----------------------------------------------------------------------


def import_seconds(module: str) -> float:
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def help_seconds() -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "console.cli", "--help"], capture_output=True, check=True)
    return time.perf_counter() - start


def report_imports(runs: int) -> None:
    print(f"cold import, median of {runs} fresh interpreters", flush=True)
    for module in MODULES:
        times = [import_seconds(module) for _ in range(runs)]
        print(f"  import {module:<14} {statistics.median(times) * 1000:8.1f} ms")
    times = [help_seconds() for _ in range(runs)]
    print(f"  amlops --help (process) {statistics.median(times) * 1000:6.1f} ms", flush=True)


def main() -> None:
    # A stopped benchmark still stops what it started and removes its folder (the finally blocks).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="fresh interpreters per import figure")
    parser.add_argument("--caches", choices=("warm", "cold", "both"), default="warm",
                        help="pip's and uv's caches as they are, empty ones, or each in turn")
    parser.add_argument("--no-clone", action="store_true", help="only the import figures (seconds, not minutes)")
    args = parser.parse_args()
    report_imports(args.runs)
    if not args.no_clone:
        report_clone(args.caches)


if __name__ == "__main__":
    main()
