"""Quotas on Azure's real Usages list (Microsoft's example `Usage/list.json`, 35 rows, served by
the fake ARM as it is): each family's dedicated vCPUs once, its low-priority vCPUs apart with
"no limit" where Azure says -1, the region's dedicated and low-priority totals, and the
workspace- and compute-scoped rows never counted twice; through the real azure-ai-ml, to the
records, `amlops quota list` and `amlops lint --workspace`."""

from __future__ import annotations

import json

import pytest

from console.domain import QuotaUsage

from fakes.arm import FakeArm, example
from fakes.azure import azure_workspace, fake, offline, profile_over_the_fake, ws  # noqa: F401
from helpers import amlops_in_process

pytestmark = pytest.mark.usefixtures("offline")

EXAMPLE = example("Usage/list.json")["value"]
DEDICATED_TOTAL, LOW_PRIORITY_TOTAL = "Total Cluster Dedicated Regional vCPUs", "Total Cluster LowPriority Regional vCPUs"


def served(fake: FakeArm) -> list[dict]:
    """The fake's answer to Usages_List, read as Azure's REST API gives it."""
    url = (f"https://management.azure.com/subscriptions/{fake.SUBSCRIPTION}/providers/"
           f"Microsoft.MachineLearningServices/locations/{fake.LOCATION}/usages?api-version=2024-04-01")
    return fake.session().get(url, headers={"Authorization": "Bearer fake"}).json()["value"]


def by_kind(usages: list[QuotaUsage], kind: str) -> dict[str, QuotaUsage]:
    found = {u.family: u for u in usages if u.kind == kind}
    assert len(found) == len([u for u in usages if u.kind == kind]), f"a {kind} row twice"
    return found


# --- the fake answers as Azure does -------------------------------------------------------------


def test_the_fake_serves_microsofts_usages_example_whole():
    rows = {u["id"] + u["type"] + u["name"]["value"]: u for u in served(FakeArm(empty=True))}
    # Every row of the example, figures and all, since an empty ws-demo adds nothing to them: the
    # regional totals, the -1 of each low-priority family, its workspaces' and clusters' rows.
    for row in EXAMPLE:
        assert rows[row["id"] + row["type"] + row["name"]["value"]] == row
    assert {r["type"].split("/")[1] for r in rows.values()} == {
        "totalCores", "dedicatedCores", "lowPriorityCores", "vmFamily", "workspace", "workspaces"}


def test_what_ws_demo_holds_adds_to_the_subscriptions_rows():
    fake = FakeArm()
    rows = served(fake)
    family = {u["name"]["value"]: u for u in rows if u["type"].endswith("/vmFamily/usages")}
    dsv2 = family["Standard DSv2 Family Cluster Dedicated vCPUs"]
    # demo_workspace1's 2 (the example's) + ws-demo's 4 node + 4 instance + 6 blue + 6 green
    assert (dsv2["currentValue"], dsv2["limit"]) == (22, 24)
    mine = [u for u in rows if f"/workspaces/{fake.WORKSPACE}/" in u["id"]]
    assert ("Microsoft.MachineLearningServices/workspaces/usages", 20) in {(u["type"], u["currentValue"]) for u in mine}
    assert {u["id"].split("/computes/")[1].split("/")[0] for u in mine if "/computes/" in u["id"]} >= {
        "cpu-cluster", "dev-instance"}
    totals = {u["name"]["value"]: u["currentValue"] for u in rows if "Regional" in u["name"]["value"]}
    dedicated = sum(u["currentValue"] for n, u in family.items() if "Dedicated" in n)
    assert totals == {DEDICATED_TOTAL: dedicated, LOW_PRIORITY_TOTAL: 18} and dedicated == 14 + 20
    clusters = next(u for u in rows if u["name"]["value"] == "Clusters")
    assert clusters["currentValue"] == 7 + 2  # the example's seven and ws-demo's two


# --- the azure workspace's records --------------------------------------------------------------


