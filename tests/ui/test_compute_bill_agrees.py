"""The CLI's `amlops compute list` and the console's compute pane tell one bill: on a workspace
with a compute instance in every state Azure has (azure-ai-ml's ComputeInstanceState) and
clusters in both allocation states, each compute's row (state, idle time, $/hour, $ today, $ idle
today, nodes) and the totals (now, today, what has no known price) read the same on both."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from rich.text import Text

import console.commands.compute as compute_cli
from console.domain import COMPUTE_STATES, Compute, ComputeCost, ComputeOperation
from console.ui.panes.compute import TYPES, ComputePane
from console.ui.table import FitTable

from canned_app import CannedApp, loaded, settle
from fakes.canned import NOW, CannedWorkspace
from helpers import amlops_in_process



def azure_states() -> tuple[list[str], list[str]]:
    """Azure's compute instance states and cluster allocation states, as azure-ai-ml names them
    (imported here, not when the file is collected: every worker collects every file)."""
    from azure.ai.ml._restclient.arm_ml_service.models import AllocationState, ComputeInstanceState

    return [s.value for s in ComputeInstanceState], [s.value for s in AllocationState]
UNPRICED = "Standard_Made_Up_v9"  # a size the catalog has no price for


def ago(**delta: float) -> datetime:
    return NOW - timedelta(**delta)


def every_state() -> list[Compute]:
    """An instance in each of Azure's states (Running ones idle since 47 minutes ago), clusters
    Steady and Resizing with nodes and without, and a running instance and a cluster of a size
    without a price."""
    instances = [Compute(f"ci-{state.lower()}", "computeinstance", "Standard_DS3_v2", state,
                         idle_time_before_shutdown_minutes=60, last_activity=ago(minutes=47),
                         current_nodes=int(state == "Running"),
                         last_operation=ComputeOperation("Start", "User", "Succeeded", ago(hours=2)))
                 for state in azure_states()[0]]
    clusters = [
        Compute("cpu-steady", "amlcompute", "Standard_DS3_v2", "Steady", max_instances=4, current_nodes=2,
                last_activity=ago(minutes=3)),
        Compute("cpu-resizing", "amlcompute", "Standard_DS3_v2", "Resizing", max_instances=4, current_nodes=1,
                last_activity=ago(minutes=1)),
        Compute("gpu-empty", "amlcompute", "Standard_NC6s_v3", "Steady", max_instances=2),
        Compute("odd-resizing", "amlcompute", UNPRICED, "Resizing", max_instances=2, current_nodes=1),
    ]
    unpriced = Compute("ci-unpriced", "computeinstance", UNPRICED, "Running", last_activity=ago(minutes=5))
    return instances + clusters + [unpriced]


def costs_today() -> list[ComputeCost]:
    day = NOW.date().isoformat()
    return [ComputeCost("ci-running", day, cost=1.25, idle_cost=0.5), ComputeCost("ci-starting", day, cost=0.01),
            ComputeCost("cpu-steady", day, cost=3.5, idle_cost=0.75)]


@pytest.fixture
def workspace(monkeypatch) -> CannedWorkspace:
    ws = CannedWorkspace()
    ws.state.computes = every_state()
    monkeypatch.setattr(ws.compute, "costs_today", costs_today)
    return ws


@pytest.fixture
def cli(workspace, monkeypatch):
    """`amlops compute list` over `workspace`, its clock at the canned NOW as the console's is."""

    class Frozen(datetime):
        @classmethod
        def now(cls, tz=None):
            return NOW.astimezone(tz) if tz else NOW.replace(tzinfo=None)

    monkeypatch.setattr(compute_cli, "workspace", lambda args: workspace)
    monkeypatch.setattr(compute_cli, "datetime", Frozen)
    return lambda *args: amlops_in_process("compute", "list", *args)


def table_rows(stdout: str) -> dict[str, dict[str, str]]:
    """The CLI's table as name -> column -> cell, cut at the headers' columns (cells may hold spaces)."""
    header, *lines = stdout.splitlines()
    labels = re.findall(r"\S+(?: \S+)*", header)  # labels are separated by two spaces or more
    starts = [header.index(label) for label in labels]
    ends = starts[1:] + [None]
    return {line[:ends[0]].strip(): {label: line[a:b].strip() for label, a, b in zip(labels, starts, ends)}
            for line in lines}


