"""Files on this machine into the workspace: a job's (or a scoring script's) code folder as a code
asset, a data asset's file or folder, uploaded to the default datastore by the console
(storage.py) and registered from there.

azure-ai-ml would upload it with a BlobServiceClient it builds itself, outside the MLClient's
pipeline: no injected transport, no request counting, no retry configuration. So the console
uploads the files, `LocalUpload/{content hash}/{folder}/...` as azure-ai-ml lays them out, and
registers the code version pointing at that URI (azure-ai-ml's code operations, in rest.py).
The same content is uploaded once: the hash names the code asset, and an existing one is reused.

What is left out, as `az ml` leaves it out: what `.amlignore` (or, without one, `.gitignore`)
names (glob patterns, a later `!pattern` taking files back); also `__pycache__`, `.git` and
`*.pyc`, never wanted in a snapshot.
"""

from __future__ import annotations

import fnmatch
import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

from console.azure.storage import BLOB_STORE
from console.errors import InvalidField

if TYPE_CHECKING:
    from console.azure.storage import Storage

ALWAYS_LEFT_OUT = ("__pycache__", ".git", "*.pyc")
MAX_FILES = 2_000  # a job's code, not a data set: a bigger folder is almost always a mistake


def snapshot_files(folder: Path, *, limit: int | None = MAX_FILES, field: str = "code") -> list[Path]:
    """The files of `folder` that go into the snapshot, sorted (at most `limit`: a code folder)."""
    ignore_file = next((folder / n for n in (".amlignore", ".gitignore") if (folder / n).is_file()), None)
    patterns = list(ALWAYS_LEFT_OUT)
    if ignore_file is not None:
        patterns += [line.strip().rstrip("/") for line in ignore_file.read_text(errors="replace").splitlines()
                     if line.strip() and not line.lstrip().startswith("#")]

    def matches(rel: Path, pattern: str) -> bool:
        return fnmatch.fnmatch(rel.as_posix(), pattern.lstrip("/")) or any(fnmatch.fnmatch(part, pattern)
                                                                          for part in rel.parts)

    def left_out(rel: Path) -> bool:
        out = False
        for pattern in patterns:  # in order, as git reads them: a later "!pattern" takes a file back
            if pattern.startswith("!"):
                out = out and not matches(rel, pattern[1:])
            elif matches(rel, pattern):
                out = True
        return out

    files = sorted(p for p in folder.rglob("*") if p.is_file() and not left_out(p.relative_to(folder)))
    if limit is not None and len(files) > limit:
        raise InvalidField(field, f"{folder} holds {len(files):,} files (over {limit:,}): list what the job "
                                  "does not need in its .amlignore")
    if not files:
        raise InvalidField(field, f"{folder} holds no file to upload (after its ignore file)")
    return files


def content_hash(folder: Path, files: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        with open(path, "rb") as fh:  # in chunks: a data file may be larger than memory
            digest.update(hashlib.file_digest(fh, "sha256").digest())
    return digest.hexdigest()


def upload(storage: Storage, path: Path, *, limit: int | None = MAX_FILES, field: str = "code") -> tuple[str, str]:
    """Upload a file, or the snapshot of a folder, to the default datastore unless it is there
    already: (its prefix there, `LocalUpload/{hash}/{name}`, and the content hash)."""
    if path.is_file():
        files, root = [path], path.parent
    elif path.is_dir():
        files, root = snapshot_files(path, limit=limit, field=field), path
    else:
        raise InvalidField("path", f"{path} does not exist")
    digest = content_hash(root, files)
    prefix = f"LocalUpload/{digest[:32]}/{path.name}"
    present = set(storage.names(BLOB_STORE, prefix))
    for file in files:
        name = prefix if path.is_file() else f"{prefix}/{file.relative_to(root).as_posix()}"
        if name not in present:
            storage.upload(BLOB_STORE, name, file)
    return prefix, digest


def upload_code(storage: Storage, folder: Path) -> tuple[str, str]:
    """A code folder uploaded: (its https URL, its hash)."""
    if not folder.is_dir():
        raise InvalidField("code", f"{folder} is not a folder")
    prefix, digest = upload(storage, folder)
    # The https URL, as azure-ai-ml registers what it uploads itself: Azure refuses an azureml://
    # datastore URI as a code asset's codeUri.
    return storage.url(BLOB_STORE, prefix), digest


def data_uri(storage: Storage, path: Path) -> str:
    """A data asset's file or folder uploaded, as the azureml:// URI the data asset points at."""
    prefix, _ = upload(storage, path, limit=None, field="path")  # a data set: no cap on its files
    return f"azureml://datastores/{BLOB_STORE}/paths/{prefix}" + ("/" if path.is_dir() else "")


REMOTE = ("azureml:", "http://", "https://", "git+", "/subscriptions/", "wasbs://", "abfss://", "adl://")


def is_local(path: object) -> bool:
    """A path on this machine (which would need uploading), not a URI or a registered asset
    (the loaders give `azureml:churn_features:1` as `churn_features:1`)."""
    import re

    return (isinstance(path, str) and bool(path) and not path.startswith(REMOTE)
            and not re.fullmatch(r"[A-Za-z0-9_.-]+[:@][A-Za-z0-9_.-]+", path))


def code_asset(storage: Storage, ml: object, folder: Path) -> tuple[str, str]:
    """`folder` uploaded (once) and registered: (the code asset's ARM id, where it was uploaded)."""
    from console.azure import rest

    uri, digest = upload_code(storage, folder)
    return rest.code_version(ml, f"amlops-{digest[:32]}", uri), uri


def refuse_other_uploads(data: dict, spec_path: str, command: str, capability: str) -> None:
    """What azure-ai-ml would upload with a blob client of its own (outside the workspace's
    pipeline), from the spec as written: local input paths and an environment's build context.
    Refused before any request."""
    from console.errors import NotSupported

    for name, value in (data.get("inputs") or {}).items():
        if isinstance(value, dict) and is_local(value.get("path")):
            raise NotSupported("azure", capability, f"input {name} is on this machine ({value['path']}); uploading "
                               "it is not built yet: register it as a data asset and give azureml:NAME:VERSION, or "
                               f"run `{command} {spec_path}`")
    environment = data.get("environment")
    build = (environment.get("build") or {}).get("path") if isinstance(environment, dict) else None
    if is_local(build):
        raise NotSupported("azure", capability, f"the environment's build context is on this machine ({build}); "
                           f"building it is not built yet: run `{command} {spec_path}`")
