"""What a Reader of the workspace gets, as Azure answers one (tests/fakes/arm.py, `role="Reader"`):
every write and action refused with ARM's 403 AuthorizationFailed naming the action; the
datastores' secrets (listSecrets) refused, so storage is read with the user's own token, as
azure-ai-ml's artifact code does; blob data only with a Storage Blob Data role on the account,
which no workspace role grants. Each refusal names the role that has what was refused."""

from __future__ import annotations

import pytest

from console.errors import BackendUnavailable

from fakes.arm import BLOB_HOST, FakeArm
from fakes.azure import azure_workspace, offline  # noqa: F401 (fixture)

pytestmark = pytest.mark.usefixtures("offline")
JOB = "happy_cloud_3j5k7l9m0n"  # a completed job with a std_log.txt in the artifact store


def reader(tmp_path, monkeypatch, **kw):
    fake = FakeArm(role="Reader", **kw)
    return fake, azure_workspace(fake, tmp_path, monkeypatch)


def secrets_asked(fake, store: str) -> int:
    return len(fake.calls("POST", f"/datastores/{store}/listSecrets$"))


def test_a_reader_reads_logs_and_drift_with_their_own_token_when_secrets_are_refused(tmp_path, monkeypatch):
    fake, ws = reader(tmp_path, monkeypatch, blob_data_role="Storage Blob Data Reader")
    assert ws.monitors.latest("churn-drift").production_rows == 300
    assert "holdout auc 0.7844\n" in list(ws.jobs.logs(JOB))
    blob = [c for c in fake.requests if c.host.endswith(BLOB_HOST)]
    assert blob and all(c.headers["authorization"].startswith("Bearer ") and "sig" not in c.query for c in blob)
    # Each datastore resolved once: its listSecrets asked (and refused) once, then the token.
    assert (secrets_asked(fake, "workspaceblobstore"), secrets_asked(fake, "workspaceartifactstore")) == (1, 1)
    list(ws.jobs.logs(JOB))
    ws.monitors.run("churn-drift")
    assert (secrets_asked(fake, "workspaceblobstore"), secrets_asked(fake, "workspaceartifactstore")) == (1, 1)


def test_a_reader_without_a_blob_data_role_is_told_to_get_storage_blob_data_reader_on_the_account(
        tmp_path, monkeypatch):
    fake, ws = reader(tmp_path, monkeypatch)
    with pytest.raises(BackendUnavailable) as refused:
        list(ws.jobs.logs(JOB))
    said = refused.value.message
    assert "role needed: Storage Blob Data Reader on the storage account" in said
    assert "wsdemostorage" in said and "AuthorizationPermissionMismatch" in said
    assert "listSecrets" in said  # why the user's own sign-in was used
    assert "Reader (or AzureML Data Scientist)" not in said  # never "you need Reader" to a Reader
    with pytest.raises(BackendUnavailable, match="Storage Blob Data Reader"):
        ws.monitors.latest("churn-drift")
    # storage's refusal of a permission resolves nothing again: once per datastore
    assert (secrets_asked(fake, "workspaceblobstore"), secrets_asked(fake, "workspaceartifactstore")) == (1, 1)
    assert len(fake.calls("GET", "/datastores/workspaceartifactstore$")) == 2  # with secrets, then without


def test_keys_and_deployment_logs_refused_to_a_reader_name_the_action_and_a_role_that_has_it(tmp_path, monkeypatch):
    fake, ws = reader(tmp_path, monkeypatch)
    with pytest.raises(BackendUnavailable) as keys:
        ws.endpoints.keys("churn-ep")
    assert "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/listKeys/action" in keys.value.message
    assert "AzureML Data Scientist" in keys.value.message
    with pytest.raises(BackendUnavailable) as logs:
        ws.endpoints.deployment_logs("churn-ep", "blue")
    assert "workspaces/onlineEndpoints/deployments/getLogs/action" in logs.value.message
    for said in (keys.value.message, logs.value.message):
        assert "role needed: Reader" not in said


def test_a_readers_writes_are_refused_as_arm_refuses_them_naming_action_and_scope(tmp_path, monkeypatch):
    fake, ws = reader(tmp_path, monkeypatch)
    status, body, _ = fake.handle("PUT", f"https://management.azure.com{fake.ws_id}/jobs/new_job?api-version=x",
                                  {"Authorization": "Bearer t"}, {})
    assert status == 403 and body["error"]["code"] == "AuthorizationFailed"
    assert ("does not have authorization to perform action 'Microsoft.MachineLearningServices/workspaces/jobs/"
            f"write' over scope '{fake.ws_id}/jobs/new_job' or the scope is invalid.") in body["error"]["message"]
    assert fake.handle("GET", f"https://management.azure.com{fake.ws_id}/jobs/{JOB}", {"Authorization": "Bearer t"},
                       None)[0] == 200
    with pytest.raises(BackendUnavailable) as stop:
        ws.compute.stop("dev-instance")
    assert "workspaces/computes/stop/action" in stop.value.message
    assert fake.compute_state("dev-instance") == "Running"


def test_what_a_workspace_role_lacks_is_named_by_the_role_that_has_it():
    from console.azure.errors import ROLE_TO_READ, role_for

    ml = "Microsoft.MachineLearningServices/workspaces"
    assert role_for(f"{ml}/jobs/read") == ROLE_TO_READ
    assert role_for(f"{ml}/datastores/listSecrets/action").startswith(f"a workspace role with {ml}/datastores/"
                                                                      "listSecrets/action: AzureML Data Scientist")
    assert role_for(f"{ml}/computes/write").startswith("AzureML Compute Operator or Contributor")
    assert role_for(f"{ml}/listKeys/action").startswith("Contributor")
