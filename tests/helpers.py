"""Helpers shared by the test modules (importable as `helpers`: pyproject.toml puts `tests/` on
pytest's `pythonpath`).

It owns `wait_until`, the one polling helper the integration and UI tests use to wait for real
processes (daemons, routers, jobs, scoring servers) to reach a state, and `spy`, which records
what a pane's refresh changed in its table. Keep module-specific helpers
in their modules; only what several modules share belongs here: `save_churn_model` (a small real
MLflow model to serve) and `workspace_processes` (what of a workspace still runs, by pid)."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, TypeVar

T = TypeVar("T")
REPO = Path(__file__).resolve().parents[1]
# Overrides for a deployment spec whose instances should be probed at once and every second
# (Azure's defaults wait 10 s before the first probe): what every test that serves uses.
FAST_PROBES = {f"{probe}.{key}": 1 for probe in ("readiness_probe", "liveness_probe")
               for key in ("initial_delay", "period", "timeout")}


def wait_until(predicate: Callable[[], T], timeout: float, what: str | None = None, interval: float = 0.05) -> T:
    """Poll `predicate()` until it returns something truthy, and return that value.

    `predicate` is called at least once, and once more at or after the deadline, so a condition
    that came true during the last sleep still counts. After `timeout` seconds without a truthy
    value, raise AssertionError naming `what` was waited for (by default the predicate's source
    and location) and the last value it returned. Exceptions raised by `predicate` are not
    swallowed: they propagate at once (a predicate that may fail transiently catches that itself).
    """
    deadline = time.monotonic() + timeout
    while True:
        last = predicate()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what or _describe(predicate)} "
                                 f"(last: {last!r})")
        time.sleep(interval)


async def until(pilot: Any, predicate: Callable[[], T], timeout: float = 30.0, what: str | None = None) -> T:
    """`wait_until` for a console under Textual's pilot: pause (letting the app refresh and its
    workers report) until `predicate()` is truthy; AssertionError naming `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    delay = None  # first let what is pending run, then poll: most conditions hold at once
    while True:
        await pilot.pause(delay)
        delay = 0.02
        last = predicate()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise AssertionError(f"the console did not show {what or _describe(predicate)} within {timeout:g} s")


def _describe(predicate: Callable[[], object]) -> str:
    """`predicate` for a failure message: its source (for a lambda, the statement holding it) and where."""
    code = getattr(predicate, "__code__", None)
    where = f" ({os.path.basename(code.co_filename)}:{code.co_firstlineno})" if code else ""
    try:
        source = " ".join(inspect.getsource(predicate).split())
    except (OSError, TypeError):
        source = getattr(predicate, "__qualname__", None) or repr(predicate)
    if len(source) > 200:
        source = source[:197] + "..."
    return f"{source}{where}"


def spy(table: Any, monkeypatch: Any) -> tuple[list, list]:
    """Record which cells of `table` were updated (sync_table writes them in one batch through
    `console.ui.table._update_cells`) and which rows were added."""
    import console.ui.table as table_module

    updated, added = [], []
    update_cells, add_row = table_module._update_cells, table.add_row

    def on_update(target, changed):
        if target is table:
            updated.extend((key, getattr(column, "value", column)) for key, column, _ in changed)
        return update_cells(target, changed)

    def on_add(*cells, key=None, **kw):
        added.append(key)
        return add_row(*cells, key=key, **kw)

    monkeypatch.setattr(table_module, "_update_cells", on_update)
    table.add_row = on_add
    return updated, added


def save_churn_model(target: Path) -> None:
    """A small real MLflow model over the churn features (fast to train, real to serve)."""
    code = f"""
import sys
sys.path.insert(0, {str(REPO / 'training')!r})
import mlflow.sklearn
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder
from mlflow.models import infer_signature
from data import CATEGORICAL, FEATURES, LABEL, make_churn
table = make_churn(1500, seed=3)
X, y = table[FEATURES], table[LABEL]
model = Pipeline([("prep", ColumnTransformer([("cat", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL)],
                                             remainder="passthrough")),
                  ("clf", LogisticRegression(max_iter=500))]).fit(X, y)
mlflow.sklearn.save_model(model, {str(target)!r}, signature=infer_signature(X, model.predict(X)),
                          serialization_format="cloudpickle")
"""
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def workspace_processes(root: Path) -> list[tuple[int, str]]:
    """(pid, command line) of every live process of the local workspace in `root` (zombies left out)."""
    from console.local.procs import folder_processes

    return folder_processes(root)


def amlops_in_process(*args: str) -> subprocess.CompletedProcess[str]:
    """`amlops ARGS` from the repository root, in this process (azure-ai-ml is imported once,
    not per call), with its exit status and what it printed."""
    import contextlib
    import io
    import os

    from console.cli import main

    # stdout with a .buffer, as the real one has (`job list --json` writes bytes to it).
    out, err, here = io.TextIOWrapper(io.BytesIO(), encoding="utf-8"), io.StringIO(), os.getcwd()
    os.chdir(REPO)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(list(args))
    finally:
        os.chdir(here)
    out.flush()
    return subprocess.CompletedProcess(list(args), code, out.buffer.getvalue().decode(), err.getvalue())


class Cli:
    """`amlops --workspace-dir ROOT ...` as a subprocess, from the repository root."""

    TERMINAL = ("Completed", "Failed", "Canceled")

    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.root, self.env = root, env

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "console.cli", "--workspace-dir", str(self.root), *args]

    def run(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(self.argv(*args), cwd=REPO, env=self.env, capture_output=True, text=True,
                              timeout=timeout)
        if check:
            assert proc.returncode == 0, f"amlops {' '.join(args)} exited {proc.returncode}:\n{proc.stderr}"
            assert "Traceback" not in proc.stderr, proc.stderr
        return proc

    def json(self, *args: str):
        import json

        return json.loads(self.run(*args, "--json").stdout)

    def wait_job(self, name: str, timeout: float) -> dict:
        def done():
            job = self.json("job", "show", name)
            return job if job["status"] in self.TERMINAL else None

        return wait_until(done, timeout, f"job {name} to end", interval=0.5)
