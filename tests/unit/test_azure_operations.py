"""A `--no-wait` write on Azure is resolved later by another process (`amlops operation show`)
from the live resource: a deployment delete by the deployment being gone, a key regeneration by
the key having changed, a monitor run by its report on disk (or the process that computed it being
gone). A 404 from an operation's status URL (ARM forgets a delete's operation once the resource is
gone) is not a failure, and Azure's error text is said once."""

from __future__ import annotations

import subprocess

from fakes.azure import azure_workspace, fake, offline, ws  # noqa: F401 (fixtures)


def another_process(fake, tmp_path, monkeypatch):
    """A second workspace over the same state folder: nothing of the first's operations in memory."""
    return azure_workspace(fake, tmp_path, monkeypatch)


def test_a_deployment_delete_left_running_resolves_from_another_process(ws, fake, tmp_path, monkeypatch):
    with fake.operations_held():  # the process that asked waits on its poll: it writes nothing more
        op = ws.endpoints.delete_deployment("churn-ep", "green")
        later = another_process(fake, tmp_path, monkeypatch)
        assert later.operations.get(op.id).status == "InProgress"  # green still reads Deleting
        fake.finish_operations()
        assert "green" not in fake.deployments["churn-ep"]
        assert later.operations.get(op.id).status == "Succeeded"


def test_a_key_regeneration_goes_through_azures_route_and_resolves_from_another_process(
        ws, fake, tmp_path, monkeypatch):
    old = fake.keys["churn-ep"]["primaryKey"]
    with fake.operations_held():
        op = ws.endpoints.regenerate_keys("churn-ep", "primary")
        later = another_process(fake, tmp_path, monkeypatch)
        assert later.operations.get(op.id).status == "InProgress"
        fake.finish_operations()
        assert later.operations.get(op.id).status == "Succeeded"
    [call] = fake.calls("POST", "/regenerateKeys$")
    assert call.body["keyType"].lower() == "primary"
    assert fake.keys["churn-ep"]["primaryKey"] != old
    assert ws.operations.wait(op.id, timeout_s=10).status == "Succeeded"
    assert old not in ws.writes.table.path.read_text()  # the operation log keeps a fingerprint, never a key


def test_a_monitor_run_whose_process_ended_is_failed_with_the_reason(ws, fake, tmp_path, monkeypatch):
    op = ws.monitors.run("churn-drift")
    assert ws.operations.wait(op.id, timeout_s=30).status == "Succeeded"
    assert another_process(fake, tmp_path, monkeypatch).operations.get(op.id).status == "Succeeded"

    # The same run asked for by a process that ended before writing its report.
    gone = subprocess.Popen(["true"])  # a pid that no longer runs
    gone.wait()
    import json

    lines = ws.writes.table.path.read_text().splitlines()
    first = json.loads(lines[0])
    orphan = {**first, "id": "0ddba11", "status": "InProgress", "ended_at": None, "error": None,
              "expect": {**first["expect"], "monitor_report": ["churn-drift", "2026-01-01T00:00:00+00:00",
                                                               "2026-01-01T01:00:00+00:00"], "pid": gone.pid}}
    with ws.writes.table.path.open("a") as out:
        out.write(json.dumps(orphan) + "\n")
    shown = another_process(fake, tmp_path, monkeypatch).operations.get("0ddba11")
    assert shown.status == "Failed" and f"pid {gone.pid}" in shown.error and "without --no-wait" in shown.error


def test_a_404_from_the_status_url_reads_the_resource(ws, fake):
    fake.deletes_forget_their_operation = True
    op = ws.operations.wait(ws.endpoints.delete_deployment("churn-ep", "green").id, timeout_s=10)
    assert fake.calls("GET", "OperationResults/")  # the poll that met the 404
    assert "green" not in fake.deployments["churn-ep"]
    assert (op.status, op.error) == ("Succeeded", None)
    assert ws.audit.list()[0].result == "Succeeded"


def test_azures_error_is_said_once(ws, fake):
    fake.fail_next_operation("QuotaExceeded", "Not enough quota available for Standard_DS2_v2.")
    op = ws.operations.wait(ws.endpoints.delete_deployment("churn-ep", "green").id, timeout_s=10)
    assert op.status == "Failed"
    assert op.error.count("Not enough quota") == 1, op.error
    assert "Code:" not in op.error and "Message:" not in op.error
    assert ws.audit.list()[0].detail.count("Not enough quota") == 1
