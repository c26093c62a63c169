"""Bad input on the command line: a clear message (the file and line, or the option), exit 2,
at once, and nothing changed. And a
reader that goes away (`amlops job list | head -1`) ends the command quietly."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import subprocess
import sys

import pytest

from console import cli, specs
from console.errors import SpecError, describe

from helpers import REPO

TRAIN_JOB = str(REPO / "specs" / "jobs" / "train-job.yml")


@pytest.fixture()
def root(empty_workspace):
    """A workspace folder not made yet (conftest stops whatever a failing test started in it)."""
    return empty_workspace.folder.root


def amlops(root, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(["--workspace-dir", str(root), *argv])
    return code, out.getvalue(), err.getvalue()


# --- job submit --set inputs.TYPO, names: file:line:field from the backend's load ------------------
# The backend's specs.load refuses them (the local daemon audits the refusal, as every refused
# write; tests/integration/test_local_reliability.py drives it through the CLI), and the CLI
# prints errors.describe of what it raised.


def refused(path, overrides=None, **kw) -> SpecError:
    with pytest.raises(SpecError) as raised:
        specs.load(path, overrides, **kw)
    return raised.value


def test_a_set_of_an_input_the_job_does_not_have_is_refused_naming_its_inputs():
    err = refused(TRAIN_JOB, {"inputs.reg_rat": 0.1}, expect="job")
    assert describe(err).startswith(f"{TRAIN_JOB}:5: inputs.reg_rat: this job has no input 'reg_rat' "
                                    "(its inputs: reg_rate, training_data)")
    specs.load(TRAIN_JOB, {"inputs.reg_rate": 0.1, "inputs.training_data.path": "azureml:churn_features:2"},
               expect="job")


def test_an_input_bound_in_the_command_but_not_declared_may_be_set(tmp_path):
    spec = tmp_path / "job.yml"
    spec.write_text("$schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json\n"
                    "command: echo ${{inputs.epochs}}\nenvironment: azureml:env:1\n")
    specs.load(spec, {"inputs.epochs": 3})
    assert "no input 'epoch' (its inputs: epochs)" in refused(spec, {"inputs.epoch": 3}).message


@pytest.mark.parametrize("spec, kind", [
    ("compute/cpu-cluster.yml", "compute"),
    ("endpoints/churn-ep.yml", "endpoint"),
    ("endpoints/blue-deployment.yml", "deployment"),
])
def test_a_name_azure_refuses_is_named_with_its_file_and_line(spec, kind, tmp_path):
    text = (REPO / "specs" / spec).read_text()
    line = next(n for n, row in enumerate(text.splitlines(), start=1) if row.startswith("name:"))
    bad = tmp_path / spec.replace("/", "-")
    bad.write_text("\n".join("name: 9bad" if row.startswith("name:") else row for row in text.splitlines()))
    err = refused(bad)
    assert (err.line, err.field) == (line, "name")
    assert describe(err).startswith(f"{bad}:{line}: name: {kind} name '9bad' breaks Azure's rule")


def test_a_name_from_the_command_line_is_named_as_such():
    err = refused(REPO / "specs" / "endpoints" / "blue-deployment.yml", endpoint_name="1-ep")
    assert err.field == "endpoint_name" and "endpoint name '1-ep' breaks Azure's rule" in err.message
    assert "given on the command line" in err.message


# --- --workspace-dir that cannot hold a workspace ------------------------------------------------


def test_a_workspace_dir_that_is_a_file_is_refused(tmp_path, monkeypatch):
    afile = tmp_path / "notes.txt"
    afile.write_text("not a folder")
    code, _, err = amlops(afile, "job", "list")
    assert (code, err) == (2, f"amlops: error: --workspace-dir: {afile} is a file, not a folder: "
                              "a local workspace is a folder\n")
    code, _, err = amlops(afile / "ws", "job", "list")
    assert code == 2 and f"{afile / 'ws'} cannot be created: {afile} is a file" in err
    monkeypatch.setenv("AMLOPS_WORKSPACE_DIR", str(afile))
    with contextlib.redirect_stderr(io.StringIO()) as err:
        assert cli.main(["job", "list"]) == 2
    assert "AMLOPS_WORKSPACE_DIR: " in err.getvalue()
    assert afile.read_text() == "not a folder"


def _as_unprivileged() -> list[str]:
    """A command prefix under which file permissions hold: root's override dropped (root reads
    and writes a folder whatever its mode)."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: permissions cannot be made to hold")
    return ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]


@pytest.mark.parametrize("where", ["folder", "inside"])
def test_a_workspace_dir_that_cannot_be_written_is_refused(where, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    target = locked if where == "folder" else locked / "ws"
    done = subprocess.run([*_as_unprivileged(), sys.executable, "-m", "console.cli", "--workspace-dir", str(target),
                           "job", "list"], capture_output=True, text=True, cwd=REPO, timeout=30)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("amlops: error: --workspace-dir: ") and "not writable by this user" in done.stderr
    assert "Traceback" not in done.stderr
    assert list(locked.iterdir()) == [] and (locked.stat().st_mode & 0o777) == 0o500


# --- a reader that goes away ---------------------------------------------------------------------


def test_a_closed_pipe_on_stdout_ends_the_command_quietly(tmp_path):
    read, write = os.pipe()
    os.close(read)  # the reader is gone before the first line, as `| head -0` would be
    try:
        done = subprocess.run([sys.executable, "-m", "console.cli", "--workspace-dir", str(tmp_path / "ws"),
                               "local", "status"], stdout=write, stderr=subprocess.PIPE, text=True, cwd=REPO,
                              timeout=30)
    finally:
        os.close(write)
    assert done.stderr == ""  # no BrokenPipeError, no "Exception ignored"
    assert done.returncode == 1


# --- typos after a lazily built command ----------------------------------------------------------


# Where argparse might read a command line otherwise than the lazy build expects: typos at each
# level, help before the command, `--`, options with values (spelt both ways) before it.
COMMAND_LINES = [
    ["job", "lsit"], ["endpoint", "trafic", "churn-ep"], ["deployment", "lsit"], ["jbo", "list"],
    ["--read-only", "quota", "lst"], ["-h", "job"], ["--help", "endpoint"], ["--", "job", "list"],
    ["--workspace-dir", "job", "endpoint", "lsit"], ["--workspace=azure", "monitor", "rnu"],
]


def test_the_lazy_parser_reads_every_command_line_as_the_whole_tree_does():
    def parsed(argv: list[str], full: bool):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                args = cli.build_parser(argv, full=full).parse_args(argv)
                result = sorted((k, repr(v)) for k, v in vars(args).items())
            except SystemExit as exit_:
                result = exit_.code
        return result, out.getvalue(), err.getvalue()

    for argv in COMMAND_LINES:
        lazy = parsed(argv, full=False)
        assert lazy == parsed(argv, full=True), argv
        if argv[0] not in ("-h", "--help"):
            assert lazy[0] == 2 and "invalid choice" in lazy[2], argv
