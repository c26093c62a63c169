"""A traffic write's audit DETAIL is its split before and after, written by one function
(`rollout.split_detail`) that both workspaces call: `amlops audit` reads the same over local and
Azure. (The rows themselves are pinned over every backend by tests/ui/test_action_keys.py.)"""

from __future__ import annotations

import pytest

from console import rollout

CASES = [
    # set_traffic: every deployment named, before and after, zeros included
    ({"traffic": {"blue": 100, "green": 0}, "mirror": {}}, {"traffic": {"blue": 90, "green": 10}, "mirror": {}},
     "live blue=100 green=0 → blue=90 green=10"),
    # rollback: all to blue, and the mirror turned off
    ({"traffic": {"blue": 50, "green": 50}, "mirror": {}}, {"traffic": {"blue": 100, "green": 0}, "mirror": {}},
     "live blue=50 green=50 → blue=100 green=0"),
    ({"traffic": {"blue": 100, "green": 0}, "mirror": {"green": 10}}, {"traffic": {"blue": 100, "green": 0}, "mirror": {}},
     "live blue=100 green=0 → blue=100 green=0; mirror green=10 → off"),
    # a deployment the before did not list (Azure strips zeros) reads as 0
    ({"traffic": {"blue": 100}, "mirror": {"green": 0}}, {"traffic": {"blue": 50, "green": 50}, "mirror": {}},
     "live blue=100 green=0 → blue=50 green=50"),
]


@pytest.mark.parametrize(("before", "after", "said"), CASES)
def test_a_traffic_writes_detail_is_its_split_before_and_after_on_both_workspaces(before, after, said):
    assert rollout.split_detail(before, after) == said