async def pane_rows(workspace) -> tuple[dict[str, dict[str, str]], str]:
    """The console's compute pane over `workspace`, zoomed (every column): its rows and footer."""
    app = CannedApp(workspace, refresh_s=3600)
    async with app.run_test(size=(200, 60)) as pilot:
        await settle(pilot, lambda: loaded(app), "the workspace")
        await pilot.press("4", "z")  # compute is the fourth pane
        await settle(pilot, lambda: app.zoomed == "compute", "the compute pane zoomed")
        pane = app.query_one(ComputePane)
        table = pane.query_one(FitTable)
        rows = {}
        for row in table.ordered_rows:
            cells = [c.plain if isinstance(c, Text) else str(c) for c in table.get_row(row.key)]
            rows[row.key.value] = dict(zip(table.shown, cells))
        return rows, str(pane.query_one(".compute-footer").render())


FIGURE = r"(-|\$[\d,]+\.\d\d)"


def cli_totals(stderr: str) -> dict[str, str]:
    now = re.search(rf"running now: {FIGURE}/hour \(compute {FIGURE}, online deployments {FIGURE}\)", stderr)
    today = re.search(rf"today {FIGURE} \(compute {FIGURE} of which idle {FIGURE}, online deployments {FIGURE}\)",
                      stderr)
    unpriced = re.search(r"(\d+) without a known price, not counted", stderr)
    assert now and today, stderr
    return {"hour": now[1], "compute_hour": now[2], "deployments_hour": now[3], "today": today[1],
            "compute_today": today[2], "idle_today": today[3], "deployments_today": today[4],
            "unpriced": unpriced[1] if unpriced else "0"}


def pane_totals(footer: str) -> dict[str, str]:
    now = re.search(rf"now {FIGURE}/hour, {FIGURE}/day = compute {FIGURE} \+ deployments {FIGURE}", footer)
    today = re.search(rf"today {FIGURE} = compute {FIGURE} \(idle {FIGURE}\) \+ deployments {FIGURE}", footer)
    unpriced = re.search(r"(\d+) without a known price, not counted", footer)
    assert now and today, footer
    return {"hour": now[1], "compute_hour": now[3], "deployments_hour": now[4], "today": today[1],
            "compute_today": today[2], "idle_today": today[3], "deployments_today": today[4],
            "unpriced": unpriced[1] if unpriced else "0"}


SHARED = ("STATE", "IDLE", "$/HOUR", "$ TODAY", "$ IDLE TODAY", "NODES", "SIZE")


async def test_the_cli_and_the_console_show_the_same_compute_rows_and_totals(workspace, cli):
    # Every state Azure has, each spelled as the records spell them.
    INSTANCE_STATES, CLUSTER_STATES = azure_states()
    assert set(INSTANCE_STATES) | set(CLUSTER_STATES) <= set(COMPUTE_STATES)
    assert {c.state for c in every_state() if c.is_instance} == set(INSTANCE_STATES)
    assert {c.state for c in every_state() if not c.is_instance} == set(CLUSTER_STATES)

    listing = cli()
    assert listing.returncode == 0, listing.stderr
    printed = table_rows(listing.stdout)
    shown, footer = await pane_rows(workspace)

    assert set(printed) == set(shown) == {c.name for c in every_state()}
    for name, row in shown.items():
        assert {k: printed[name][k] for k in SHARED} == {k: row[k] for k in SHARED}, name
        assert TYPES[printed[name]["TYPE"]] == row["TYPE"], name
    # The figures that matter are there at all: a Starting instance bills, a Resizing cluster its node.
    assert shown["ci-starting"]["$/HOUR"] == shown["ci-running"]["$/HOUR"] != "0.00"
    assert shown["cpu-resizing"]["$/HOUR"] == shown["ci-running"]["$/HOUR"]
    assert shown["ci-stopped"]["$/HOUR"] == "0.00" and shown["gpu-empty"]["$/HOUR"] == "0.00"

    assert cli_totals(listing.stderr) == pane_totals(footer)
