"""`amlops endpoint invoke` exits as the CLI's other commands do: 2 when the request was wrong
(the client's own 4xx: malformed JSON, a deployment that is not there, a body over 1.5 MB, a 424
whose model answered 4xx), 1 when the deployment failed (5xx, a timeout, throttling, a 424 whose
model answered 5xx), 0 for an answer. Over the fake ARM for what a managed endpoint answers;
the table for the rest, by Azure's documented status codes."""

from __future__ import annotations

import pytest

from console.commands.endpoints import MODEL_ERROR_HEADER, invoke_exit_code
from console.domain import InvokeResult

from helpers import amlops_in_process

from fakes.arm import FakeArm
from fakes.azure import offline, profile_over_the_fake  # noqa: F401 (fixture)


@pytest.mark.parametrize("status, model_status, code", [
    (200, None, 0),
    (400, None, 2), (401, None, 2), (404, None, 2), (413, None, 2),
    (424, "400", 2), (424, "422", 2),
    (424, "500", 1), (424, "503", 1), (424, None, 1),
    (408, None, 1), (429, None, 1), (500, None, 1), (502, None, 1), (503, None, 1), (504, None, 1),
])
def test_the_exit_code_says_whose_error_it_was(status, model_status, code):
    headers = {MODEL_ERROR_HEADER: model_status} if model_status else {}
    assert invoke_exit_code(InvokeResult(status_code=status, body="{}", headers=headers)) == code


@pytest.fixture()
def fake(tmp_path, monkeypatch, offline):
    fake = FakeArm()
    profile_over_the_fake(fake, tmp_path, monkeypatch)
    return fake


def test_the_clients_own_errors_exit_2_on_a_real_endpoint_answer(fake, tmp_path):
    malformed = tmp_path / "malformed.json"
    malformed.write_text('{"input_data": [1, 2')
    bad = amlops_in_process("--workspace", "demo", "endpoint", "invoke", "churn-ep", "--request-file", str(malformed))
    assert (bad.returncode, bad.stderr.split(" from ")[0]) == (2, "400")
    good = tmp_path / "good.json"
    good.write_text('{"input_data": {"columns": ["tenure"], "data": [[3]]}}')
    unknown = amlops_in_process("--workspace", "demo", "endpoint", "invoke", "churn-ep", "--request-file", str(good),
                                "--deployment", "purple")
    assert (unknown.returncode, unknown.stderr.split(" from ")[0]) == (2, "404")
    scored = amlops_in_process("--workspace", "demo", "endpoint", "invoke", "churn-ep", "--request-file", str(good))
    assert scored.returncode == 0, scored.stderr
