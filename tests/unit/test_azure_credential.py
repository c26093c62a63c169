"""Signing in to Azure: no credential found is not a 401. A credential chain that found nothing
to sign in with says so, names what it tried (parsed from what azure-identity reports) and the
one step that works with no `az` (`--credential device_code`, or the profile's "credential" key,
in the file that was read); a real 401 from Azure says the credential was refused. azure-identity's
own warning goes to the workspace's azure.log, never to stderr (a terminal UI runs there).

The failing credentials are azure-identity's own classes, run with nothing to sign in with: no
AZURE_* variables, no `az` on PATH, an empty HOME, managed identity left out (it would probe
169.254.169.254); the `offline` fixture fails any test that tries the network."""

from __future__ import annotations

import json
import logging

import pytest
from azure.core.exceptions import ClientAuthenticationError

from console.azure.errors import _fix, translate
from console.azure.target import AzureTarget, from_config_file, from_profile
from console.errors import BackendUnavailable, InvalidField, NoCredential

from fakes.azure import azure_workspace, fake, offline  # noqa: F401 - fixtures

IMDS = "ManagedIdentityCredential authentication unavailable, no response from the IMDS endpoint."


@pytest.fixture()
def nothing_to_sign_in_with(tmp_path, monkeypatch):
    """A host with no Azure sign-in of any kind: what a fresh clone without `az` has."""
    import os

    for var in [v for v in os.environ if v.startswith(("AZURE_", "IDENTITY_", "MSI_", "IMDS_"))]:
        monkeypatch.delenv(var)
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))  # no az, azd or pwsh
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no token cache, no VS Code sign-in


def default_chain():
    """DefaultAzureCredential as the console builds it, managed identity left out (its IMDS probe
    is the one step that would leave this machine)."""
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential(exclude_interactive_browser_credential=True,
                                  exclude_managed_identity_credential=True)


def chain_raising(*failures: tuple[str, str]):
    """azure-identity's ChainedTokenCredential over credentials named as azure-identity's are, each
    raising CredentialUnavailableError with `message`: the library writes the aggregated message."""
    from azure.identity import ChainedTokenCredential, CredentialUnavailableError

    def unavailable(name: str, message: str):
        def get_token(self, *scopes, **kwargs):
            raise CredentialUnavailableError(message=message)

        return type(name, (), {"get_token": get_token})()

    return ChainedTokenCredential(*(unavailable(name, message) for name, message in failures))


def target(**kw) -> AzureTarget:
    return AzureTarget("sub", "rg", "ws-demo", **{"source": "test", **kw})


def test_no_credential_found_is_said_with_what_was_tried_and_the_one_step(fake, tmp_path, monkeypatch,
                                                                         nothing_to_sign_in_with, caplog):
    ws = azure_workspace(fake, tmp_path, monkeypatch)
    ws.session._credential = default_chain()  # noqa: SLF001 - the chain a fresh clone runs
    with pytest.raises(NoCredential) as err:
        ws.compute.list()
    message = err.value.message
    assert message.startswith("no Azure credential found: use --credential device_code (sign in from any browser)")
    assert "401" not in message and "refused" not in message
    tried = dict(err.value.tried)
    assert tried["Azure CLI"] == "az not installed"
    assert tried["environment"] == "AZURE_* variables not set"
    assert "managed identity" not in tried  # left out here: only what was tried is named
    assert "Azure CLI (az not installed)" in message
    assert fake.requests == []  # nothing reached Azure


