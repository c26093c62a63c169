"""One guard for every backend (console/workspace.py, `OperationGroup`): each call the protocol
marks is refused before it reaches the backend, on every backend alike. Outside the workspace's
declared capabilities it is NotSupported naming the capability; a write in read-only mode is
ReadOnlyError. Nothing is sent: the fake ARM sees no request, the local daemon's connection no
call, the canned state stays as it was.

Backends: the canned workspace; the azure workspace over the fake ARM (the real azure-ai-ml in
between); the local client, its connection watched, with no daemon behind it (cheap: the guard is
the client's) and against a real daemon (integration). Every call names things that do not exist,
so a guard that does not fire gets NotFound or a bad spec back, never a change.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from console.errors import NotSupported, ReadOnlyError
from console.workspace import (
    AssetOperations,
    ComputeOperations,
    EndpointOperations,
    JobOperations,
    ModelOperations,
    MonitorOperations,
    guard_of,
)

from fakes.azure import azure_workspace, offline  # noqa: F401 (fixture)
from fakes.canned import CannedState, CannedWorkspace

# The Workspace attribute of each protocol whose calls carry guards.
GROUPS = {"jobs": JobOperations, "compute": ComputeOperations, "models": ModelOperations,
          "assets": AssetOperations, "endpoints": EndpointOperations, "monitors": MonitorOperations}

EP = "no-such-endpoint"
# A call for each guarded call of the protocol, of things that do not exist.
CALLS: dict[str, Callable[[Any], Any]] = {
    "jobs.submit": lambda ws: ws.jobs.submit("no-such-job.yml"),
    "jobs.cancel": lambda ws: ws.jobs.cancel("no_such_job"),
    "jobs.logs": lambda ws: list(ws.jobs.logs("no_such_job")),
    "jobs.metrics": lambda ws: ws.jobs.metrics("no_such_job"),
    "compute.start": lambda ws: ws.compute.start("no-such-compute"),
    "compute.stop": lambda ws: ws.compute.stop("no-such-compute"),
    "compute.costs_today": lambda ws: ws.compute.costs_today(),
    "models.register": lambda ws: ws.models.register("no-such-model", job="no_such_job"),
    "assets.create": lambda ws: ws.assets.create("no-such-spec.yml"),
    "endpoints.create": lambda ws: ws.endpoints.create("no-such-endpoint.yml"),
    "endpoints.create_deployment": lambda ws: ws.endpoints.create_deployment("no-such-deployment.yml",
                                                                             endpoint_name=EP),
    "endpoints.set_traffic": lambda ws: ws.endpoints.set_traffic(EP, {"blue": 100}),
    "endpoints.set_mirror": lambda ws: ws.endpoints.set_mirror(EP, {}),
    "endpoints.rollback": lambda ws: ws.endpoints.rollback(EP),
    "endpoints.delete": lambda ws: ws.endpoints.delete(EP),
    "endpoints.delete_deployment": lambda ws: ws.endpoints.delete_deployment(EP, "blue"),
    "endpoints.keys": lambda ws: ws.endpoints.keys(EP),
    "endpoints.regenerate_keys": lambda ws: ws.endpoints.regenerate_keys(EP),
    "endpoints.deployment_logs": lambda ws: ws.endpoints.deployment_logs(EP, "blue"),
    "endpoints.invoke": lambda ws: ws.endpoints.invoke(EP, b"{}"),
    "endpoints.metrics": lambda ws: ws.endpoints.metrics(EP),
    "monitors.run": lambda ws: ws.monitors.run("no-such-monitor"),
    "monitors.latest": lambda ws: ws.monitors.latest("no-such-monitor"),
}


def guard(call: str):
    group, method = call.split(".")
    return guard_of(getattr(GROUPS[group], method))


class Watched:
    """The local workspace's connection, each call it is asked to send recorded first."""

    def __init__(self, connection) -> None:
        self.connection, self.sent = connection, []

    def call(self, method: str, **params):
        self.sent.append(method)
        return self.connection.call(method, **params)