def test_quotas_are_dedicated_per_family_the_regional_totals_and_no_limit_for_low_priority(ws):
    usages = ws.quotas.usage()
    dedicated, low = by_kind(usages, QuotaUsage.DEDICATED), by_kind(usages, QuotaUsage.LOW_PRIORITY)
    # The example's ten families and the two the fake's size catalog adds, each once, by family name.
    assert len(dedicated) == 12 and all("Cluster" not in f and "vCPUs" not in f for f in dedicated)
    assert (dedicated["standardDSv2Family"].used, dedicated["standardDSv2Family"].limit) == (22, 24)
    assert (dedicated["Standard NC Family"].used, dedicated["Standard NC Family"].limit) == (12, 24)
    assert dedicated["Standard NCv3 Family"].limit == 0
    # Low-priority: Azure's -1 is no limit, never a figure to draw or subtract.
    assert set(low) == set(dedicated) and all(u.limit is None and u.unlimited for u in low.values())
    nc = low["Standard NC Family"]
    assert (nc.used, nc.free, nc.ratio) == (18, None, 0.0)
    (region,) = [u for u in usages if u.kind == QuotaUsage.REGIONAL_DEDICATED]
    (region_low,) = [u for u in usages if u.kind == QuotaUsage.REGIONAL_LOW_PRIORITY]
    assert (region.family, region.used, region.limit, region.free) == (DEDICATED_TOTAL, 34, 24, 0)
    assert (region_low.family, region_low.used, region_low.limit) == (LOW_PRIORITY_TOTAL, 18, 50)
    assert len(usages) == 12 + 12 + 2  # nothing from the count of clusters or the scoped rows


def test_workspace_and_compute_rows_are_never_counted_twice(ws, fake):
    def figures() -> dict[tuple[str, str], int]:
        return {(u.kind, u.family): u.used for u in ws.quotas.usage()}

    before = figures()
    # The sum over the families is the regional total Azure reports, with nothing added twice.
    assert sum(v for (kind, _), v in before.items() if kind == QuotaUsage.DEDICATED) == before[
        (QuotaUsage.REGIONAL_DEDICATED, DEDICATED_TOTAL)]
    ws.operations.wait(ws.compute.stop("dev-instance").id, timeout_s=10)
    after = figures()
    assert after[(QuotaUsage.DEDICATED, "standardDSv2Family")] == before[(QuotaUsage.DEDICATED, "standardDSv2Family")] - 4
    assert after[(QuotaUsage.REGIONAL_DEDICATED, DEDICATED_TOTAL)] == 30


# --- the CLI ------------------------------------------------------------------------------------


@pytest.fixture()
def cli(fake, tmp_path, monkeypatch):
    """`amlops --workspace demo ...` in this process, the profile's workspace answered by `fake`."""
    profile_over_the_fake(fake, tmp_path, monkeypatch)
    return lambda *args: amlops_in_process("--workspace", "demo", *args)


def test_quota_list_shows_the_regional_totals_first_and_no_limit_where_azure_says_minus_1(cli):
    done = cli("quota", "list")
    assert done.returncode == 0, done.stderr
    lines = [line.split() for line in done.stdout.splitlines()]
    assert lines[0] == ["FAMILY", "TIER", "USED", "LIMIT", "FREE"]
    assert lines[1] == ["all", "families", "(region)", "dedicated", "34", "24", "0", "over", "the", "limit"]
    assert lines[2] == ["all", "families", "(region)", "low", "priority", "18", "50", "32"]
    low = [line for line in done.stdout.splitlines() if "low priority" in line and "(region)" not in line]
    assert len(low) == 1 and low[0].split()[:8] == ["Standard", "NC", "Family", "low", "priority", "18", "no", "limit"]
    assert "-1" not in done.stdout and "vCPUs" not in done.stdout
    records = json.loads(cli("quota", "list", "--json").stdout)
    nc_low = [r for r in records if r["kind"] == "lowPriority" and r["family"] == "Standard NC Family"]
    assert nc_low == [{"family": "Standard NC Family", "used": 18, "limit": None, "location": "eastus",
                       "unit": "Cores", "kind": "lowPriority"}]
    assert {r["kind"] for r in records} == set(QuotaUsage.KINDS)


def test_lint_against_the_workspace_checks_a_familys_dedicated_limit(cli, tmp_path):
    spec = tmp_path / "gpu.yml"
    spec.write_text("$schema: https://azuremlschemas.azureedge.net/latest/amlCompute.schema.json\n"
                    "name: gpu\ntype: amlcompute\nsize: Standard_NC6s_v3\nmin_instances: 0\nmax_instances: 1\n")
    done = cli("lint", "--workspace", "--json", str(spec))
    findings = json.loads(done.stdout)["findings"]
    # Its low-priority row (no limit) must not stand in for the family's dedicated 0.
    assert [f["rule"] for f in findings if f["rule"] == "gpu-no-quota"] == ["gpu-no-quota"], done.stdout
    assert "whose quota in the azure workspace ws-demo is 0" in next(f["message"] for f in findings
                                                                      if f["rule"] == "gpu-no-quota")
