"""`amlops create -f` as `az ml ... create -f` takes it: an online deployment file without
`endpoint_name` gets it from `--endpoint-name`; without either, and for a template with its
placeholders left in, or a hostile YAML file, the refusal names the file, changes nothing, and
exits 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from console.local.client import stop_daemon

from helpers import REPO

pytestmark = pytest.mark.integration

BOMB = REPO / "tests" / "fixtures" / "broken" / "alias-bomb.yml"


def amlops(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "AMLOPS_"))}
    return subprocess.run([sys.executable, "-m", "console.cli", "--workspace-dir", str(root), *args], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=120)


def deployment_without_endpoint(folder: Path) -> Path:
    """specs/endpoints/green-deployment.yml as the Azure docs write it: no endpoint_name."""
    data = yaml.safe_load((REPO / "specs" / "endpoints" / "green-deployment.yml").read_text())
    del data["endpoint_name"]
    path = folder / "green-deployment.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_the_endpoint_comes_from_the_command_line(workspace_with_model, tmp_path):
    ws = workspace_with_model
    root = ws.folder.root
    assert amlops(root, "create", "-f", str(REPO / "specs" / "endpoints" / "churn-ep.yml")).returncode == 0
    spec = deployment_without_endpoint(tmp_path)
    missing = amlops(root, "create", "-f", str(spec), "--no-wait")
    assert missing.returncode == 2 and "--endpoint-name" in missing.stderr and str(spec) in missing.stderr
    assert ws.endpoints.get("churn-ep").deployments == ()

    made = amlops(root, "create", "-f", str(spec), "--endpoint-name", "churn-ep", "--no-wait", "--json")
    assert made.returncode == 0, made.stderr
    assert [d.name for d in ws.endpoints.get("churn-ep").deployments] == ["green"]
    ws.endpoints.delete("churn-ep")
    stop_daemon(ws.folder)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("case", ["alias-bomb", "placeholder", "endpoint-name-on-a-compute"])
def test_refusals_name_the_file_and_change_nothing(empty_workspace, tmp_path, case):
    root = empty_workspace.folder.root
    if case == "alias-bomb":
        args, named = ("job", "submit", str(BOMB)), "aliases are expanded"
    elif case == "placeholder":
        spec = tmp_path / "endpoint.yml"
        spec.write_text("$schema: https://azuremlschemas.azureedge.net/latest/managedOnlineEndpoint.schema.json\n"
                        "name: <ENDPOINT_NAME>\nauth_mode: key\n")
        args, named = ("create", "-f", str(spec)), "placeholder"
    else:
        args, named = ("create", "-f", str(REPO / "specs" / "compute" / "cpu-cluster.yml"),
                       "--endpoint-name", "churn-ep"), "--endpoint-name"
    before = empty_workspace.audit.list(limit=50)
    done = amlops(root, *args)
    assert done.returncode == 2, done.stderr
    assert named in done.stderr and "Traceback" not in done.stderr
    assert empty_workspace.jobs.list() == [] and empty_workspace.compute.list() == []
    assert empty_workspace.endpoints.list() == []
    after = empty_workspace.audit.list(limit=50)  # newest first
    new = after[: len(after) - len(before)]
    assert new and all(a.result == "Rejected" for a in new), new  # refused, and the refusal audited
    stop_daemon(empty_workspace.folder)
