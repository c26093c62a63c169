"""The demo project's Azure ML v2 YAML (specs/) loads with azure-ai-ml's own loaders.

Every spec is loaded with the same ``load_*`` function that ``az ml <noun> create -f``
uses, and the resulting entity is checked for its type and the values that the
console relies on (scale-to-zero, idle shutdown, probes, data collection, drift
thresholds ...). A spec file that is added without an entry in ``SPECS`` fails
``test_every_spec_is_covered``, so nothing under specs/ goes unchecked.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Callable

import pytest
from marshmallow.warnings import Marshmallow4Warning

# azure-ai-ml 1.35.2 builds its schemas with marshmallow-3 idioms; silence those
# deprecation warnings (at import and at load time) so real failures stand out.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", Marshmallow4Warning)
    from azure.ai.ml import (
        load_compute,
        load_data,
        load_environment,
        load_job,
        load_online_deployment,
        load_online_endpoint,
    )
    from azure.ai.ml.entities import (
        AmlCompute,
        ComputeInstance,
        Data,
        Environment,
        ManagedOnlineDeployment,
        ManagedOnlineEndpoint,
    )
    from azure.ai.ml.entities._builders.command import Command
    from azure.ai.ml.entities._load_functions import load_schedule  # not exported at top level
    from azure.ai.ml.entities._monitoring.schedule import MonitorSchedule
    from azure.ai.ml.entities._monitoring.signals import DataDriftSignal
    from azure.ai.ml.entities._schedule.trigger import CronTrigger, RecurrenceTrigger

REPO_ROOT = Path(__file__).resolve().parents[2]
SPECS_DIR = REPO_ROOT / "specs"
pytestmark = pytest.mark.filterwarnings("ignore::marshmallow.warnings.Marshmallow4Warning")

SCHEMA_URL = "https://azuremlschemas.azureedge.net/latest/{}.schema.json"

# The demo's probes: every second from 2 s (a replaced instance serves again within seconds);
# liveness gives an instance 30 s of silence before a restart, readiness takes it out after 3.
LIVENESS = {"initial_delay": 2, "period": 1, "timeout": 2, "failure_threshold": 30, "success_threshold": 1}
READINESS = {**LIVENESS, "failure_threshold": 3}


def _strip_azureml(ref: str) -> str:
    return ref[len("azureml:") :] if ref.startswith("azureml:") else ref


# --------------------------------------------------------------------------- checks


def check_cpu_cluster(c: AmlCompute) -> None:
    assert c.name == "cpu-cluster"
    assert c.type == "amlcompute"
    assert c.size == "Standard_DS3_v2"
    assert c.min_instances == 0, "the cluster must scale to zero"
    assert c.max_instances == 4
    assert c.idle_time_before_scale_down == 120
    assert c.tier == "dedicated"


def check_gpu_cluster(c: AmlCompute) -> None:
    assert c.name == "gpu-cluster"
    assert c.size == "Standard_NC6s_v3"
    assert c.min_instances == 0, "the cluster must scale to zero"
    assert c.max_instances == 2
    assert isinstance(c.idle_time_before_scale_down, int) and c.idle_time_before_scale_down > 0


def check_dev_instance(c: ComputeInstance) -> None:
    assert c.name == "dev-instance"
    assert c.type == "computeinstance"
    assert c.size == "Standard_DS3_v2"
    assert c.idle_time_before_shutdown_minutes == 30


def check_environment(e: Environment) -> None:
    assert e.name == "churn-train-env"
    assert e.version == "1"
    assert e.image and e.image.startswith("mcr.microsoft.com/azureml/")
    tag = e.image.rsplit(":", 1)[-1]
    assert ":" in e.image and tag != "latest", "base image must be pinned"
    # conda_file is read and parsed by the loader.
    conda = e.conda_file
    assert isinstance(conda, dict)
    deps = conda["dependencies"]
    assert "python=3.11" in deps
    pip = next(d["pip"] for d in deps if isinstance(d, dict) and "pip" in d)
    assert "mlflow==3.17.2" in pip
    assert "scikit-learn==1.9.1" in pip
    names = {p.split("==")[0] for p in pip}
    assert {"pandas", "numpy", "skops", "azureml-mlflow"} <= names


def check_data(d: Data) -> None:
    assert d.name == "churn_features"
    assert d.version == "1"
    assert d.type == "uri_folder"
    # The loader resolves the local path against the spec's folder (it does not require it to exist).
    assert Path(d.path).resolve() == (SPECS_DIR / "data" / "churn-features").resolve()


def check_train_job(j: Command) -> None:
    # load_job turns a command job YAML into a Command node (a Job subclass), not CommandJob.
    assert j.type == "command"
    assert j.command == "python train.py --data ${{inputs.training_data}} --reg ${{inputs.reg_rate}}"
    assert (SPECS_DIR / "jobs" / j.code).resolve() == (REPO_ROOT / "training").resolve()
    # The entity strips the "azureml:" prefix from references.
    assert j.environment == "churn-train-env:1"
    assert j.compute == "cpu-cluster"
    assert j.experiment_name == "churn-classifier"
    assert j.display_name and j.description
    data_in = j.inputs["training_data"]._data  # NodeInput wraps the Input / literal
    assert data_in.type == "uri_folder"
    assert data_in.path == "churn_features:1"
    assert j.inputs["reg_rate"]._data == pytest.approx(0.01)


def check_endpoint(ep: ManagedOnlineEndpoint) -> None:
    assert ep.name == "churn-ep"
    assert ep.auth_mode == "key"
    assert not ep.traffic, "traffic is set after deployments are ready, not in the spec"


def _check_deployment(dp: ManagedOnlineDeployment, name: str, instance_counts: set[int]) -> None:
    assert dp.name == name
    assert dp.endpoint_name == "churn-ep"
    assert dp.model == "churn-classifier:1", "pinned registered (MLflow) model"
    assert dp.environment is None and dp.code_configuration is None, "no-code MLflow deployment"
    assert dp.instance_type == "Standard_DS2_v2"
    assert dp.instance_count in instance_counts
    assert dp.request_settings.request_timeout_ms == 5000
    assert dp.request_settings.max_concurrent_requests_per_instance in {1, 2}
    for probe, expected in ((dp.liveness_probe, LIVENESS), (dp.readiness_probe, READINESS)):
        assert probe is not None
        assert {k: getattr(probe, k) for k in expected} == expected
    collections = dp.data_collector.collections
    assert set(collections) == {"model_inputs", "model_outputs"}
    # 'True' in YAML is normalised to the string "true" (an unquoted boolean is rejected).
    assert {k: v.enabled for k, v in collections.items()} == {"model_inputs": "true", "model_outputs": "true"}


def check_blue(dp: ManagedOnlineDeployment) -> None:
    _check_deployment(dp, "blue", {1, 2})


def check_green(dp: ManagedOnlineDeployment) -> None:
    _check_deployment(dp, "green", {2})


def check_monitor(s: MonitorSchedule) -> None:
    assert s.name == "churn-drift"
    trigger = s.trigger
    if isinstance(trigger, RecurrenceTrigger):
        assert trigger.frequency == "day" and trigger.interval == 1
    else:
        assert isinstance(trigger, CronTrigger)
    mon = s.create_monitor
    assert mon.compute.instance_type == "standard_e4s_v3"
    assert mon.compute.runtime_version == "3.4"
    assert mon.monitoring_target.ml_task == "classification"
    assert mon.monitoring_target.endpoint_deployment_id == "azureml:churn-ep:blue"
    signals = mon.monitoring_signals
    assert len(signals) == 1
    (signal,) = signals.values()
    assert isinstance(signal, DataDriftSignal)
    assert signal.type == "data_drift"
    ref = signal.reference_data
    assert ref.data_context == "training"
    assert ref.input_data.type == "uri_folder"
    assert ref.input_data.path == "churn_features:1"
    assert ref.data_column_names == {"target_column": "churn"}, "the label is not a drift feature"
    assert signal.features == "all_features" or isinstance(signal.features, list)
    assert signal.metric_thresholds.numerical.normalized_wasserstein_distance == pytest.approx(0.1)
    assert signal.metric_thresholds.categorical.jensen_shannon_distance == pytest.approx(0.1)


# relative path -> (loader, entity class, $schema name, checks)
SPECS: dict[str, tuple[Callable[..., Any], type, str, Callable[[Any], None]]] = {
    "compute/cpu-cluster.yml": (load_compute, AmlCompute, "amlCompute", check_cpu_cluster),
    "compute/gpu-cluster.yml": (load_compute, AmlCompute, "amlCompute", check_gpu_cluster),
    "compute/dev-instance.yml": (load_compute, ComputeInstance, "computeInstance", check_dev_instance),
    "environments/churn-train-env.yml": (load_environment, Environment, "environment", check_environment),
    "data/churn-features.yml": (load_data, Data, "data", check_data),
    "jobs/train-job.yml": (load_job, Command, "commandJob", check_train_job),
    "endpoints/churn-ep.yml": (load_online_endpoint, ManagedOnlineEndpoint, "managedOnlineEndpoint", check_endpoint),
    "endpoints/blue-deployment.yml": (
        load_online_deployment,
        ManagedOnlineDeployment,
        "managedOnlineDeployment",
        check_blue,
    ),
    "endpoints/green-deployment.yml": (
        load_online_deployment,
        ManagedOnlineDeployment,
        "managedOnlineDeployment",
        check_green,
    ),
    "monitoring/churn-drift.yml": (load_schedule, MonitorSchedule, "schedule", check_monitor),
}


def _spec_files() -> set[str]:
    files = set()
    for pattern in ("*.yml", "*.yaml"):
        for p in SPECS_DIR.rglob(pattern):
            if p.name.endswith((".conda.yml", ".conda.yaml")):
                continue  # conda files are referenced by environments, not loaded on their own
            if p.relative_to(SPECS_DIR).parts[0] == "rollouts":
                continue  # amlops's own schema, not Azure's: tests/unit/test_rollout_plan.py
            files.add(p.relative_to(SPECS_DIR).as_posix())
    return files


def test_every_spec_is_covered() -> None:
    found = _spec_files()
    assert found == set(SPECS), (
        f"specs without a loader entry here: {sorted(found - set(SPECS))}; "
        f"entries without a file: {sorted(set(SPECS) - found)}"
    )


@pytest.mark.parametrize("rel", sorted(SPECS))
def test_spec_header(rel: str) -> None:
    _, _, schema_name, _ = SPECS[rel]
    lines = (SPECS_DIR / rel).read_text(encoding="utf-8").splitlines()
    assert lines[0] == f"$schema: {SCHEMA_URL.format(schema_name)}"
    assert lines[1].startswith("# ") and len(lines[1]) > 3, "second line: a one-line comment saying what it is"


@pytest.mark.parametrize("rel", sorted(SPECS))
def test_spec_loads(rel: str) -> None:
    loader, entity_cls, _, check = SPECS[rel]
    entity = loader(SPECS_DIR / rel)
    assert type(entity) is entity_cls, f"{rel}: {loader.__name__} gave {type(entity).__name__}"
    check(entity)


def test_conda_file_is_referenced() -> None:
    conda_files = {p.relative_to(SPECS_DIR).as_posix() for p in SPECS_DIR.rglob("*.conda.y*ml")}
    assert conda_files == {"environments/churn-train-env.conda.yml"}


def test_specs_reference_each_other_consistently() -> None:
    """Names and versions used across specs point at assets defined in specs/."""
    computes = {load_compute(SPECS_DIR / r).name for r in SPECS if r.startswith("compute/")}
    env = load_environment(SPECS_DIR / "environments/churn-train-env.yml")
    data = load_data(SPECS_DIR / "data/churn-features.yml")
    job = load_job(SPECS_DIR / "jobs/train-job.yml")
    endpoint = load_online_endpoint(SPECS_DIR / "endpoints/churn-ep.yml")
    deployments = {
        d.name: d
        for d in (
            load_online_deployment(SPECS_DIR / "endpoints/blue-deployment.yml"),
            load_online_deployment(SPECS_DIR / "endpoints/green-deployment.yml"),
        )
    }
    monitor = load_schedule(SPECS_DIR / "monitoring/churn-drift.yml")

    data_ref = f"{data.name}:{data.version}"
    assert job.environment == f"{env.name}:{env.version}"
    assert job.compute in computes
    assert job.inputs["training_data"]._data.path == data_ref
    assert all(d.endpoint_name == endpoint.name for d in deployments.values())

    _, ep_name, dep_name = monitor.create_monitor.monitoring_target.endpoint_deployment_id.split(":")
    assert ep_name == endpoint.name and dep_name in deployments
    (signal,) = monitor.create_monitor.monitoring_signals.values()
    assert _strip_azureml(signal.reference_data.input_data.path) == data_ref
