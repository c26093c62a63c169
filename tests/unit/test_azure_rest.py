"""console/azure/rest.py reads under azure-ai-ml's public API (a cluster's node count, which the
public Compute entity drops). This pins the version it was written against: a new azure-ai-ml
must be checked (and this pin moved) before it is used."""

from __future__ import annotations

import socket

from console.azure import rest

from fakes.arm import FakeArm
from fakes.azure import azure_workspace


def test_azure_ai_ml_is_the_version_rest_py_was_written_against():
    from azure.ai.ml._version import VERSION

    assert VERSION == rest.PINNED


def test_the_rest_objects_carry_the_node_count_the_entities_drop(tmp_path, monkeypatch):
    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: (_ for _ in ()).throw(AssertionError("network")))
    fake = FakeArm()
    ws = azure_workspace(fake, tmp_path, monkeypatch)
    pairs = dict((entity.name, (entity, obj)) for entity, obj in rest.computes(ws.session.client()))
    entity, obj = pairs["cpu-cluster"]
    assert not hasattr(entity, "current_node_count")  # why rest.py exists
    assert obj.properties.properties.current_node_count == 1
    assert len(fake.calls("GET", r"/computes$")) == 1  # one listing, as the public compute.list() makes