def test_a_chain_that_reached_no_imds_names_managed_identity_too():
    chain = chain_raising(
        ("EnvironmentCredential", "EnvironmentCredential authentication unavailable. Environment variables are not "
                                  "fully configured.\nVisit https://aka.ms/azsdk/python/identity/environmentcredential/"
                                  "troubleshoot to troubleshoot this issue."),
        ("ManagedIdentityCredential", IMDS),
        ("AzureCliCredential", "Azure CLI not found on path"))
    with pytest.raises(ClientAuthenticationError) as raised:
        chain.get_token("https://management.azure.com/.default")
    err = translate(raised.value, target(), "compute", "")
    assert isinstance(err, NoCredential)
    assert err.tried == [("environment", "AZURE_* variables not set"), ("managed identity", "no IMDS endpoint"),
                         ("Azure CLI", "az not installed")]
    assert err.detail.splitlines()[1] == "managed identity: no IMDS endpoint"


def test_the_fix_names_the_key_in_the_file_that_was_read(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    from console.config import config_file

    path = config_file()
    assert path == tmp_path / "xdg" / "amlops" / "config.json"
    profile = {"subscription_id": "sub", "resource_group": "rg", "workspace_name": "ws-demo", "credential": "cli"}
    chosen = from_profile("prod", {"profiles": {"prod": profile}}, str(path))
    from azure.identity import CredentialUnavailableError

    err = translate(CredentialUnavailableError(message="Azure CLI not found on path"), chosen, "compute", "")
    assert isinstance(err, NoCredential)
    assert f'; or "credential": "device_code" in profile prod of {path})' in err.message
    assert err.message.endswith("; tried Azure CLI (az not installed)")  # the profile's one credential


def test_an_azure_ml_config_json_is_named_as_the_file_to_set_it_in(tmp_path):
    found = tmp_path / ".azureml" / "config.json"
    found.parent.mkdir()
    found.write_text(json.dumps({"subscription_id": "sub", "resource_group": "rg", "workspace_name": "ws"}))
    chosen = from_config_file(tmp_path)
    assert chosen.setting("credential", "device_code") == f'"credential": "device_code" in {found}'


def test_no_config_json_names_the_config_file_xdg_points_at(tmp_path, monkeypatch):
    from console.errors import BadInput

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    with pytest.raises(BadInput) as err:
        from_config_file(tmp_path)
    assert err.value.message.endswith(f"profiles in {tmp_path / 'xdg' / 'amlops' / 'config.json'})")


def test_the_first_words_carry_the_meaning_at_a_pane_s_width():
    err = NoCredential([("environment", "AZURE_* variables not set"), ("Azure CLI", "az not installed")],
                       fix=_fix(target(config_file="/home/op/.config/amlops/config.json", profile="prod")))
    status = f"cannot read: {err}"  # how a pane that never loaded says it (ui/panes/base.py)
    assert status[:70].startswith("cannot read: no Azure credential found: use --credential device_code")  # jobs pane, 120 cols


def test_a_real_401_from_azure_is_a_refused_credential(fake, tmp_path, monkeypatch):
    ws = azure_workspace(fake, tmp_path, monkeypatch)
    fake.fail("GET", r"/computes$", 401, times=10)
    with pytest.raises(BackendUnavailable) as err:
        ws.compute.list()
    assert not isinstance(err.value, NoCredential)
    assert err.value.message.startswith("not authorised on ws-demo")
    assert "Azure refused the credential (401)" in err.value.message


def test_a_sign_in_entra_refused_is_not_no_credential():
    chain = chain_raising(("EnvironmentCredential", "EnvironmentCredential authentication unavailable."),
                          ("AzureCliCredential", "ERROR: AADSTS700082: The refresh token has expired due to "
                                                 "inactivity. Run 'az login' to sign in again."))
    with pytest.raises(ClientAuthenticationError) as raised:
        chain.get_token("https://management.azure.com/.default")
    err = translate(raised.value, target(), "compute", "")
    assert not isinstance(err, NoCredential)
    assert err.message.startswith("Azure sign-in failed (Azure CLI: AADSTS700082)")


def test_azure_identity_writes_nothing_to_stderr_during_a_failed_read(fake, tmp_path, monkeypatch, capfd, caplog,
                                                                     nothing_to_sign_in_with):
    caplog.set_level(logging.DEBUG)  # the root logger's handlers: Python's last resort is stderr without one
    ws = azure_workspace(fake, tmp_path, monkeypatch)
    ws.session._credential = default_chain()  # noqa: SLF001
    with pytest.raises(NoCredential):
        ws.jobs.list()
    assert capfd.readouterr().err == ""
    assert [r for r in caplog.records if r.name.startswith("azure.identity")] == []  # it never reached root
    kept = list((tmp_path / "amlops" / "azure").glob("*/*/*/azure.log"))  # the workspace's own log
    assert len(kept) == 1
    logged = "".join(p.read_text() for p in kept)
    assert "DefaultAzureCredential failed to retrieve a token" in logged and "Azure CLI not found" in logged


@pytest.mark.parametrize("flag, builds", [("device_code", "DeviceCodeCredential"), ("cli", "AzureCliCredential"),
                                          ("environment", "EnvironmentCredential")])
def test_the_credential_flag_picks_the_credential_over_the_profile_s(tmp_path, flag, builds):
    from console.azure.session import credential_for
    from console.cli import build_parser

    args = build_parser(["--workspace", "prod", "--credential", flag]).parse_args(
        ["--workspace", "prod", "--credential", flag])
    assert args.credential == flag
    profile = {"subscription_id": "sub", "resource_group": "rg", "workspace_name": "ws", "credential": "managed_identity"}
    chosen = from_profile("prod", {"profiles": {"prod": profile}}, str(tmp_path / "config.json"),
                          credential=args.credential)
    assert chosen.credential == flag
    assert type(credential_for(chosen)).__name__ == builds  # built, not used: nothing is asked of Azure
    assert from_profile("prod", {"profiles": {"prod": profile}}, "c.json").credential == "managed_identity"


def test_an_unknown_credential_is_refused(tmp_path, capsys):
    from console.cli import build_parser

    with pytest.raises(SystemExit) as exited:
        build_parser(["--credential", "browser"]).parse_args(["--credential", "browser"])
    assert exited.value.code == 2 and "device_code" in capsys.readouterr().err
    with pytest.raises(InvalidField, match="'browser': one of default, cli, device_code"):
        from_profile("p", {"profiles": {"p": {"subscription_id": "s", "resource_group": "r", "workspace_name": "w"}}},
                     "c.json", credential="browser")


def test_a_device_code_prompt_goes_to_stderr_not_stdout(capsys):
    from datetime import datetime

    from console.azure.session import device_code_prompt

    device_code_prompt("https://microsoft.com/devicelogin", "ABCD-1234", datetime(2026, 1, 1, 9, 30))
    out, err = capsys.readouterr()
    assert out == ""  # `--json` keeps stdout for JSON
    assert "https://microsoft.com/devicelogin" in err and "ABCD-1234" in err and "09:30" in err


def test_the_credential_flag_reaches_the_workspace_the_cli_opens(fake, tmp_path, monkeypatch):
    import argparse

    from console.commands.selection import workspace
    from fakes.azure import profile_over_the_fake

    profile_over_the_fake(fake, tmp_path, monkeypatch)
    opened = workspace(argparse.Namespace(backend="demo", read_only=False, workspace_dir=None, credential="device_code"))
    assert opened.target.credential == "device_code" and opened.target.profile == "demo"
    kept = workspace(argparse.Namespace(backend="demo", read_only=False, workspace_dir=None, credential=None))
    assert kept.target.credential == "default"


def test_the_credential_flag_on_the_local_workspace_is_bad_input(tmp_path):
    import argparse

    from console.commands.selection import workspace
    from console.errors import BadInput

    with pytest.raises(BadInput, match="--credential device_code is for an Azure workspace"):
        workspace(argparse.Namespace(backend="local", read_only=False, workspace_dir=str(tmp_path),
                                     credential="device_code"))
