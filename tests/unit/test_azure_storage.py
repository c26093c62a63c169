"""The workspace's datastores as the console reads them (console/azure/storage.py) against storage
as it answers (tests/fakes/arm.py): a datastore resolved once per expiry of its SAS; an
identity-based one, and an account that refuses shared keys, read with the user's token; storage's
403s in its own XML and x-ms-error-code, each saying what it wants."""

from __future__ import annotations

import pytest

from console.errors import BackendUnavailable

from fakes.arm import BLOB_HOST, FakeArm
from fakes.azure import azure_workspace, fake, offline, ws  # noqa: F401 (fixtures)

pytestmark = pytest.mark.usefixtures("offline")
JOB = "happy_cloud_3j5k7l9m0n"


def blob_calls(fake):
    return [c for c in fake.requests if c.host.endswith(BLOB_HOST)]


def test_an_identity_based_datastore_is_read_with_the_token_and_never_asks_for_secrets(tmp_path, monkeypatch):
    fake = FakeArm(identity_datastores=True, blob_data_role="Storage Blob Data Reader")
    ws = azure_workspace(fake, tmp_path, monkeypatch)
    assert ws.monitors.latest("churn-drift").production_rows == 300
    assert "holdout auc 0.7844\n" in list(ws.jobs.logs(JOB))
    assert not fake.calls("POST", "/listSecrets$")
    assert all(c.headers["authorization"].startswith("Bearer ") for c in blob_calls(fake))


def test_storage_refusing_a_token_asks_nothing_again_and_names_the_data_role_on_the_account(tmp_path, monkeypatch):
    fake = FakeArm(identity_datastores=True)  # a Contributor of the workspace: no blob data role
    ws = azure_workspace(fake, tmp_path, monkeypatch)
    with pytest.raises(BackendUnavailable) as refused:
        ws.monitors.latest("churn-drift")
    assert refused.value.message.startswith("not authorised to read blobs of storage account wsdemostorage (403 "
                                            "AuthorizationPermissionMismatch): role needed: Storage Blob Data Reader "
                                            "on the storage account")
    assert len(fake.calls("GET", "/datastores/workspaceblobstore$")) == 1
    assert len(blob_calls(fake)) == 1  # refused once, not asked again with the same token


def test_an_upload_refused_to_a_reader_of_blob_data_names_storage_blob_data_contributor(tmp_path, monkeypatch):
    fake = FakeArm(identity_datastores=True, blob_data_role="Storage Blob Data Reader")
    ws = azure_workspace(fake, tmp_path, monkeypatch)
    source = tmp_path / "train.py"
    source.write_text("print('hi')\n")
    with pytest.raises(BackendUnavailable, match="not authorised to write blobs of storage account wsdemostorage .*"
                                                 "role needed: Storage Blob Data Contributor"):
        ws.storage.upload("workspaceblobstore", "LocalUpload/x/train.py", source)


def test_an_account_that_refuses_shared_keys_is_read_with_the_token(tmp_path, monkeypatch):
    fake = FakeArm(shared_key_access=False, blob_data_role="Storage Blob Data Reader")
    ws = azure_workspace(fake, tmp_path, monkeypatch)
    assert "holdout auc 0.7844\n" in list(ws.jobs.logs(JOB))
    first, *rest = blob_calls(fake)
    assert "sig" in first.query  # the SAS listSecrets gave, refused: KeyBasedAuthenticationNotPermitted
    assert rest and all(c.headers["authorization"].startswith("Bearer ") and "sig" not in c.query for c in rest)
    assert len(fake.calls("POST", "/listSecrets$")) == 1  # not asked again: the account takes no keys


def test_a_sas_is_resolved_again_five_minutes_before_its_expiry_and_not_before(ws, fake, monkeypatch):
    import time

    from console.azure import storage

    ws.storage.names("workspaceblobstore", "LocalUpload/")
    assert fake.sas_issued == 1
    now = time.monotonic()
    monkeypatch.setattr(storage.time, "monotonic", lambda: now + 54 * 60)  # the SAS's `se` is an hour away
    ws.storage.names("workspaceblobstore", "LocalUpload/")
    assert fake.sas_issued == 1
    monkeypatch.setattr(storage.time, "monotonic", lambda: now + 56 * 60)
    ws.storage.names("workspaceblobstore", "LocalUpload/")
    assert fake.sas_issued == 2


def test_storage_answers_its_errors_in_its_own_xml_and_error_code_header(fake):
    fake.expire_sas()
    url = (f"https://wsdemostorage{BLOB_HOST}/{fake.datastore_container}/LocalUpload/churn-features/churn.csv"
           "?sv=2021-08-06&sig=fake0&se=2026-03-01T13:00:00Z&srt=co&ss=bf&sp=rcuwdl")
    status, body, headers = fake.handle("GET", url, {}, None)
    assert (status, headers["x-ms-error-code"]) == (403, "AuthenticationFailed")
    assert body.startswith(b'<?xml version="1.0" encoding="utf-8"?><Error><Code>AuthenticationFailed</Code><Message>'
                           b"Server failed to authenticate the request.")
    assert b"<AuthenticationErrorDetail>Signed expiry time [Sun, 01 Mar 2026 13:00:00 GMT] must be after" in body
    status, body, headers = fake.handle("GET", url.split("?")[0], {"Authorization": "Bearer t"}, None)
    assert (status, headers["x-ms-error-code"]) == (403, "AuthorizationPermissionMismatch")
    assert (b"<Code>AuthorizationPermissionMismatch</Code><Message>This request is not authorized to perform this "
            b"operation using this permission.\nRequestId:") in body


def test_list_secrets_answers_as_azure_ai_mls_recording_does(fake):
    status, body, _ = fake.handle("POST", f"https://management.azure.com{fake.ws_id}/datastores/workspaceblobstore/"
                                  "listSecrets?api-version=x", {"Authorization": "Bearer t"},
                                  {"expirableSecret": True, "expireAfterHours": 1})
    assert status == 200 and body["secretsType"] == "Sas"
    assert body["sasToken"].startswith("?sv=") and "&se=" in body["sasToken"] and "&sp=rcuwdl" in body["sasToken"]


def test_a_range_past_the_end_of_a_blob_answers_416_invalid_range(fake):
    name = "LocalUpload/churn-features/churn.csv"
    size = len(fake.blobs[name])
    status, body, headers = fake.handle("GET", f"https://wsdemostorage{BLOB_HOST}/{fake.datastore_container}/{name}",
                                        {"Authorization": "SharedKey wsdemostorage:x", "x-ms-range": f"bytes={size}-"},
                                        None)
    assert (status, headers["x-ms-error-code"], headers["Content-Range"]) == (416, "InvalidRange", f"bytes */{size}")
