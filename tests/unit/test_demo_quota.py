"""The demo leaves quota room for its headline workflow: right after `make run`, with the training
cluster still holding the node of the job that just ended, deploying green must fit, under
Azure's rules (20 % extra instances for online deployments, per-family limits)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from console import costs
from console.errors import QuotaExceeded

SPECS = Path(__file__).resolve().parents[2] / "specs"


def _spec(rel: str) -> dict:
    return yaml.safe_load((SPECS / rel).read_text())


def _held_right_after_the_demo() -> dict[str, int]:
    """vCPUs per family the demo holds the moment the console opens: the dev instance running,
    the cluster's one training node not yet scaled down, blue's reservation."""
    held: dict[str, int] = {}

    def hold(size: str, vcpus: int) -> None:
        family = costs.family_of(size)
        held[family] = held.get(family, 0) + vcpus

    instance, cluster, blue = (_spec("compute/dev-instance.yml"), _spec("compute/cpu-cluster.yml"),
                               _spec("endpoints/blue-deployment.yml"))
    hold(instance["size"], costs.vcpus_needed(instance["size"], 1))
    hold(cluster["size"], costs.vcpus_needed(cluster["size"], 1))
    hold(blue["instance_type"], costs.vcpus_needed(blue["instance_type"], blue["instance_count"],
                                                   costs.online_reserve(blue["instance_type"])))
    return held


def test_green_fits_the_quota_the_moment_the_demo_is_set_up():
    green = _spec("endpoints/green-deployment.yml")
    size = green["instance_type"]
    need = costs.check_quota(size, green["instance_count"], _held_right_after_the_demo(), costs.quota_limits(),
                             reserve=costs.online_reserve(size))
    assert need == costs.vcpus_needed(size, green["instance_count"], 1.2)


def test_green_can_take_all_of_blues_load():
    """A green smaller than blue could not take 100 % of the traffic blue serves."""
    blue, green = _spec("endpoints/blue-deployment.yml"), _spec("endpoints/green-deployment.yml")
    capacity = lambda d: d["instance_count"] * d["request_settings"]["max_concurrent_requests_per_instance"]  # noqa: E731
    assert capacity(green) >= capacity(blue)


def test_the_gpu_cluster_still_meets_a_zero_quota():
    """The demo keeps the lesson a new subscription teaches: GPU families start at 0."""
    gpu = _spec("compute/gpu-cluster.yml")
    with pytest.raises(QuotaExceeded) as err:
        costs.check_quota(gpu["size"], 1, {}, costs.quota_limits())
    assert err.value.limit == 0
