"""Startup hygiene: the CLI's import path pays for none of the heavy libraries."""

from __future__ import annotations

import json
import logging
import subprocess
import sys

HEAVY = ("textual", "azure.ai.ml", "mlflow", "pandas", "sklearn")


def imported_after(code: str) -> set[str]:
    probe = f"{code}\nimport sys, json\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout.splitlines()[-1]))


def heavy_in(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))


def test_importing_the_cli_imports_nothing_heavy():
    assert heavy_in(imported_after("import console.cli")) == []


def test_help_imports_nothing_heavy():
    code = (
        "import sys, io, contextlib\nimport console.cli\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n        console.cli.main(['--help'])\n    except SystemExit:\n        pass\n"
        "    console.cli.main([])\n"
    )
    assert heavy_in(imported_after(code)) == []


def test_the_pure_modules_import_nothing_heavy():
    mods = imported_after("import console.domain, console.workspace, console.errors, console.specs, console.lint")
    assert heavy_in(mods) == []


def test_help_runs_as_a_command():
    out = subprocess.run([sys.executable, "-m", "console.cli", "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    assert "lint" in out.stdout


def test_loading_azure_ml_leaves_no_stderr_handler():
    from console.specs import import_azure_ml

    import_azure_ml()
    for name, logger in logging.root.manager.loggerDict.items():
        if name.startswith("azure.ai.ml") and isinstance(logger, logging.Logger):
            streams = [h for h in logger.handlers if type(h) is logging.StreamHandler]
            assert streams == [], name


def test_loading_a_spec_writes_nothing_to_stderr(tmp_path):
    code = (
        "from console.specs import load\n"
        "load('specs/monitoring/churn-drift.yml'); load('specs/endpoints/blue-deployment.yml')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=__import__("pathlib").Path(__file__).resolve().parents[2])
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""
