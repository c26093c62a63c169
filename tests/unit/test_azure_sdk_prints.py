"""azure-ai-ml print()s to stdout (DESIGN.md, Known pitfalls): a "." per poll of its LRO poller
and "Translate X to Schedule failed" for a schedule it cannot read. Over the fake ARM, which
polls a deployment create several times and holds a batch endpoint's schedule as Azure would,
`--json` stays JSON and nothing of the SDK's reaches stdout; schedules.list's enabled-only
default does not hide a disabled monitor."""

from __future__ import annotations

import json

import pytest

from helpers import amlops_in_process

from fakes.arm import FakeArm
from fakes.azure import offline, profile_over_the_fake  # noqa: F401 (fixture)


@pytest.fixture()
def fake(tmp_path, monkeypatch, offline):
    fake = FakeArm(operation_polls=4)  # each long-running write is polled four times before it ends
    profile_over_the_fake(fake, tmp_path, monkeypatch)
    return fake


def amlops(*args: str):
    return amlops_in_process("--workspace", "demo", *args)


def test_a_polled_deployment_create_prints_json_only(fake):
    created = amlops("create", "-f", "specs/endpoints/green-deployment.yml", "--json")
    assert created.returncode == 0, created.stderr
    polls = [c for c in fake.calls("GET") if "OperationsStatus" in c.path or "operationResults" in c.path.lower()]
    assert len(polls) >= 4, "the fake must poll the create several times for this test to mean anything"
    assert "." not in created.stdout.split("{", 1)[0]  # no poller dots before the JSON
    assert json.loads(created.stdout)["kind"]


def test_an_endpoint_delete_that_waits_prints_no_dots(fake):
    deleted = amlops("endpoint", "delete", "churn-ep", "--yes")
    assert deleted.returncode == 0, deleted.stderr
    assert "churn-ep" not in fake.endpoints
    assert "." not in deleted.stdout.split("churn-ep", 1)[0], deleted.stdout


def test_monitor_list_json_parses_beside_a_batch_endpoint_schedule(fake):
    assert fake.schedules["nightly-scoring"]["properties"]["action"]["actionType"] == "InvokeBatchEndpoint"
    listed = amlops("monitor", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [m["name"] for m in json.loads(listed.stdout)] == ["churn-drift"]
    assert "Translate" not in listed.stdout
    assert "nightly-scoring" in listed.stderr  # said once, where a person reads it


def test_a_disabled_monitor_is_listed_as_disabled(fake):
    fake.schedules["churn-drift"]["properties"]["isEnabled"] = False
    listed = json.loads(amlops("monitor", "list", "--json").stdout)
    assert [(m["name"], m["enabled"]) for m in listed] == [("churn-drift", False)]
    table = amlops("monitor", "list")
    assert "disabled" in table.stdout


def test_the_fake_lists_enabled_schedules_unless_asked_for_all(fake):
    fake.schedules["churn-drift"]["properties"]["isEnabled"] = False
    from fakes.arm import Call

    enabled = fake.list_schedules(Call("GET", "/schedules", {}, None, {}))[1]["value"]
    every = fake.list_schedules(Call("GET", "/schedules", {"listViewType": "All"}, None, {}))[1]["value"]
    assert "churn-drift" not in {s["name"] for s in enabled}
    assert "churn-drift" in {s["name"] for s in every}


def test_the_sdk_print_redirect_leaves_other_prints_alone(capsys):
    from console.azure.session import _sdk_print, sdk_notes

    with sdk_notes() as notes:
        _sdk_print(".", end="", flush=True)
        _sdk_print("Translate nightly to Schedule failed with: Unsupported schedule type")
    print("the console's own line")
    out = capsys.readouterr().out
    assert out == "the console's own line\n"
    assert notes == ["Translate nightly to Schedule failed with: Unsupported schedule type"]


def test_the_experimental_check_answers_as_the_sdks_own_without_reading_source(monkeypatch):
    """azure-ai-ml's `_should_skip_warning` walks `inspect.stack()`, which reads every frame's
    source: the console's replacement must give the same answer, from inside and outside a
    `_from_rest_object`, and read no source."""
    import inspect

    from azure.ai.ml._utils import _experimental

    from console.azure.session import skip_experimental_checks_cheaply

    monkeypatch.setattr(_experimental, "_should_skip_warning", _experimental._should_skip_warning)
    skip_experimental_checks_cheaply()
    shipped = _experimental.shipped_should_skip_warning
    assert shipped.__module__ == "azure.ai.ml._utils._experimental"
    ours = _experimental._should_skip_warning

    def _from_rest_object():
        return ours(), shipped()

    assert _from_rest_object() == (True, True)
    assert (ours(), shipped()) == (False, False)
    monkeypatch.setattr(inspect, "stack", lambda *a, **k: (_ for _ in ()).throw(AssertionError("source read")))

    def _from_rest_object():  # noqa: F811 - inside the SDK's conversion again, ours alone
        return ours()

    assert _from_rest_object() is True and ours() is False
