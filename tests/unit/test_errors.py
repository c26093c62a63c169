"""`console.errors.describe` renders an error whole: where a spec is wrong (file, line, field)
survives into every message the console, the CLI and the audit show."""

from __future__ import annotations

from console.errors import BackendUnavailable, InvalidField, NotFound, SpecError, describe


def test_a_spec_error_keeps_its_file_line_and_field():
    assert describe(SpecError("x.yml", 12, "inputs.reg_rate", "not a number")) == \
        "x.yml:12: inputs.reg_rate: not a number"
    assert describe(SpecError("x.yml", None, None, "file not found")) == "x.yml: file not found"
    assert describe(SpecError("--set", None, "inputs.reg_rate", "expected KEY=VALUE")) == \
        "--set: inputs.reg_rate: expected KEY=VALUE"


def test_a_typed_error_reads_as_the_cli_prints_it():
    for err in (InvalidField("name", "3 to 32 characters"), NotFound("job", "x"), BackendUnavailable("daemon down")):
        assert describe(err) == str(err)
    assert describe(InvalidField("name", "3 to 32 characters")) == "name: 3 to 32 characters"


def test_anything_else_is_named_by_its_type():
    assert describe(KeyError("model")) == "KeyError: 'model'"
    assert describe(RuntimeError()) == "RuntimeError"
