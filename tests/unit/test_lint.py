"""`amlops lint`: every broken fixture gives one precise line per problem, the demo specs are clean,
and real-world Azure ML YAML never crashes it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from console.domain import VmSize
from console.lint import LintContext, lint

from helpers import amlops_in_process

ROOT = Path(__file__).resolve().parents[2]
BROKEN = ROOT / "tests" / "fixtures" / "broken"


def found(name: str, context: LintContext | None = None) -> set[tuple[int, str, str]]:
    return {(f.line, f.severity, f.rule) for f in lint([BROKEN / name], context).findings}


def test_demo_specs_lint_clean():
    result = lint([ROOT / "specs"])
    assert result.findings == []
    assert result.exit_code == 0


@pytest.mark.parametrize(
    ("name", "expected", "exit_code"),
    [
        ("syntax-error.yml", {(3, "error", "invalid-spec")}, 2),
        ("bad-type.yml", {(6, "error", "invalid-spec")}, 2),
        ("unknown-field.yml", {(5, "error", "invalid-spec")}, 2),
        ("not-a-spec.yml", {(1, "error", "invalid-spec")}, 2),
        ("unpinned-job.yml", {(8, "warning", "unpinned-version"), (9, "warning", "unpinned-version")}, 0),
        ("always-on-cluster.yml", {(5, "warning", "cluster-min-instances")}, 0),
        ("instance-no-shutdown.yml", {(2, "warning", "instance-no-idle-shutdown")}, 0),
        ("deployment-bare.yml", {(2, "warning", "deployment-no-probes"),
                                 (2, "warning", "deployment-no-data-collection")}, 0),
        ("datastore-with-key.yml", {(8, "error", "secret-in-spec")}, 1),
        ("secrets-in-comments.yml", {(6, "error", "secret-in-spec"), (7, "error", "secret-in-spec"),
                                     (8, "error", "secret-in-spec")}, 1),
        ("bad-names.yml", {(2, "error", "invalid-name"), (2, "warning", "deployment-no-probes"),
                           (2, "warning", "deployment-no-data-collection")}, 1),
    ],
)
def test_each_broken_fixture_gives_its_findings(name, expected, exit_code):
    result = lint([BROKEN / name])
    assert {(f.line, f.severity, f.rule) for f in result.findings} == expected
    assert result.exit_code == exit_code


def test_invalid_spec_names_the_field_and_line():
    (finding,) = lint([BROKEN / "deployment-bad-timeout.yml"]).findings[-1:]
    assert finding.format() == (
        f"{BROKEN / 'deployment-bad-timeout.yml'}:8: error invalid-spec "
        "request_settings.request_timeout_ms: Not a valid integer."
    )


def test_a_probe_finding_per_missing_probe():
    fields = sorted(f.field for f in lint([BROKEN / "deployment-bare.yml"]).findings
                    if f.rule == "deployment-no-probes")
    assert fields == ["liveness_probe", "readiness_probe"]


def test_traffic_to_a_deployment_created_beside_the_endpoint_is_an_error():
    alone = found("endpoint-traffic-first.yml")
    assert alone == set()  # without the deployment's spec or a workspace, nothing is known
    together = lint([BROKEN / "endpoint-traffic-first.yml", BROKEN / "deployment-bare.yml"]).findings
    assert any(f.rule == "traffic-to-new-deployment" and f.line == 5 for f in together)


def test_traffic_to_a_deployment_missing_from_the_workspace_is_an_error():
    missing = found("endpoint-traffic-first.yml", LintContext(existing_deployments={"churn-ep": frozenset()}))
    assert missing == {(5, "error", "traffic-to-new-deployment")}
    present = found("endpoint-traffic-first.yml",
                    LintContext(existing_deployments={"churn-ep": frozenset({"bare"})}))
    assert present == set()


GPU = VmSize("Standard_NC6s_v3", "standardNCSv3Family", vcpus=6, gpus=1, memory_gb=112)
CPU = VmSize("Standard_DS3_v2", "standardDSv2Family", vcpus=4, gpus=0, memory_gb=14)


def test_gpu_size_without_quota_is_an_error_once_a_workspace_is_known():
    spec = ROOT / "specs" / "compute" / "gpu-cluster.yml"
    sizes = {GPU.name: GPU, CPU.name: CPU}
    assert lint([spec]).findings == []  # no workspace: unknown quota is not a finding
    zero = lint([spec], LintContext(quota_limits={"standardNCSv3Family": 0}, sizes=sizes, region="local"))
    assert [(f.rule, f.severity) for f in zero.findings] == [("gpu-no-quota", "error")]
    assert "standardNCSv3Family" in zero.findings[0].message and "local" in zero.findings[0].message
    granted = lint([spec], LintContext(quota_limits={"standardNCSv3Family": 24}, sizes=sizes))
    assert granted.findings == []


def test_gpu_quota_finding_says_where_this_workspace_raises_it():
    spec = ROOT / "specs" / "compute" / "gpu-cluster.yml"
    advice = lambda family: f'Raise it: set "quotas": {{"{family}": N}} in /ws/config.json.'  # noqa: E731
    zero = lint([spec], LintContext(quota_limits={}, sizes={GPU.name: GPU}, how_to_raise=advice))
    assert zero.findings[0].message.endswith('raise it: set "quotas": {"standardNCSv3Family": N} in /ws/config.json.')


def test_secret_values_are_not_echoed_in_findings():
    for finding in lint([BROKEN / "secrets-in-comments.yml", BROKEN / "datastore-with-key.yml"]).findings:
        assert "abc123" not in finding.message and "Q~" not in finding.message and "==" not in finding.message


def test_references_and_placeholders_are_not_secrets(tmp_path):
    spec = tmp_path / "job.yml"
    spec.write_text(
        "$schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json\n"
        "command: python x.py --key ${{inputs.key}}\n"
        "environment: azureml:churn-train-env:1\n"
        "compute: azureml:cpu-cluster\n"
        "environment_variables:\n"
        "  password: ${{secrets.PASSWORD}}\n"
        "inputs:\n"
        "  key: primary\n"
    )
    assert [f for f in lint([spec]).findings if f.rule == "secret-in-spec"] == []


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return amlops_in_process(*args)


def test_cli_exit_codes_and_formats():
    clean = run_cli("lint", "specs/")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert clean.stdout == ""
    broken = run_cli("lint", "tests/fixtures/broken")
    assert broken.returncode == 2
    assert "Traceback" not in broken.stdout + broken.stderr
    lines = broken.stdout.splitlines()
    assert "tests/fixtures/broken/bad-type.yml:6: error invalid-spec max_instances: Not a valid integer." in lines
    secrets_only = run_cli("lint", "--json", "tests/fixtures/broken/datastore-with-key.yml")
    assert secrets_only.returncode == 1
    payload = json.loads(secrets_only.stdout)
    assert payload["exit_code"] == 1
    assert payload["findings"][0]["rule"] == "secret-in-spec"
    assert payload["findings"][0]["line"] == 8


def test_cli_missing_file_is_bad_input():
    missing = run_cli("lint", "nowhere.yml")
    assert missing.returncode == 2
    assert missing.stdout.strip() == "nowhere.yml:1: error invalid-spec file not found"


EXAMPLES = ROOT / "tests" / "fixtures" / "azureml-examples"


def test_real_world_azureml_yaml_never_crashes_the_linter():
    files = sorted(p for p in EXAMPLES.rglob("*") if p.suffix in (".yml", ".yaml") or p.name == "MLTable")
    assert len(files) >= 10
    result = lint([EXAMPLES])  # must not raise
    assert result.files == len(files)
    for finding in result.findings:
        assert finding.line >= 1 and finding.rule and finding.message
