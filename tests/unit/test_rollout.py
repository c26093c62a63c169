"""Azure's traffic rules, checked before anything changes."""

from __future__ import annotations

import pytest

from console.errors import TrafficRuleError
from console.rollout import (
    check_delete,
    check_mirror,
    check_new_deployment,
    check_traffic,
    parse_split,
    record_full,
    rollback_split,
)

DEPLOYMENTS = ["blue", "green"]


def test_traffic_must_sum_to_0_or_100():
    assert check_traffic({"blue": 90, "green": 10}, DEPLOYMENTS) == {"blue": 90, "green": 10}
    assert check_traffic({"blue": 0}, DEPLOYMENTS) == {"blue": 0, "green": 0}
    with pytest.raises(TrafficRuleError, match="sum to 0 or 100, got 90"):
        check_traffic({"blue": 80, "green": 10}, DEPLOYMENTS)


def test_unnamed_deployments_get_zero():
    assert check_traffic({"green": 100}, DEPLOYMENTS) == {"blue": 0, "green": 100}


@pytest.mark.parametrize("value", ["10.5", "ten", 10.5, True, -5, 101])
def test_traffic_is_an_integer_percentage(value):
    with pytest.raises(TrafficRuleError):
        check_traffic({"blue": value}, DEPLOYMENTS)


def test_only_existing_deployments_take_traffic():
    with pytest.raises(TrafficRuleError, match="no deployment named red"):
        check_traffic({"blue": 50, "red": 50}, DEPLOYMENTS)


def test_mirror_goes_to_one_deployment_at_most_50_percent_with_no_live_traffic():
    live = {"blue": 100, "green": 0}
    assert check_mirror({"green": 10}, live, DEPLOYMENTS) == {"green": 10}
    assert check_mirror({"green": 0}, live, DEPLOYMENTS) == {}
    with pytest.raises(TrafficRuleError, match="at most 50"):
        check_mirror({"green": 60}, live, DEPLOYMENTS)
    with pytest.raises(TrafficRuleError, match="live traffic"):
        check_mirror({"blue": 10}, live, DEPLOYMENTS)
    with pytest.raises(TrafficRuleError, match="one deployment"):
        check_mirror({"blue": 10, "green": 10}, {"blue": 0, "green": 0}, DEPLOYMENTS)


def test_a_mirrored_deployment_cannot_take_live_traffic():
    with pytest.raises(TrafficRuleError, match="mirror"):
        check_traffic({"blue": 90, "green": 10}, DEPLOYMENTS, mirror={"green": 10})


def test_a_deployment_with_traffic_cannot_be_deleted():
    with pytest.raises(TrafficRuleError, match="live traffic"):
        check_delete("blue", {"blue": 100}, {})
    with pytest.raises(TrafficRuleError, match="mirror"):
        check_delete("green", {"blue": 100, "green": 0}, {"green": 10})
    check_delete("green", {"blue": 100, "green": 0}, {})


def test_at_most_20_deployments():
    existing = [f"d{i:02d}" for i in range(20)]
    with pytest.raises(TrafficRuleError, match="20"):
        check_new_deployment("d20", existing)
    check_new_deployment("d00", existing)  # replacing one is fine


def test_rollback_returns_everything_to_the_stable_deployment():
    history = record_full([], {"blue": 100, "green": 0})
    mid_ramp = {"blue": 50, "green": 50}
    history = record_full(history, mid_ramp)
    assert history == ["blue"]
    assert rollback_split(DEPLOYMENTS, history, mid_ramp) == {"blue": 100, "green": 0}
    promoted = {"blue": 0, "green": 100}
    history = record_full(history, promoted)
    assert history == ["blue", "green"]
    # green finished the ramp: rolling back means back to blue, not staying on green
    assert rollback_split(DEPLOYMENTS, history, promoted) == {"blue": 100, "green": 0}
    with pytest.raises(TrafficRuleError, match="nothing to roll back"):
        rollback_split(DEPLOYMENTS, [], {"blue": 0, "green": 0})
    with pytest.raises(TrafficRuleError, match="nothing to roll back"):
        rollback_split(["green"], ["blue", "green"], {"green": 100})  # blue was deleted


def test_parse_split():
    assert parse_split(["blue=90", "green=10"]) == {"blue": 90, "green": 10}
    with pytest.raises(TrafficRuleError):
        parse_split(["blue:90"])
    with pytest.raises(TrafficRuleError):
        parse_split(["blue=ninety"])
