"""`job submit` on Azure: the job YAML loaded with azure-ai-ml's loader (and refused with its file,
line and field before any request), its local code folder uploaded as a code asset (upload.py),
then `jobs.create_or_update`. Azure checks what the job names (compute, environment, data) when
it is submitted; its refusal comes back as BadInput with Azure's words, and nothing is created.

Built for command and sweep jobs. A pipeline job's steps each carry their own code; uploading
them is not built yet, and is refused before any request, naming `az ml job create -f`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from console import specs
from console.errors import NotSupported

if TYPE_CHECKING:
    from console.azure.workspace import AzureWorkspace
    from console.domain import Job

def submit(ws: AzureWorkspace, spec_path: str, overrides: Mapping[str, Any] | None = None) -> Job:
    from console.azure import convert
    from console.azure.upload import code_asset, is_local, refuse_other_uploads

    spec = specs.load(spec_path, overrides, expect="job")
    job = spec.entity
    kind = str(getattr(job, "type", "command"))
    if kind not in ("command", "sweep"):
        raise NotSupported("azure", "jobs.submit", f"submitting a {kind} job is not built yet for the azure "
                           f"workspace: run `az ml job create -f {spec.path}`")
    holder = job.trial if kind == "sweep" else job  # a sweep's code is its trial's
    data = spec.data
    refuse_other_uploads(data, spec.path, "az ml job create -f", "jobs.submit")
    if isinstance(data.get("trial"), dict):
        refuse_other_uploads(data["trial"], spec.path, "az ml job create -f", "jobs.submit")
    code = getattr(holder, "code", None)
    ml = ws.session.client()
    compute = str(getattr(job, "compute", None) or "").removeprefix("azureml:")
    if compute and "/" not in compute:  # a name: check it before anything is uploaded
        from azure.core.exceptions import ResourceNotFoundError

        from console.errors import NotFound

        try:
            ml.compute.get(compute)
        except ResourceNotFoundError:
            raise NotFound("compute", compute) from None
    uploaded = None
    if is_local(code):
        folder = (Path(spec.path).parent / code).resolve()
        holder.code, uri = code_asset(ws.storage, ml, folder)
        uploaded = f"{folder} as {uri}"
    created = ml.jobs.create_or_update(job)
    record = convert.job(created)
    ws.audit_log.append("jobs.submit", record.name, after={"spec": spec.path, "overrides": dict(overrides or {}),
                                                           "type": kind}, result="Succeeded",
                        detail=f"code {uploaded}" if uploaded else None)
    return record
