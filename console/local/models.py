"""Models in the local workspace: MLflow's model registry is the source of truth.

`register` takes the MLflow model a Completed job logged (artifact path `model` of its run) or a
local MLflow model folder (copied into the workspace, so the version never changes under it),
and creates the next version of the registered model, tagged with where it came from.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from console.domain import ModelVersion
from console.errors import BadInput, InvalidField, NotFound
from console.naming import check_name

if TYPE_CHECKING:
    from console.local.context import Context
    from console.local.jobs import JobService
    from console.local.rpc import Request
    from console.local.tracking import Tracking

MODEL_ARTIFACT = "model"


class ModelService:
    def __init__(self, ctx: Context, jobs: JobService, tracking: Tracking) -> None:
        self.ctx = ctx
        self.jobs = jobs
        self.tracking = tracking

    def rpc_methods(self) -> dict[str, tuple[Any, bool]]:
        return {"list": (self.list, False), "register": (self.register, True), "get": (self.get, False)}

    def list(self, req: Request, name: str | None = None) -> list[dict[str, Any]]:
        client = self.tracking.client()
        query = f"name = '{_quote(name)}'" if name else ""
        versions = client.search_model_versions(query) if query else client.search_model_versions()
        records = [_record(v) for v in versions]
        records.sort(key=lambda m: (m.created_at is not None, m.created_at), reverse=True)
        return [m.to_dict() for m in records]

    def get(self, req: Request, name: str, version: str) -> dict[str, Any]:
        from mlflow.exceptions import MlflowException

        try:
            return _record(self.tracking.client().get_model_version(name, str(version))).to_dict()
        except MlflowException:
            raise NotFound("model", f"{name}:{version}") from None

    def register(self, req: Request, name: str, job: str | None = None, path: str | None = None,
                 description: str | None = None) -> dict[str, Any]:
        check_name("asset", name)
        if bool(job) == bool(path):
            raise BadInput("register takes exactly one of --job NAME or --path DIR")
        client = self.tracking.client()
        tags: dict[str, str] = {}
        if job:
            row = self.jobs.get(req, job)
            if row["status"] != "Completed":
                raise BadInput(f"job '{job}' is {row['status']}: only a Completed job's model can be registered")
            run_id = row["mlflow_run_id"]
            found = self._model_source(run_id) if run_id else None
            if found is None:
                raise BadInput(f"job '{job}' logged no MLflow model named '{MODEL_ARTIFACT}'")
            (source, model_id), tags = found, {"azureml.job": job}
        else:
            folder = Path(str(path)).expanduser().resolve()
            if not (folder / "MLmodel").is_file():
                raise InvalidField("path", f"{path} is not an MLflow model folder (no MLmodel file)")
            run_id = model_id = None
        from mlflow.exceptions import MlflowException

        with self.ctx.store.transaction():  # one registration at a time: versions stay dense
            try:
                client.get_registered_model(name)
            except MlflowException:
                client.create_registered_model(name)
            if path:
                previous = len(client.search_model_versions(f"name = '{_quote(name)}'"))
                target = self.ctx.folder.models_dir / name / str(previous + 1)
                if target.exists():
                    shutil.rmtree(target)
                shutil.copytree(folder, target)
                source, tags = str(target), {"azureml.source_path": str(folder)}
            version = client.create_model_version(name, source, run_id=run_id, tags=tags,
                                                  description=description, model_id=model_id)
            record = _record(version)
            self.ctx.audit(req, "models.register", f"{name}:{record.version}", after=record.to_dict(),
                         detail=f"from job {job}" if job else f"from {path}")
        return record.to_dict()

    def _model_source(self, run_id: str) -> tuple[str, str | None] | None:
        """The registry source of the run's `model`, and its MLflow 3 LoggedModel id if it has one."""
        client = self.tracking.client()
        for output in client.get_run(run_id).outputs.model_outputs or []:
            logged = client.get_logged_model(output.model_id)
            if logged.name == MODEL_ARTIFACT:
                return f"models:/{logged.model_id}", logged.model_id
        if any(a.path == MODEL_ARTIFACT for a in client.list_artifacts(run_id)):
            return f"runs:/{run_id}/{MODEL_ARTIFACT}", None  # logged the MLflow 2 way
        return None

def _quote(text: str) -> str:
    return text.replace("'", "''")


def _record(version: Any) -> ModelVersion:
    from datetime import datetime, timezone

    created = datetime.fromtimestamp(version.creation_timestamp / 1000, timezone.utc) if version.creation_timestamp else None
    tags = dict(version.tags or {})
    return ModelVersion(name=version.name, version=str(version.version), path=version.source,
                        job=tags.get("azureml.job"), mlflow_run_id=version.run_id or None, created_at=created,
                        description=version.description or None, tags=tags)
