"""The azure workspace (console/azure/) over the fake ARM (tests/fakes/arm.py): the real
azure-ai-ml code, a fake credential, a transport that never leaves the process, and the
console's state for the workspace (audit log, operations) in a temporary folder."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from console.azure.target import AzureTarget
from console.azure.workspace import AzureWorkspace

from fakes.arm import FakeArm


class FakeCredential:
    """All a credential needs: a token. It is JWT-shaped (unsigned), for the resource asked for:
    azure-ai-ml decodes it for pipeline jobs to check it has Azure ML's audience."""

    def get_token(self, *scopes, **kwargs):
        import base64
        import json

        from azure.core.credentials import AccessToken

        def part(data: dict) -> str:
            return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

        expires = int(time.time()) + 3600
        audience = (scopes[0] if scopes else "").removesuffix("/.default")
        claims = {"aud": audience, "tid": "00000000-0000-0000-0000-00000000beef", "exp": expires}
        return AccessToken(f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}.fake", expires)


class SleeplessTransport:
    """Made on first use: a RequestsTransport over the fake that records the waits azure-core's
    retry policy asks for (Retry-After) instead of sleeping through them."""

    def __new__(cls, session):
        from azure.core.pipeline.transport import RequestsTransport

        class Recording(RequestsTransport):
            def __init__(self, **kwargs):
                super().__init__(**kwargs)
                self.slept: list[float] = []

            def sleep(self, duration):
                self.slept.append(duration)

        return Recording(session=session)


def target_of(fake: FakeArm, **kw) -> AzureTarget:
    return AzureTarget(fake.SUBSCRIPTION, fake.RESOURCE_GROUP, fake.WORKSPACE, source="the fake ARM", **kw)


def azure_workspace(fake: FakeArm, state: Path, monkeypatch, *, read_only: bool = False) -> AzureWorkspace:
    """An AzureWorkspace over `fake`, its own state under `state` (XDG_DATA_HOME)."""
    monkeypatch.setenv("XDG_DATA_HOME", str(state))
    for var in ("ARM_CLOUD_METADATA_URL", "AZUREML_CURRENT_CLOUD"):  # the SDK would download cloud metadata
        monkeypatch.delenv(var, raising=False)
    from azure.ai.ml.constants._common import LROConfigurations

    # Some of azure-ai-ml's pollers wait 5 s between polls whatever polling_interval says.
    monkeypatch.setattr(LROConfigurations, "POLL_INTERVAL", 0)
    return AzureWorkspace(target_of(fake, read_only=read_only), credential=FakeCredential(),
                          transport=SleeplessTransport(fake.session()), polling_interval=0)


# --- pytest fixtures, for the azure tests to import: `from fakes.azure import fake, offline, ws` ---


@pytest.fixture()
def offline(monkeypatch):
    """Any connection or name lookup fails, and fails the test at teardown even when the SDK
    swallowed the error (azure-ai-ml catches broadly in places). The cloud-metadata download stays off."""
    tried: list[str] = []

    def refuse(*args, **kwargs):
        tried.append(repr(args[:2]))
        raise AssertionError(f"a test tried to reach the network: {args[:2]!r}")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    for var in ("ARM_CLOUD_METADATA_URL", "AZUREML_CURRENT_CLOUD"):
        monkeypatch.delenv(var, raising=False)
    yield
    assert not tried, f"the network was tried: {tried}"


@pytest.fixture()
def fake(offline):
    """The demo workspace's fake ARM, offline."""
    return FakeArm()


@pytest.fixture()
def ws(fake, tmp_path, monkeypatch):
    """The azure workspace over `fake`."""
    return azure_workspace(fake, tmp_path, monkeypatch)


def profile_over_the_fake(fake: FakeArm, tmp_path: Path, monkeypatch, **profiles: dict) -> None:
    """A config file whose profile `demo` (and any given in `profiles`, e.g. watch={"read_only":
    True}) names `fake`'s workspace, and every Session the CLI opens answered by `fake`: the
    real azure-ai-ml, a fake credential, no network. `amlops --workspace demo ...` then works."""
    import json

    from azure.ai.ml.constants._common import LROConfigurations

    import console.azure.session as session

    profile = {"subscription_id": fake.SUBSCRIPTION, "resource_group": fake.RESOURCE_GROUP,
               "workspace_name": fake.WORKSPACE}
    (tmp_path / "config" / "amlops").mkdir(parents=True)
    (tmp_path / "config" / "amlops" / "config.json").write_text(json.dumps(
        {"profiles": {"demo": profile, **{name: {**profile, **extra} for name, extra in profiles.items()}}}))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setattr(LROConfigurations, "POLL_INTERVAL", 0)
    monkeypatch.setattr(session, "credential_for", lambda target: FakeCredential())
    built = session.Session.__init__

    def over_the_fake(self, target, **kw):  # what a real profile opens, its HTTP answered by the fake
        built(self, target, credential=None, transport=SleeplessTransport(fake.session()), polling_interval=0)

    monkeypatch.setattr(session.Session, "__init__", over_the_fake)
