"""The workspace's datastores as blob containers, for what the console reads and writes there
itself: collected inputs and baselines (drift.py), run logs (jobs' `user_logs/`), code snapshots
(upload.py).

A datastore is resolved once (`datastores.get(include_secrets=True)`, as azure-ai-ml's own
uploads do: its account, container and key or SAS token; the workspace credential when it keeps
no secret) and its `ContainerClient` is kept. Every client runs on the workspace's transport with
its request counting, so tests answer it offline and the header's counts include it. azure-ai-ml's
own uploader builds a BlobServiceClient of its own, outside the MLClient's pipeline: that is why
the console does not let it upload.
"""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from console.azure.session import Session

# Short (azureml://datastores/X/paths/Y) and long form (azureml://subscriptions/.../workspaces/W/datastores/X/paths/Y).
DATASTORE_URI = re.compile(r"azureml://(?:subscriptions/[^/]+/resource[gG]roups/[^/]+/"
                           r"(?:providers/Microsoft\.MachineLearningServices/)?workspaces/[^/]+/)?"
                           r"datastores/(?P<store>[^/]+)/paths/(?P<path>.*)$")
# azure-ai-ml asks for secrets that expire after an hour (a SAS for a key-based account): resolve
# the datastore again well before that, and at once when storage refuses the signature.
RESOLVE_EVERY_S = 45 * 60
ARTIFACT_STORE = "workspaceartifactstore"  # where Azure ML keeps each run's logs and outputs
BLOB_STORE = "workspaceblobstore"  # the default datastore: uploads and collected data


class Storage:
    def __init__(self, session: Session) -> None:
        self.session = session
        self._containers: dict[str, tuple[float, Any, str]] = {}  # store -> (resolved at, client, https URL)
        self._lock = threading.Lock()

    def container(self, store: str) -> Any:
        """The blob container behind datastore `store`."""
        return self._resolved(store)[1]

    def url(self, store: str, path: str) -> str:
        """The https URL of `path` in the datastore's container (no signature in it)."""
        return f"{self._resolved(store)[2]}/{path.lstrip('/')}"

    def closable(self) -> list[Any]:
        with self._lock:
            return [client for _, client, _ in self._containers.values()]

    def forget(self, store: str) -> None:
        """Drop a container whose signature storage refused: the next use resolves it again."""
        with self._lock:
            self._containers.pop(store, None)

    def _resolved(self, store: str) -> tuple[float, Any, str]:
        with self._lock:
            found = self._containers.get(store)
            if found is None or time.monotonic() - found[0] > RESOLVE_EVERY_S:
                from azure.storage.blob import ContainerClient

                datastore = self.session.client().datastores.get(store, include_secrets=True)
                credentials = getattr(datastore, "credentials", None)
                secret = (getattr(credentials, "sas_token", None) or getattr(credentials, "account_key", None)
                          or self.session.credential())
                account = f"{datastore.protocol or 'https'}://{datastore.account_name}.blob.{datastore.endpoint}"
                # azure-storage-blob builds its pipeline itself and takes no per_retry_policies; its
                # (underscored) additional policies run after its retry policy, once per attempt.
                client = ContainerClient(account, datastore.container_name, credential=secret,
                                         _additional_pipeline_policies=[self.session.counting()],
                                         **self.session.transport_kwargs())
                found = (time.monotonic(), client, f"{account}/{datastore.container_name}")
                self._containers[store] = found
            return found

    def names(self, store: str, prefix: str) -> list[str]:
        return self._signed(store, lambda c: sorted(b.name for b in c.list_blobs(name_starts_with=prefix)))

    def read(self, store: str, name: str, offset: int = 0) -> bytes | None:
        """A blob's bytes from `offset`; None when it does not exist (yet)."""
        from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

        try:
            return self._signed(store, lambda c: c.download_blob(name, offset=offset or None).readall())
        except ResourceNotFoundError:
            return None
        except HttpResponseError as err:
            if err.status_code == 416:  # nothing past `offset` yet
                return b""
            raise

    def upload(self, store: str, name: str, source: Path) -> None:
        """A file to blob `name`, streamed (azure-storage-blob sends a big one in blocks)."""
        def put(container: Any) -> None:
            with open(source, "rb") as fh:
                container.upload_blob(name, fh, length=source.stat().st_size, overwrite=True,
                                      metadata={"upload_status": "completed"})
        self._signed(store, put)

    def _signed(self, store: str, call: Any) -> Any:
        """`call(container)`, once more with the datastore resolved again if storage refused the
        signature (an expired SAS: 403 AuthenticationFailed)."""
        from azure.core.exceptions import HttpResponseError

        try:
            return call(self.container(store))
        except HttpResponseError as err:
            if err.status_code != 403:
                raise
            self.forget(store)
            return call(self.container(store))