def every_call_is_refused_before_it_is_sent(ws, nothing_sent: Callable[[], bool]) -> None:
    declared = ws.capabilities
    for call, run in CALLS.items():
        needs = guard(call)
        ws.read_only, ws.capabilities = False, declared - {needs.capability}
        with pytest.raises(NotSupported) as err:
            run(ws)
        assert err.value.capability == needs.capability, call
        if needs.action is not None:  # a write, in read-only mode, as the workspace is declared
            ws.read_only, ws.capabilities = True, declared
            with pytest.raises(ReadOnlyError if needs.capability in declared else NotSupported):
                run(ws)
        assert nothing_sent(), f"{call} reached the backend"


def test_every_guarded_call_of_the_protocol_is_exercised_here():
    marked = {f"{group}.{name}" for group, protocol in GROUPS.items() for name, fn in vars(protocol).items()
              if guard_of(fn) is not None}
    assert marked == set(CALLS)
    writes = {call for call in CALLS if guard(call).action is not None}
    assert "endpoints.set_traffic" in writes and "endpoints.keys" not in writes


def test_the_canned_workspace_refuses_before_it_changes_anything():
    ws = CannedWorkspace()
    every_call_is_refused_before_it_is_sent(ws, lambda: ws.state == CannedState())


def test_the_azure_workspace_refuses_before_any_request(tmp_path, monkeypatch, offline):  # noqa: F811
    from fakes.arm import FakeArm

    fake = FakeArm()
    ws = azure_workspace(fake, tmp_path, monkeypatch)
    every_call_is_refused_before_it_is_sent(ws, lambda: fake.requests == [])


def test_the_local_client_refuses_before_it_calls_the_daemon(tmp_path):
    from console.local.client import LocalWorkspace

    ws = LocalWorkspace(tmp_path / "ws", autostart=False)  # no daemon: a call sent would fail as unreachable
    ws.connection = watched = Watched(ws.connection)
    every_call_is_refused_before_it_is_sent(ws, lambda: watched.sent == [])


@pytest.mark.integration
def test_the_local_client_refuses_before_it_calls_a_running_daemon(tmp_path):
    from console.local.client import LocalWorkspace, stop_daemon

    ws = LocalWorkspace(tmp_path / "ws")
    try:
        assert ws.jobs.list() == []  # starts the daemon
        ws.connection = watched = Watched(ws.connection)
        every_call_is_refused_before_it_is_sent(ws, lambda: watched.sent == [])
        ws.read_only = False
        assert ws.audit.list() == [] and watched.sent == ["audit.list"]  # the daemon answers; nothing was written
    finally:
        stop_daemon(ws.folder)


@pytest.mark.parametrize("backend", ["canned", "azure", "local"])
def test_each_backend_defines_every_guarded_call_it_declares(backend):
    """A capability declared is a call built: the base's NotSupported stands in only for calls a
    backend leaves out of its capabilities."""
    if backend == "canned":
        import fakes.canned as module

        groups, declared = {"jobs": module.CannedJobs, "compute": module.CannedCompute,
                            "models": module.CannedModels, "assets": module.CannedAssets,
                            "endpoints": module.CannedEndpoints, "monitors": module.CannedMonitors}, \
            CannedWorkspace.capabilities
    elif backend == "azure":
        import console.azure.workspace as module

        groups, declared = {"jobs": module.AzureJobs, "compute": module.AzureCompute, "models": module.AzureModels,
                            "assets": module.AzureAssets, "endpoints": module.AzureEndpoints,
                            "monitors": module.AzureMonitors}, module.AzureWorkspace.capabilities
    else:
        import console.local.client as module

        groups, declared = {"jobs": module.LocalJobs, "compute": module.LocalCompute, "models": module.LocalModels,
                            "assets": module.LocalAssets, "endpoints": module.LocalEndpoints,
                            "monitors": module.LocalMonitors}, module.LocalWorkspace.capabilities
    for call in CALLS:
        group, method = call.split(".")
        built = hasattr(getattr(groups[group], method), "__wrapped__")  # a method of the backend's, guarded
        assert built == (guard(call).capability in declared), (backend, call)
