"""The VM size catalog, quota defaults, quota checks and cost math in console/costs.py."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest

from console import costs
from console.domain import Compute, ComputeCost, Deployment, Endpoint
from console.errors import InvalidField, QuotaExceeded


def test_catalog_loads_with_provenance():
    sizes = costs.catalog()
    assert 25 <= len(sizes) <= 40
    assert {"Standard_DS3_v2", "Standard_D4s_v3", "Standard_NC6s_v3", "Standard_NC24ads_A100_v4"} <= set(sizes)
    info = costs.catalog_info()
    assert info["region"] == "local" and "approximate" in info["price_source"]
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", info["price_date"])


def test_every_price_is_positive_and_dated_and_shapes_are_sane():
    for s in costs.catalog().values():
        assert s.price_per_hour and s.price_per_hour > 0, s.name
        assert s.price_date and re.fullmatch(r"\d{4}-\d{2}-\d{2}", s.price_date), s.name
        assert s.vcpus > 0 and s.memory_gb > 0 and s.gpus >= 0, s.name
        assert s.name.startswith("Standard_"), s.name


def test_gpu_sizes_have_gpus_and_cpu_sizes_none():
    sizes = costs.catalog()
    for name in ("Standard_NC6s_v3", "Standard_NC4as_T4_v3", "Standard_ND96asr_v4", "Standard_NV6ads_A10_v5"):
        assert sizes[name].gpus > 0
    assert all(s.gpus == 0 for s in sizes.values() if s.name[len("Standard_")] in "DEF")
    assert all(s.gpus > 0 for s in sizes.values() if s.name[len("Standard_")] == "N")


def test_every_family_has_a_quota_gpu_at_zero_cpu_above():
    quotas = costs.default_quotas()
    families = {s.family for s in costs.catalog().values()}
    assert families <= set(quotas)
    gpu_families = {s.family for s in costs.catalog().values() if s.gpus}
    assert gpu_families and all(quotas[f] == 0 for f in gpu_families)
    assert all(quotas[f] > 0 for f in families - gpu_families)
    assert costs.regional_limit() > 0


def test_family_spellings_are_distinct_and_match_azure_variants():
    families = set(costs.default_quotas())
    assert len({costs.family_key(f) for f in families}) == len(families)
    key = costs.family_key
    assert key("Standard DSv2 Family Cluster Dedicated vCPUs") == key("standardDSv2Family")
    assert key("Standard NCASv3_T4 Family") == key("standardNCASv3_T4Family")
    assert key("standardNCADSA100v4Family") == key("StandardNCADSA100v4Family")
    assert key("Standard NCADS_A100_v4 Family vCPUs") == key("StandardNCADSA100v4Family")
    assert key("Standard DSv2 Family Cluster LowPriority vCPUs") != key("standardDSv2Family")


def test_lookups_are_case_insensitive():
    assert costs.size("standard_ds3_v2") == costs.size("STANDARD_DS3_V2") == costs.catalog()["Standard_DS3_v2"]
    assert costs.size("Standard_Nope") is None
    assert costs.family_of("standard_nc6s_v3") == "standardNCSv3Family"
    assert costs.hourly_cost("STANDARD_DS3_V2") == costs.hourly_cost("Standard_DS3_v2")


def test_catalog_is_a_copy():
    costs.catalog().clear()
    assert costs.catalog()


def test_reserve_rounds_instances_up():
    assert costs.vcpus_needed("Standard_DS3_v2") == 4
    assert costs.vcpus_needed("Standard_DS3_v2", 3) == 12
    # Azure's own example: 10 instances of DS3_v2 need quota for 12 instances = 48 cores.
    assert costs.vcpus_needed("Standard_DS3_v2", 10, reserve=1.2) == 48
    # Rounding is per instance: one instance reserves two.
    assert costs.vcpus_needed("Standard_DS3_v2", 1, reserve=1.2) == 8
    assert costs.vcpus_needed("Standard_DS3_v2", 6, reserve=1.2) == 32  # ceil(7.2) = 8 instances
    assert costs.vcpus_needed("Standard_DS3_v2", 0, reserve=1.2) == 0


def test_online_reserve_skips_the_exempt_sizes():
    assert costs.online_reserve("Standard_DS3_v2") == 1.2
    assert costs.online_reserve("Standard_NC24ads_A100_v4") == 1.0


def test_bad_input_is_invalid_field():
    with pytest.raises(InvalidField) as err:
        costs.vcpus_needed("Standard_DS3_v9")
    assert err.value.field == "size" and "Standard_DS3_v2" in str(err.value)
    with pytest.raises(InvalidField):
        costs.check_quota("Nope", 1, {}, costs.quota_limits())
    with pytest.raises(InvalidField):
        costs.vcpus_needed("Standard_DS3_v2", -1)
    with pytest.raises(InvalidField):
        costs.vcpus_needed("Standard_DS3_v2", 1, reserve=0.5)


def test_check_quota_refuses_a_zero_quota_gpu_family():
    with pytest.raises(QuotaExceeded) as err:
        costs.check_quota("Standard_NC6s_v3", 1, {}, costs.quota_limits())
    e = err.value
    assert (e.family, e.need, e.used, e.limit) == ("standardNCSv3Family", 6, 0, 0)
    assert "standardNCSv3Family" in str(e) and "6 vCPUs" in str(e) and "Azure portal" in str(e)


def test_quota_advice_names_the_config_file_by_its_full_path():
    advice = costs.how_to_raise("standardNCSv3Family", "/home/op/.local/share/amlops/workspaces/default/config.json")
    assert '"quotas": {"standardNCSv3Family": N} in /home/op/.local/share/amlops/workspaces/default/config.json' in advice
    assert costs.REGIONAL_KEY in costs.how_to_raise(costs.REGIONAL_TOTAL, "/x/config.json")
    with pytest.raises(QuotaExceeded) as err:
        costs.check_quota("Standard_NC6s_v3", 1, {}, costs.quota_limits(), advice=lambda family: f"edit /x for {family}")
    assert str(err.value).endswith("edit /x for standardNCSv3Family")


def test_check_quota_passes_within_limits_and_counts_usage():
    limits = costs.quota_limits()
    assert costs.check_quota("Standard_DS3_v2", 2, {"standardDSv2Family": 16}, limits) == 8
    with pytest.raises(QuotaExceeded) as err:
        costs.check_quota("Standard_DS3_v2", 2, {"standardDSv2Family": 20}, limits)
    assert (err.value.need, err.value.used, err.value.limit) == (8, 20, 24)
    # Online deployment: 2 instances reserve ceil(2.4) = 3, i.e. 12 vCPUs.
    with pytest.raises(QuotaExceeded):
        costs.check_quota("Standard_DS3_v2", 2, {"standardDSv2Family": 16}, limits, reserve=1.2)
    assert costs.check_quota("Standard_NC6s_v3", 0, {}, limits) == 0


def test_check_quota_reads_usage_keyed_in_another_spelling():
    used = {"Standard DSv2 Family Cluster Dedicated vCPUs": 20}
    with pytest.raises(QuotaExceeded):
        costs.check_quota("Standard_DS3_v2", 2, used, costs.quota_limits())


def test_check_quota_regional_total_when_given():
    limits = costs.quota_limits()
    used = {"standardDSv3Family": 16}
    with pytest.raises(QuotaExceeded) as err:
        costs.check_quota("Standard_DS3_v2", 3, used, limits, total_limit=costs.regional_limit())
    assert err.value.family == costs.REGIONAL_TOTAL and err.value.used == 16
    assert costs.check_quota("Standard_DS3_v2", 3, used, limits) == 12  # family alone allows it


def test_overrides_apply():
    limits = costs.quota_limits({"standardNCSv3Family": 12, "standardDSv2Family": 4, "myNewFamily": 8})
    assert limits["standardNCSv3Family"] == 12 and limits["standardDSv2Family"] == 4 and limits["myNewFamily"] == 8
    assert costs.check_quota("Standard_NC6s_v3", 2, {}, limits) == 12
    # Another spelling of a known family replaces it instead of adding a twin.
    limits = costs.quota_limits({"Standard NCASv3_T4 Family": 8})
    assert limits["standardNCASv3_T4Family"] == 8 and "Standard NCASv3_T4 Family" not in limits
    assert costs.default_quotas()["standardNCSv3Family"] == 0  # defaults untouched
    assert costs.regional_limit({"total_regional_vcpus": 100}) == 100
    assert "total_regional_vcpus" not in costs.quota_limits({"total_regional_vcpus": 100})
    with pytest.raises(InvalidField) as err:
        costs.quota_limits({"standardNCSv3Family": -1})
    assert err.value.field == "quotas.standardNCSv3Family"
    with pytest.raises(InvalidField):
        costs.quota_limits({"standardNCSv3Family": True})


def test_costs():
    hourly = costs.size("Standard_DS3_v2").price_per_hour
    assert costs.hourly_cost("Standard_DS3_v2", 3) == pytest.approx(3 * hourly)
    assert costs.hourly_cost("Standard_Unknown") is None
    assert costs.idle_cost("Standard_DS3_v2", 1800, nodes=2) == pytest.approx(hourly)
    assert costs.idle_cost("Standard_DS3_v2", -5) == 0
    assert costs.idle_cost("Standard_Unknown", 3600) is None
    assert costs.monthly_cost("Standard_DS3_v2") == pytest.approx(730 * hourly)


NOW = datetime(2025, 1, 1, 12, tzinfo=timezone.utc)
DS3 = "Standard_DS3_v2"


def instance(state: str, size: str = DS3, **kw) -> Compute:
    return Compute(f"ci-{state.lower()}", "computeinstance", size, state, **kw)


def cluster(state: str, nodes: int, size: str = DS3) -> Compute:
    return Compute(f"cpu-{state.lower()}", "amlcompute", size, state, max_instances=4, current_nodes=nodes)


def test_an_instance_bills_its_vm_from_start_to_stop_and_is_unknown_where_its_state_does_not_say():
    hourly = costs.hourly_cost(DS3)
    for state in ("Running", "JobRunning", "Starting", "Stopping", "Restarting", "SettingUp", "UserSettingUp"):
        assert (costs.billed_nodes(instance(state)), costs.cost_per_hour(instance(state))) == (1, hourly), state
    assert (costs.billed_nodes(instance("Stopped")), costs.cost_per_hour(instance("Stopped"))) == (0, 0.0)
    for state in ("Creating", "CreateFailed", "Deleting", "Resizing", "SetupFailed", "UserSetupFailed", "Unusable",
                  "Unknown", "SomethingNew"):
        assert costs.billed_nodes(instance(state)) is None and costs.cost_per_hour(instance(state)) is None, state
    # Nothing bills: free whatever the size; something bills at a price the catalog lacks: unknown.
    assert costs.cost_per_hour(instance("Stopped", "Standard_Made_Up_v9")) == 0.0
    assert costs.cost_per_hour(instance("Running", "Standard_Made_Up_v9")) is None


def test_a_cluster_bills_its_current_nodes_whether_steady_or_resizing():
    hourly = costs.hourly_cost(DS3)
    assert costs.cost_per_hour(cluster("Steady", 2)) == pytest.approx(2 * hourly)
    assert costs.cost_per_hour(cluster("Resizing", 1)) == pytest.approx(hourly)  # nodes come and go: those held bill
    assert costs.cost_per_hour(cluster("Steady", 0)) == costs.cost_per_hour(cluster("Resizing", 0)) == 0.0


def test_idle_time_is_an_instance_running_with_no_job_since_its_last_activity():
    since = dict(last_activity=NOW - timedelta(minutes=90))
    assert costs.idle_minutes(instance("Running", **since), NOW) == pytest.approx(90)
    naive = instance("Running", last_activity=(NOW - timedelta(minutes=5)).replace(tzinfo=None))
    assert costs.idle_minutes(naive, NOW) == pytest.approx(5)  # a naive time is UTC
    assert costs.idle_minutes(instance("Running", last_activity=NOW + timedelta(minutes=2)), NOW) == 0.0  # skew
    assert costs.idle_minutes(instance("Running"), NOW) is None  # no activity recorded
    for busy in (instance("JobRunning", **since), instance("Stopped", **since), instance("Starting", **since)):
        assert costs.idle_minutes(busy, NOW) is None and not costs.is_idle(busy), busy.state
    steady = Compute("cpu", "amlcompute", DS3, "Running", current_nodes=2, **since)  # a cluster idles by scaling down
    assert costs.idle_minutes(steady, NOW) is None and not costs.is_idle(steady)


def test_known_sum_is_unknown_only_when_nothing_is_known():
    assert costs.known_sum([1.5, None, 2.0]) == 3.5
    assert costs.known_sum([None, None]) is None and costs.known_sum([]) is None
    assert costs.known_sum([0.0]) == 0.0


def test_the_bill_counts_what_has_no_known_price_out_loud_and_unread_parts_as_unknown():
    hourly = costs.hourly_cost(DS3)
    computes = [instance("Running"), instance("Starting"), instance("Stopped"), instance("Unknown"),
                cluster("Resizing", 2), cluster("Steady", 1, "Standard_Made_Up_v9")]
    today = {"ci-running": ComputeCost("ci-running", "2025-01-01", cost=2.0, idle_cost=0.5)}
    endpoints = [Endpoint("ep", deployments=(
        Deployment("ep", "blue", None, "Standard_DS2_v2", cost_per_hour=0.3, cost_today=1.0),
        Deployment("ep", "green", None, "Standard_Made_Up_v9", cost_per_hour=None, cost_today=None)))]
    bill = costs.Bill.of(computes, today, endpoints)
    assert bill.compute_hour == pytest.approx(4 * hourly)
    assert (bill.deployments_hour, bill.compute_today, bill.idle_today, bill.deployments_today) == (0.3, 2.0, 0.5, 1.0)
    assert bill.unpriced == 3  # ci-unknown, the made-up cluster, green
    assert bill.hour == pytest.approx(4 * hourly + 0.3) and bill.today == 3.0

    unread = costs.Bill.of(computes, None, None)
    assert (unread.compute_today, unread.idle_today, unread.deployments_hour, unread.deployments_today) == (None,) * 4
    assert unread.hour == pytest.approx(4 * hourly) and unread.today is None and unread.unpriced == 2
    assert costs.Bill.of([], {}, []).today == 0.0  # read, and nothing ran: free, not unknown
