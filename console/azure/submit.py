"""`job submit` on Azure: the job YAML loaded with azure-ai-ml's loader (and refused with its file,
line and field before any request), its local code folder uploaded as a code asset (upload.py),
then `jobs.create_or_update`. Azure checks what the job names (compute, environment, data) when
it is submitted; its refusal comes back as BadInput with Azure's words, and nothing is created.

Built for command, sweep and pipeline jobs: a pipeline's inline command steps each have their
code uploaded the same way (one upload for steps that share a folder). A step that runs a
component from its own YAML file, or a step of another type, is refused before any request,
naming `az ml job create -f`.
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
    if kind not in ("command", "sweep", "pipeline"):
        raise NotSupported("azure", "jobs.submit", f"submitting a {kind} job is not built yet for the azure "
                           f"workspace: run `az ml job create -f {spec.path}`")
    data = spec.data
    refuse_other_uploads(data, spec.path, "az ml job create -f", "jobs.submit")
    # What carries code: the job, a sweep's trial, or each step of a pipeline.
    holders = [job.trial if kind == "sweep" else job] if kind != "pipeline" else _steps(job, data, spec.path)
    for step in ([data.get("trial")] if kind == "sweep" else (data.get("jobs") or {}).values()):
        if isinstance(step, dict):
            refuse_other_uploads(step, spec.path, "az ml job create -f", "jobs.submit")
    ml = ws.session.client()
    compute = str(getattr(job, "compute", None) or getattr(getattr(job, "settings", None), "default_compute", None)
                  or "").removeprefix("azureml:")
    if compute and "/" not in compute and compute != "serverless" and "${{" not in compute:
        # a compute's name (not serverless, not a binding): check it before anything is uploaded
        from azure.core.exceptions import ResourceNotFoundError

        from console.errors import NotFound

        try:
            ml.compute.get(compute)
        except ResourceNotFoundError:
            raise NotFound("compute", compute) from None
    uploaded: dict[Path, str] = {}  # folder -> code asset: steps that share a folder share an upload
    for holder in holders:
        code = getattr(holder, "code", None)
        if is_local(code):
            folder = (Path(spec.path).parent / code).resolve()
            if folder not in uploaded:
                uploaded[folder], _ = code_asset(ws.storage, ml, folder)
            holder.code = uploaded[folder]
    created = ml.jobs.create_or_update(job)
    record = convert.job(created)
    ws.audit_log.append("jobs.submit", record.name, after={"spec": spec.path, "overrides": dict(overrides or {}),
                                                           "type": kind}, result="Succeeded",
                        detail=f"code from {', '.join(str(f) for f in uploaded)}" if uploaded else None)
    return record


def _steps(job: Any, data: Mapping[str, Any], spec_path: str) -> list[Any]:
    """A pipeline's steps that carry code. A step that runs a component from its own file would
    take its code relative to that file: refused, as are step types other than command."""
    steps = []
    for name, node in (getattr(job, "jobs", None) or {}).items():
        written = (data.get("jobs") or {}).get(name) or {}
        if isinstance(written.get("component"), str) and not written["component"].startswith("azureml:"):
            raise NotSupported("azure", "jobs.submit", f"step {name} runs the component {written['component']}; a "
                               "component from its own file is not built yet for the azure workspace: register it "
                               f"(`az ml component create -f`) and give azureml:NAME:VERSION, or run "
                               f"`az ml job create -f {spec_path}`")
        if str(written.get("type", "command")) != "command":
            raise NotSupported("azure", "jobs.submit", f"step {name} is a {written.get('type')} step; only command "
                               f"steps are built for the azure workspace: run `az ml job create -f {spec_path}`")
        steps.append(node)
    return steps
