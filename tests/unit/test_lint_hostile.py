"""Hostile YAML is refused before anything expands it: an alias bomb, a document that refers to
itself, nesting past reason, a file too big to be a spec, and a spec that points at any of these.
`amlops lint` and `specs.load` (which `amlops job submit` and `create` go through in the daemon)
refuse them with the file and line, and the CLI exits 2. pytest-timeout stops a regression that
spins instead of refusing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from console import specs
from console.errors import SpecError
from console.lint import lint

ROOT = Path(__file__).resolve().parents[2]
BROKEN = ROOT / "tests" / "fixtures" / "broken"
BOMB = BROKEN / "alias-bomb.yml"

pytestmark = pytest.mark.timeout(10)


def test_cli_refuses_the_alias_bomb_with_file_line_and_exit_2():
    done = subprocess.run([sys.executable, "-m", "console.cli", "lint", "tests/fixtures/broken/alias-bomb.yml"],
                          cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 2
    assert done.stdout.splitlines() == [
        ("tests/fixtures/broken/alias-bomb.yml:10: error invalid-spec over 100,000 nodes once its aliases "
         "are expanded (a 'billion laughs' alias bomb?): refused as hostile")]
    assert "Traceback" not in done.stderr


def test_load_refuses_the_alias_bomb_as_job_submit_would():
    with pytest.raises(SpecError) as refused:
        specs.load(BOMB, expect="job")
    assert (refused.value.file, refused.value.line) == (str(BOMB), 10)
    assert refused.value.exit_code == 2


def test_a_spec_pointing_at_a_bomb_is_refused_before_the_loader_reads_it():
    (finding,) = lint([BROKEN / "pipeline-bomb-component.yml"]).findings
    assert (finding.line, finding.rule, finding.field) == (6, "invalid-spec", "jobs.laugh.component")
    assert "alias-bomb.yml:10" in finding.message and "alias bomb" in finding.message
    with pytest.raises(SpecError, match="alias-bomb.yml:10"):
        specs.load(BROKEN / "pipeline-bomb-component.yml")


def test_a_document_that_refers_to_itself_is_refused(tmp_path):
    spec = tmp_path / "loop.yml"
    spec.write_text("command: echo\nloop: &loop\n  - *loop\n")
    with pytest.raises(SpecError) as refused:
        specs.read(spec)
    assert refused.value.line == 3 and "refers to its own anchor" in refused.value.message


def test_nesting_past_reason_is_refused(tmp_path):
    spec = tmp_path / "deep.yml"
    spec.write_text("command: " + "[" * (specs.MAX_DEPTH + 1) + "]" * (specs.MAX_DEPTH + 1) + "\n")
    with pytest.raises(SpecError, match="nested over 100 levels"):
        specs.read(spec)


def test_a_file_too_big_to_be_a_spec_is_refused_unread(tmp_path):
    spec = tmp_path / "huge.yml"
    spec.write_text("command: echo\n" + "#" * specs.MAX_FILE_BYTES + "\n")
    (finding,) = lint([spec]).findings
    assert (finding.rule, finding.line) == ("invalid-spec", 1)
    assert "over 1 MiB" in finding.message


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_an_endless_file_is_refused():
    with pytest.raises(SpecError, match="over 1 MiB"):
        specs.read("/dev/zero")


def test_anchors_and_aliases_within_reason_still_load(tmp_path):
    spec = tmp_path / "cluster.yml"
    spec.write_text("$schema: https://azuremlschemas.azureedge.net/latest/amlCompute.schema.json\n"
                    "name: &name cpu-cluster\n"
                    "type: amlcompute\n"
                    "size: Standard_DS3_v2\n"
                    "min_instances: 0\n"
                    "max_instances: 4\n"
                    "description: *name\n")
    assert lint([spec]).findings == []
    assert specs.load(spec).entity.description == "cpu-cluster"


def test_the_limits_are_far_above_real_specs():
    # the largest file of azureml-examples' cli/ tree is under 6 KB, 250 nodes, 10 levels deep
    assert specs.MAX_FILE_BYTES >= 100 * 6_000
    assert specs.MAX_NODES >= 100 * 250 and specs.MAX_DEPTH >= 5 * 10
