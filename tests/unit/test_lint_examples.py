"""`amlops lint` on real Azure/azureml-examples YAML: every error is one `az ml ... create -f`
would also give, and what the docs do on purpose (an endpoint from the command line, a batch
deployment by `type`, a template to fill in) is said as such. The files and why each is here:
tests/fixtures/azureml-examples/README.md."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from console import specs
from console.errors import SpecError
from console.lint import lint

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "tests" / "fixtures" / "azureml-examples"

pytestmark = pytest.mark.filterwarnings("ignore")  # azure-ai-ml's marshmallow and experimental notes


def findings(rel: str, **kwargs) -> set[tuple[int, str, str]]:
    return {(f.line, f.severity, f.rule) for f in lint([EXAMPLES / rel], **kwargs).findings}


def rules(rel: str, **kwargs) -> set[str]:
    return {rule for _, _, rule in findings(rel, **kwargs)}


# --- an endpoint (or name) from the command line ---------------------------------------------


def test_deployment_without_endpoint_name_is_a_warning_not_an_error():
    result = lint([EXAMPLES / "foundation-models/system/inference/fill-mask/deploy.yml"])
    (warning,) = [f for f in result.findings if f.rule == "from-command-line"]
    assert (warning.line, warning.severity, warning.field) == (1, "warning", "endpoint_name")
    assert "--endpoint-name" in warning.message
    assert not [f for f in result.findings if f.severity == "error"]
    assert result.exit_code == 0


def test_endpoint_name_on_the_command_line_fills_it_in():
    assert "from-command-line" not in rules("foundation-models/system/inference/fill-mask/deploy.yml",
                                            endpoint_name="fill-mask-ep")


def test_a_deployment_without_name_either_gets_one_warning_per_field():
    result = lint([EXAMPLES / "foundation-models/system/finetune/text-to-image/deploy.yaml"])
    missing = sorted(f.field for f in result.findings if f.rule == "from-command-line")
    assert missing == ["endpoint_name", "name"]
    assert result.exit_code == 0


def test_the_rest_of_a_deployment_without_endpoint_name_is_still_validated():
    # compute, like endpoint_name, comes from the example's script (--set compute=...): a warning,
    # and a stand-in lets the loader check the rest (a model batch deployment keeps this in settings)
    result = lint([EXAMPLES / "foundation-models/system/inference/image-classification/deploy-batch.yaml"],
                  overrides={"max_concurrency_per_instance": 2})
    errors = [(f.rule, f.message) for f in result.findings if f.severity == "error"]
    assert errors == [("invalid-spec", "max_concurrency_per_instance: Unknown field.")]
    assert {f.field for f in result.findings if f.rule == "from-command-line"} == {"endpoint_name", "compute"}
    assert result.exit_code == 2


def test_an_invalid_endpoint_name_from_the_command_line_is_named_as_such():
    result = lint([EXAMPLES / "foundation-models/system/inference/fill-mask/deploy.yml"], endpoint_name="fill_mask")
    (bad,) = [f for f in result.findings if f.rule == "invalid-name"]
    assert "'fill_mask' (from --endpoint-name)" in bad.message


def test_load_takes_the_endpoint_name_as_az_ml_does():
    path = EXAMPLES / "foundation-models/system/inference/fill-mask/deploy.yml"
    with pytest.raises(SpecError) as missing:
        specs.load(path)
    assert missing.value.field == "endpoint_name" and "--endpoint-name" in missing.value.message
    spec = specs.load(path, endpoint_name="fill-mask-ep")
    assert spec.entity.endpoint_name == "fill-mask-ep"
    assert spec.data["endpoint_name"] == "fill-mask-ep" and spec.data["name"] == "demo"


def test_endpoint_name_wins_over_the_file_and_set():
    path = EXAMPLES / "endpoints/batch/deploy-pipelines/hello-batch/deployment.yml"
    spec = specs.load(path, {"endpoint_name": "from-set"}, endpoint_name="from-flag")
    assert spec.entity.endpoint_name == "from-flag"


def test_endpoint_name_is_refused_for_a_spec_that_is_not_a_deployment():
    with pytest.raises(SpecError) as refused:
        specs.load(EXAMPLES / "resources/registry/registry.yml", endpoint_name="ep")
    assert refused.value.field == "--endpoint-name" and "registry" in refused.value.message


# --- batch deployments: the loader by `type`, as `az ml batch-deployment create` ------------


@pytest.mark.parametrize(("rel", "entity"), [
    ("endpoints/batch/deploy-models/heart-classifier-mlflow/deployment-simple/deployment.yml", "ModelBatchDeployment"),
    ("endpoints/batch/deploy-pipelines/hello-batch/deployment.yml", "PipelineComponentBatchDeployment"),
])
def test_batch_deployment_settings_are_valid_for_its_type(rel, entity):
    assert "invalid-spec" not in rules(rel)
    assert type(specs.load(EXAMPLES / rel).entity).__name__ == entity


# --- templates --------------------------------------------------------------------------------


def test_an_unquoted_sed_placeholder_is_a_template_not_a_yaml_error():
    result = lint([EXAMPLES / "endpoints/online/custom-container/minimal/multimodel/minimal-multimodel-deployment.yml"])
    assert [(f.line, f.severity, f.rule) for f in result.findings] == [
        (4, "error", "template-placeholder"), (13, "error", "template-placeholder")]
    assert result.findings[0].message == "'{{ENDPOINT_NAME}}' is a template placeholder: fill it in before create"
    assert result.exit_code == 1


def test_a_quoted_placeholder_replaces_the_pattern_and_name_errors():
    assert findings("endpoints/online/custom-container/minimal/multimodel/minimal-multimodel-endpoint.yml") == {
        (3, "error", "template-placeholder")}


def test_angle_bracket_placeholders_in_names_and_values():
    rel = "endpoints/online/managed/keyvault/keyvault-deployment.yml"
    holes = {(f.line, f.field) for f in lint([EXAMPLES / rel]).findings if f.rule == "template-placeholder"}
    assert holes == {(4, "endpoint_name"), (14, "environment_variables.KV_SECRET_MULTIPLIER")}
    assert "invalid-name" not in rules(rel)
    # --endpoint-name fills the first one in, as `az ml ... --endpoint-name` would
    filled = lint([EXAMPLES / rel], endpoint_name="kv-ep").findings
    assert {f.line for f in filled if f.rule == "template-placeholder"} == {14}


def test_placeholders_in_arm_ids_are_one_finding_per_line():
    result = lint([EXAMPLES / "resources/workspace/with-existing-resources.yml"])
    assert {(f.line, f.rule) for f in result.findings} == {(n, "template-placeholder") for n in (7, 8, 9, 10)}
    assert "'<SUBSCRIPTION_ID>', '<RESOURCE_GROUP>' and '<STORAGE_ACCOUNT>' are template placeholders" in \
        result.findings[0].message


def test_a_spelled_out_placeholder_replaces_the_loader_error():
    assert findings("jobs/nebulaml/cifar10_deepspeed/job.yml") == {
        (9, "error", "template-placeholder"), (19, "error", "template-placeholder")}


def test_create_refuses_a_template():
    with pytest.raises(SpecError) as refused:
        specs.load(EXAMPLES / "resources/workspace/with-existing-resources.yml")
    assert refused.value.line == 7 and "template placeholder" in refused.value.message
    with pytest.raises(SpecError) as unparsed:
        specs.load(EXAMPLES / "endpoints/online/custom-container/minimal/multimodel/minimal-multimodel-deployment.yml")
    assert unparsed.value.line == 4 and "'{{ENDPOINT_NAME}}' is a template placeholder" in unparsed.value.message


def test_shell_variables_count_in_names_and_bindings_only_where_azure_does_not_bind(tmp_path):
    spec = tmp_path / "endpoint.yml"
    spec.write_text("$schema: https://azuremlschemas.azureedge.net/latest/managedOnlineEndpoint.schema.json\n"
                    "name: $ENDPOINT_NAME\n"
                    "description: set ${{ENDPOINT}} and <ENDPOINT_NAME> first  # prose is not a template\n"
                    "auth_mode: key\n"
                    "tags:\n"
                    "  owner: ${{OWNER}}\n")
    assert {(f.line, f.rule) for f in lint([spec]).findings} == {
        (2, "template-placeholder"), (6, "template-placeholder")}
    job = tmp_path / "job.yml"
    job.write_text("$schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json\n"
                   "command: echo ${{inputs.greeting}} $HOME\n"
                   "environment: azureml:churn-train-env:1\n"
                   "inputs:\n"
                   "  greeting: hello\n")
    assert lint([job]).findings == []


# --- what azure-ai-ml really refuses stays an error ---------------------------------------------


PACKAGES = "endpoints/online/deploy-with-packages/custom-model"


@pytest.mark.parametrize(("rel", "line", "rule", "words"), [
    (f"{PACKAGES}/model-deployment.yml", 3, "invalid-name", "regular_deployment"),
    ("jobs/pipelines-with-components/basics/6c_r_iris/component.yml", 6, "invalid-spec", "r-iris-example"),
    ("jobs/deepspeed/deepspeed-autotuning/job.yml", 1, "invalid-spec", "empty"),
])
def test_real_errors_stay_errors(rel, line, rule, words):
    errors = [f for f in lint([EXAMPLES / rel]).findings if f.severity == "error"]
    assert [(f.line, f.rule) for f in errors] == [(line, rule)]
    assert words in errors[0].message


def test_a_union_error_is_reported_for_the_alternative_the_file_names():
    result = lint([EXAMPLES / "monitoring/generation-safety-quality-monitoring.yaml"])
    signal = "create_monitor.monitoring_signals.testSignal"
    assert sorted(f.field for f in result.findings if f.rule == "invalid-spec") == [
        f"{signal}.production_data.0.data_window_size", f"{signal}.production_data.1.data_window_size",
        f"{signal}.workspace_connection_id"]
    assert not any("data_drift" in f.message for f in result.findings)


@pytest.mark.parametrize(("rel", "kind"), [
    ("resources/registry/registry.yml", "registry"),
    ("resources/compute/attached-spark.yml", "compute"),
])
def test_specs_without_schema_are_recognised_by_their_keys(rel, kind):
    assert specs.kind_of(specs.read(EXAMPLES / rel)) == kind
    assert not rules(rel) & {"unknown-kind", "invalid-spec"}


def test_cli_endpoint_name_option():
    deploy = "tests/fixtures/azureml-examples/foundation-models/system/inference/fill-mask/deploy.yml"
    from helpers import amlops_in_process

    bare = amlops_in_process("lint", "--json", deploy)
    given = amlops_in_process("lint", "--json", "--endpoint-name", "fill-mask-ep", deploy)
    assert (bare.returncode, given.returncode) == (0, 0), bare.stderr + given.stderr
    assert "from-command-line" in {f["rule"] for f in json.loads(bare.stdout)["findings"]}
    assert "from-command-line" not in {f["rule"] for f in json.loads(given.stdout)["findings"]}
    assert "Traceback" not in bare.stderr + given.stderr
