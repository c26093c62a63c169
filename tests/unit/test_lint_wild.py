"""`amlops lint` on YAML nobody here wrote (issue 16): Azure/azureml-examples' `cli/` tree and
azure-ai-ml's own test YAML. Hostile nesting is refused, not a crash; a field only the command
line gives is a warning and `--set` gives it; connections are told from datastores; a key given
twice is said; what is not an Azure ML spec is said plainly; the C parser reads the YAML.
The files and where they come from: tests/fixtures/azureml-examples/README.md and
tests/fixtures/azure-ai-ml/README.md."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml

from console import lint as lint_module
from console import specs
from console.errors import SpecError
from console.lint import lint

from helpers import amlops_in_process

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "tests" / "fixtures" / "azureml-examples"
SDK = ROOT / "tests" / "fixtures" / "azure-ai-ml"
BATCH = EXAMPLES / "foundation-models/system/inference/image-classification/deploy-batch.yaml"

pytestmark = [pytest.mark.filterwarnings("ignore"), pytest.mark.timeout(60)]


def rules(*paths: Path, **kwargs) -> set[tuple[int, str, str]]:
    return {(f.line, f.severity, f.rule) for f in lint(list(paths), **kwargs).findings}


# --- 1. nesting past reason is hostile, never a crash -------------------------------------------


@pytest.mark.parametrize("text", [
    "[" * 1001 + "\n",  # unclosed: libyaml stops at its own limit before a single event
    "[" * 1001 + "]" * 1001 + "\n",
    "command: " + "{a: " * 1001 + "1" + "}" * 1001 + "\n",
    "- " * 1001 + "x\n",
    "".join(" " * i + f"k{i}:\n" for i in range(1001)) + " " * 1001 + "v: 1\n",
], ids=["open-brackets", "closed-brackets", "flow-mappings", "block-sequences", "block-mappings"])
def test_a_thousand_levels_of_nesting_are_refused_as_hostile(tmp_path, text):
    spec = tmp_path / "deep.yml"
    spec.write_text(text)
    started = time.perf_counter()
    with pytest.raises(SpecError, match="nested over 100 levels deep: refused as hostile"):
        specs.read(spec)
    assert time.perf_counter() - started < 1.0


def test_the_cli_refuses_deep_nesting_with_exit_2_and_keeps_linting_the_folder(tmp_path):
    (tmp_path / "deep.yml").write_text("[" * 1001 + "\n")
    (tmp_path / "keyed.yml").write_text("$schema: https://azuremlschemas.azureedge.net/latest/azureBlob.schema.json\n"
                                        "name: keyed\ntype: azure_blob\naccount_name: acct\ncontainer_name: c\n"
                                        "credentials:\n  account_key: abc123abc123\n")
    alone = amlops_in_process("lint", str(tmp_path / "deep.yml"))
    assert alone.returncode == 2 and "Traceback" not in alone.stderr
    assert alone.stdout.strip() == f"{tmp_path / 'deep.yml'}:1: error invalid-spec nested over 100 levels deep: refused as hostile"
    folder = amlops_in_process("lint", "--json", str(tmp_path))
    assert folder.returncode == 2 and "Traceback" not in folder.stderr
    found = {(Path(f["file"]).name, f["rule"]) for f in json.loads(folder.stdout)["findings"]}
    assert found == {("deep.yml", "invalid-spec"), ("keyed.yml", "secret-in-spec")}


def test_one_file_that_breaks_lint_does_not_hide_the_others(tmp_path, monkeypatch):
    (tmp_path / "a.yml").write_text("command: echo\n")
    (tmp_path / "b.yml").write_text("$schema: https://azuremlschemas.azureedge.net/latest/azureBlob.schema.json\n"
                                    "name: b\ntype: azure_blob\naccount_name: acct\ncontainer_name: c\n"
                                    "credentials:\n  account_key: abc123abc123\n")
    real = lint_module._secrets

    def breaks_on_a(doc):
        if doc.path.endswith("a.yml"):
            raise RecursionError("maximum recursion depth exceeded")
        return real(doc)

    monkeypatch.setattr(lint_module, "_secrets", breaks_on_a)
    result = lint([tmp_path])
    assert {(Path(f.file).name, f.rule) for f in result.findings} == {("a.yml", "lint-failed"), ("b.yml", "secret-in-spec")}
    assert "RecursionError" in result.findings[0].message and result.exit_code == 2


# --- 2. a field only the command line gives: a warning, and `--set` gives it --------------------


def test_batch_compute_left_to_the_command_line_is_a_warning_like_endpoint_name():
    result = lint([BATCH])
    assert {(f.field, f.severity, f.rule) for f in result.findings} == {
        ("endpoint_name", "warning", "from-command-line"), ("compute", "warning", "from-command-line")}
    (compute,) = [f for f in result.findings if f.field == "compute"]
    assert "--set compute=NAME" in compute.message and "az ml batch-deployment create" in compute.message
    assert result.exit_code == 0


def test_set_gives_compute_as_the_examples_script_does():
    # image-classification-batch-endpoint.sh: az ml batch-deployment create --file ./deploy-batch.yaml --set \
    #   endpoint_name=... model=... compute=$deployment_compute name=$deployment_name
    result = lint([BATCH], overrides={"endpoint_name": "ic-batch-ep", "compute": "cpu-cluster", "name": "demo"})
    assert result.findings == [] and result.exit_code == 0


def test_set_values_reach_the_loader():
    result = lint([BATCH], overrides={"compute": "cpu-cluster", "instance_count": "many"}, endpoint_name="ep")
    assert [(f.rule, f.field) for f in result.findings] == [("invalid-spec", "instance_count")]


def test_a_pipeline_batch_deployment_names_its_compute_in_settings_not_on_the_command_line():
    rel = "endpoints/batch/deploy-pipelines/hello-batch/deployment.yml"
    assert "from-command-line" not in {rule for _, _, rule in rules(EXAMPLES / rel)}


def test_cli_set_takes_several_pairs_as_az_ml_does():
    bare = amlops_in_process("lint", "--json", str(BATCH))
    given = amlops_in_process("lint", "--json", str(BATCH), "--set", "compute=cpu-cluster", "name=demo",
                              "endpoint_name=ic-batch-ep")
    assert (bare.returncode, given.returncode) == (0, 0), bare.stderr + given.stderr
    assert {f["field"] for f in json.loads(bare.stdout)["findings"]} == {"compute", "endpoint_name"}
    assert json.loads(given.stdout)["findings"] == []


def test_cli_set_refuses_what_is_not_key_value_naming_it(capsys):
    from console.cli import main

    with pytest.raises(SystemExit) as refused:  # argparse's usage error: the path went to --set
        main(["lint", "--set", "compute=cpu-cluster", str(BATCH)])
    assert refused.value.code == 2
    err = capsys.readouterr().err
    assert "expected KEY=VALUE" in err and "put PATHs before --set" in err


# --- 3. connections and datastores of the same type -----------------------------------------------


@pytest.mark.parametrize(("path", "kind"), [
    (SDK / "connection/blob_store_entra.yaml", "connection"),  # url + container_name + account_name, no $schema
    (SDK / "connection/alds_gen2_entra.yaml", "connection"),  # target, no $schema
    (EXAMPLES / "resources/datastore/blob.yml", "datastore"),  # $schema azureBlob, account_name + container_name
    (SDK / "datastore/credential_less_one_lake.yml", "datastore"),
    (SDK / "datastore/hdfs_kerberos_pw.yml", "datastore"),
])
def test_connections_and_datastores_are_told_apart(path, kind):
    assert specs.kind_of(specs.read(path)) == kind


def test_an_azure_blob_connection_loads_as_a_connection():
    for name in ("blob_store_entra.yaml", "alds_gen2_entra.yaml"):
        assert rules(SDK / "connection" / name) == set(), name


def test_an_azure_blob_datastore_loads_as_a_datastore():
    # the example's account key is a (masked) key in a spec: the one finding, and a true one
    assert rules(EXAMPLES / "resources/datastore/blob.yml") == {(9, "error", "secret-in-spec")}


def test_schema_wins_over_fields(tmp_path):
    spec = tmp_path / "conn.yml"
    spec.write_text("$schema: http://azureml/sdk-2-0/Connection.json\nname: c\ntype: azure_blob\n"
                    "container_name: c\naccount_name: a\n")
    assert specs.kind_of(specs.read(spec)) == "connection"
    store = tmp_path / "store.yml"
    store.write_text("name: s\ntype: azure_data_lake_gen2\naccount_name: a\nfilesystem: fs\n")
    assert specs.kind_of(specs.read(store)) == "datastore"


# Every `type` azure-ai-ml 1.35.2's connection schemas take (test_the_connection_types_are_azure_ai_mls).
CONNECTION_TYPES = (
    "api_key", "azure_ai_search", "azure_ai_services", "azure_blob", "azure_content_safety",
    "azure_data_lake_gen2", "azure_my_sql_db", "azure_one_lake", "azure_open_ai", "azure_postgres_db",
    "azure_speech_services", "azure_sql_db", "azure_synapse_analytics", "container_registry", "custom",
    "git", "open_ai", "python_feed", "s3", "serp", "serverless", "snowflake")


@pytest.mark.parametrize("conn_type", CONNECTION_TYPES)
def test_every_connection_type_azure_ai_ml_takes_is_a_connection(tmp_path, conn_type):
    spec = tmp_path / "conn.yml"
    spec.write_text(f"name: c\ntype: {conn_type}\ntarget: https://example.com\n")
    assert specs.kind_of(specs.read(spec)) == "connection"


def test_the_connection_types_are_azure_ai_mls():
    specs.import_azure_ml()
    from azure.ai.ml._schema.workspace.connections import workspace_connection
    from azure.ai.ml.entities import WorkspaceConnection

    base = workspace_connection.WorkspaceConnectionSchema
    schemas = {base, *_subclasses(base)}
    taken = {value for schema in schemas
             for value in getattr(schema(context={"base_path": "."}).fields["type"], "allowed_values", [])}
    assert taken == set(CONNECTION_TYPES)
    assert WorkspaceConnection  # the entity every one of them loads into


def _subclasses(cls: type) -> set[type]:
    out = set(cls.__subclasses__())
    for sub in list(out):
        out |= _subclasses(sub)
    return out


# --- 4. a key given twice ----------------------------------------------------------------------------


def test_a_key_given_twice_is_a_warning_naming_both_lines(tmp_path):
    job = tmp_path / "job.yml"
    job.write_text("$schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json\n"
                   "command: python train.py --epochs 10\n"
                   "environment: azureml:churn-train-env:1\n"
                   "compute: azureml:cpu-cluster\n"
                   "inputs:\n"
                   "  epochs: 1\n"
                   "  epochs: 2\n"
                   "command: echo the first command is gone\n")
    result = lint([job])
    dups = [(f.line, f.severity, f.field) for f in result.findings if f.rule == "duplicate-key"]
    assert dups == [(7, "warning", "inputs.epochs"), (8, "warning", "command")]
    command = next(f for f in result.findings if f.field == "command")
    assert "lines 2 and 8" in command.message and "keeps the last" in command.message
    doc = specs.read(job)
    assert doc.data["command"].startswith("echo") and doc.line_of("command") == 8


def test_a_real_duplicate_in_the_examples():
    path = EXAMPLES / "endpoints/online/triton/single-model/olive_model_analyzer/config_bert_olive_analyze.yml"
    (dup,) = [f for f in lint([path]).findings if f.rule == "duplicate-key"]
    assert (dup.line, dup.field) == (17, "checkpoint_directory") and "lines 5 and 17" in dup.message


def test_merge_keys_are_not_duplicates(tmp_path):
    spec = tmp_path / "env.yml"
    spec.write_text("base: &base\n  image: x\n  description: y\n"
                    "environment:\n  <<: *base\n  description: z\n")
    assert specs.read(spec).duplicates == ()


# --- 5. what it is, said plainly ---------------------------------------------------------------------


def test_unknown_kind_names_the_schema_or_type_it_does_not_know(tmp_path):
    schema = tmp_path / "schema.yml"
    schema.write_text("$schema: https://azuremlschemas.azureedge.net/latest/quantumJob.schema.json\nname: q\n")
    (finding,) = lint([schema]).findings
    assert finding.rule == "unknown-kind"
    assert "$schema https://azuremlschemas.azureedge.net/latest/quantumJob.schema.json is not" in finding.message
    typed = tmp_path / "typed.yml"
    typed.write_text("name: q\ntype: quantum\n")
    (finding,) = lint([typed]).findings
    assert "type 'quantum' is not" in finding.message and "no $schema" not in finding.message


@pytest.mark.parametrize("rel", [
    "generative-ai/promptflow/basic-chat/flow.dag.yaml",
    "endpoints/online/deploy-with-packages/mlflow-model/package.yml",
])
def test_promptflow_files_and_model_packages_are_said_to_be_not_checked(rel):
    (finding,) = lint([EXAMPLES / rel]).findings
    assert (finding.severity, finding.rule) == ("info", "not-checked")
    assert "not an Azure ML asset spec, so not checked" in finding.message
    with pytest.raises(SpecError, match="not an Azure ML asset spec"):
        specs.load(EXAMPLES / rel)


@pytest.mark.parametrize(("rel", "kind"), [
    ("workspace/ai_workspaces/aihub_min.yml", "workspace"),  # kind: hub
    ("model/model_minimal.yml", "model"),  # no type, no $schema
    ("datastore/credential_less_one_lake.yml", "datastore"),
])
def test_what_azure_ai_ml_loads_is_loaded(rel, kind):
    assert specs.kind_of(specs.read(SDK / rel)) == kind
    assert rules(SDK / rel) == set()


def test_hdfs_is_checked_against_its_schema_and_said_to_be_a_preview():
    result = lint([SDK / "datastore/hdfs_kerberos_pw.yml"])
    assert {(f.line, f.severity, f.rule) for f in result.findings} == {
        (3, "warning", "preview-only"), (11, "error", "secret-in-spec")}


def test_hdfs_unknown_fields_are_errors(tmp_path):
    spec = tmp_path / "hdfs.yml"
    spec.write_text("name: h\ntype: hdfs\nname_node_address: nn\nprotocol: http\nflavour: x\n")
    assert {(f.line, f.rule, f.field) for f in lint([spec]).findings} == {
        (2, "preview-only", "type"), (1, "invalid-spec", "credentials"), (5, "invalid-spec", "flavour")}


def test_azure_ai_ml_still_refuses_to_load_hdfs_datastores():
    # when this fails, azure-ai-ml's load_datastore takes hdfs: drop the preview-only warning
    aml = specs.import_azure_ml()
    with pytest.raises(Exception, match="Unsupported datastore type: hdfs"):
        aml.load_datastore(SDK / "datastore/hdfs_kerberos_pw.yml")


def test_secrets_under_credentials_key_and_kerberos_password():
    custom = lint([SDK / "connection/custom.yaml"]).findings
    assert [(f.line, f.rule, f.field) for f in custom] == [(9, "secret-in-spec", "credentials.key")]
    hdfs = [f.field for f in lint([SDK / "datastore/hdfs_kerberos_pw.yml"]).findings if f.rule == "secret-in-spec"]
    assert hdfs == ["credentials.kerberos_password"]
    pat = [f.field for f in lint([EXAMPLES / "resources/connections/git-pat.yml"]).findings]
    assert pat == ["credentials.pat"]


def test_a_key_outside_credentials_is_not_a_secret(tmp_path):
    spec = tmp_path / "job.yml"
    spec.write_text("$schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json\n"
                    "command: echo ${{inputs.key}}\nenvironment: azureml:churn-train-env:1\n"
                    "compute: azureml:cpu-cluster\ninputs:\n  key: customer_id\n")
    assert lint([spec]).findings == []


IRIS = EXAMPLES / "jobs/pipelines-with-components/basics/6c_r_iris"


def test_a_hyphenated_component_used_by_reference_is_a_warning():
    result = lint([IRIS])
    (finding,) = [f for f in result.findings if f.file.endswith("component.yml")]
    assert (finding.line, finding.severity, finding.rule) == (6, "warning", "component-name")
    assert "'r-iris-example'" in finding.message and "pipeline.yml:10" in finding.message
    assert "az ml component create" in finding.message
    assert not [f for f in result.findings if f.severity == "error"]


def test_the_same_component_linted_alone_stays_an_error():
    errors = [f for f in lint([IRIS / "component.yml"]).findings if f.severity == "error"]
    assert [(f.line, f.rule) for f in errors] == [(6, "invalid-spec")]


def test_mltable_files_are_collected_from_folders(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "MLTable").write_text("paths:\n  - file: ./train.csv\n  - fiel: ./test.csv\n"
                                    "transformations:\n  - read_delimited:\n      delimiter: ','\n"
                                    "# sv=2021-06-08&ss=b&sig=0123456789abcdef0123456789abcdef\n")
    result = lint([tmp_path])
    assert result.files == 1
    assert {(f.line, f.rule) for f in result.findings} == {(3, "invalid-spec"), (7, "secret-in-spec")}
    example = EXAMPLES / "jobs/basics/hello-automl/training-mltable-folder"
    assert lint_module.collect([example]) == [example / "MLTable"]
    assert lint([example]).findings == []


# --- 6. the C parser reads the YAML -----------------------------------------------------------------


def test_specs_are_parsed_by_libyaml_not_by_pure_python(monkeypatch):
    assert yaml.__with_libyaml__

    def pure_python(*_args, **_kwargs):
        raise AssertionError("PyYAML's pure-Python composer ran")

    monkeypatch.setattr(yaml.composer.Composer, "compose_node", pure_python)
    doc = specs.read(EXAMPLES / "resources/compute/cluster-basic.yml")
    assert doc.data["type"] == "amlcompute" and doc.line_of("size") == 5
    # azure-ai-ml's loader gets the same data from the text read() checked, without parsing it again
    assert rules(EXAMPLES / "resources/compute/cluster-basic.yml") == set()


def test_libyaml_gives_the_lines_pure_python_gives():
    files = [p for p in (*EXAMPLES.rglob("*.y*ml"), *SDK.rglob("*.y*ml"), *(ROOT / "specs").rglob("*.yml"))]
    assert len(files) > 40
    for path in files:
        text = path.read_text()
        try:
            pure = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.YAMLError:
            continue
        lines_c: dict = {}
        lines_pure: dict = {}
        specs._index_lines(specs._node(yaml.CSafeLoader, text), (), lines_c)
        specs._index_lines(pure, (), lines_pure)
        assert lines_c == lines_pure, path


def test_syntax_errors_keep_pyyamls_words():
    # libyaml would say "mapping values are not allowed in this context"
    with pytest.raises(SpecError) as bad:
        specs.read(ROOT / "tests/fixtures/broken/syntax-error.yml")
    assert bad.value.message == "invalid YAML: mapping values are not allowed here"


def test_a_49000_key_mapping_never_meets_the_pure_python_parser(tmp_path, monkeypatch):
    # 27 s on main (three pure-Python parses: two of lint's, one of azure-ai-ml's); benchmarks/lint.py times it
    spec = tmp_path / "many.yml"
    spec.write_text("$schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json\n"
                    "command: echo\nenvironment: azureml:churn-train-env:1\ncompute: azureml:cpu-cluster\ntags:\n"
                    + "".join(f"  k{i:05d}: x\n" for i in range(48_995)))
    specs.import_azure_ml()

    def pure_python(*_args, **_kwargs):
        raise AssertionError("PyYAML's pure-Python scanner ran")

    monkeypatch.setattr(yaml.scanner.Scanner, "check_token", pure_python)
    assert lint([spec]).findings == []


def test_lint_collects_garbage_less_often_while_it_runs_and_then_puts_the_collector_back(tmp_path, monkeypatch):
    import gc

    spec = tmp_path / "job.yml"
    spec.write_text("command: echo\n")
    seen = []
    real = lint_module._secrets
    monkeypatch.setattr(lint_module, "_secrets", lambda doc: seen.append(gc.get_threshold()) or real(doc))
    before = gc.get_threshold()
    lint([spec])
    assert seen[0][0] >= 20_000 and gc.get_threshold() == before
