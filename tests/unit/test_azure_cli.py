"""The CLI on an Azure workspace named by a profile, over the fake ARM (tests/fakes/arm.py):
the real azure-ai-ml, a fake credential, no network. Every command that exists for local works
with `--workspace PROFILE`, or says plainly that the capability is missing there; a read_only
profile refuses writes before any request."""

from __future__ import annotations

import json

import pytest

from helpers import REPO, amlops_in_process

from fakes.arm import FakeArm
from fakes.azure import offline, profile_over_the_fake  # noqa: F401 (fixture)


@pytest.fixture()
def fake(tmp_path, monkeypatch, offline):
    fake = FakeArm()
    profile_over_the_fake(fake, tmp_path, monkeypatch, watch={"read_only": True})
    return fake


def amlops(*args: str):
    return amlops_in_process("--workspace", "demo", *args)


def test_reads_on_azure(fake):
    listing = amlops("compute", "list")
    assert listing.returncode == 0, listing.stderr
    assert "dev-instance" in listing.stdout and "not known here (Azure Cost Management has it)" in listing.stderr
    quotas = json.loads(amlops("quota", "list", "--json").stdout)
    assert {"family": "standardDSv2Family", "used": 22, "limit": 24} in [
        {k: q[k] for k in ("family", "used", "limit")} for q in quotas]
    jobs = json.loads(amlops("job", "list", "--json").stdout)
    assert jobs and jobs[0]["status"] == "Running"
    endpoint = json.loads(amlops("endpoint", "show", "churn-ep", "--json").stdout)
    assert endpoint["traffic"]["live"] == {"blue": 100, "green": 0}
    assert endpoint["cost_per_hour"] == pytest.approx(4 * 0.146)  # blue and green, 2 instances each
    assert amlops("monitor", "list").returncode == 0


def test_writes_on_azure_wait_for_azure_and_are_audited(fake):
    moved = amlops("endpoint", "traffic", "churn-ep", "blue=90", "green=10")
    assert moved.returncode == 0, moved.stderr
    assert "blue=90 green=10 (Succeeded)" in moved.stdout
    stopped = amlops("compute", "stop", "dev-instance")
    assert stopped.returncode == 0 and "Succeeded" in stopped.stdout
    assert fake.compute_state("dev-instance") == "Stopped"
    audit = json.loads(amlops("audit", "--json").stdout)
    assert [(a["operation"], a["result"]) for a in audit][:2] == [("compute.stop", "Succeeded"),
                                                                  ("compute.stop", "InProgress")]


def test_an_operation_left_running_is_followed_by_a_later_command(fake):
    with fake.operations_held():
        started = amlops("compute", "stop", "dev-instance", "--no-wait")
    assert started.returncode == 0, started.stderr
    op_id = started.stderr.split("operation ", 1)[1].split(":", 1)[0]
    # Another process, from the live resource: the instance is Stopped, so the stop Succeeded.
    shown = json.loads(amlops("operation", "show", op_id, "--json").stdout)
    assert (shown["kind"], shown["target"]) == ("compute.stop", "dev-instance")
    assert shown["status"] in ("InProgress", "Succeeded")


def test_a_read_only_profile_refuses_writes_before_any_request(fake):
    refused = amlops_in_process("--workspace", "watch", "endpoint", "traffic", "churn-ep", "green=100")
    assert refused.returncode == 2 and "read-only" in refused.stderr
    assert fake.requests == []


def test_the_headline_workflow_on_azure_from_the_cli(fake):
    """Train, register, deploy green at 0 %, score it pinned, read drift: each a command that
    works on local, on Azure."""
    del fake.deployments["churn-ep"]["green"]
    fake.endpoints["churn-ep"]["properties"]["traffic"] = {"blue": 100}
    submitted = amlops("job", "submit", str(REPO / "specs" / "jobs" / "train-job.yml"), "--set", "inputs.reg_rate=0.1")
    assert submitted.returncode == 0, submitted.stderr
    logs = amlops("job", "logs", "happy_cloud_3j5k7l9m0n")
    assert logs.returncode == 0 and "holdout auc 0.7844" in logs.stdout
    metrics = amlops("job", "metrics", "happy_cloud_3j5k7l9m0n")
    assert metrics.returncode == 0 and "holdout_log_loss" in metrics.stdout, metrics.stderr
    registered = json.loads(amlops("model", "register", "--name", "churn-classifier", "--job", "happy_cloud_3j5k7l9m0n",
                                   "--json").stdout)
    assert registered["version"] == "3"
    created = amlops("create", "-f", str(REPO / "specs" / "endpoints" / "green-deployment.yml"),
                     "--set", "model=azureml:churn-classifier:3")
    assert created.returncode == 0, created.stderr
    assert fake.traffic("churn-ep") == {"blue": 100}
    scored = amlops("endpoint", "invoke", "churn-ep", "--request-file",
                    str(REPO / "tests" / "fixtures" / "churn-request.json"), "--deployment", "green")
    assert scored.returncode == 0 and "200 from green" in scored.stderr, scored.stderr
    drift = amlops("monitor", "run", "churn-drift")
    assert drift.returncode == 0 and "monthly_charges" in drift.stdout, drift.stderr
    assert amlops("endpoint", "metrics", "churn-ep").returncode == 0


def test_what_azure_lacks_here_is_said_plainly(fake):
    demo = amlops("demo")
    assert demo.returncode == 2 and "for the local workspace" in demo.stderr
