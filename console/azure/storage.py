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
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from console.azure.session import Session

DATASTORE_URI = re.compile(r"azureml://datastores/(?P<store>[^/]+)/paths/(?P<path>.*)$")
ARTIFACT_STORE = "workspaceartifactstore"  # where Azure ML keeps each run's logs and outputs
BLOB_STORE = "workspaceblobstore"  # the default datastore: uploads and collected data


class Storage:
    def __init__(self, session: Session) -> None:
        self.session = session
        self._containers: dict[str, Any] = {}
        self._lock = threading.Lock()

    def container(self, store: str) -> Any:
        """The blob container behind datastore `store`."""
        with self._lock:
            if store not in self._containers:
                from azure.storage.blob import ContainerClient

                datastore = self.session.client().datastores.get(store, include_secrets=True)
                credentials = getattr(datastore, "credentials", None)
                secret = (getattr(credentials, "account_key", None) or getattr(credentials, "sas_token", None)
                          or self.session.credential())
                url = f"{datastore.protocol or 'https'}://{datastore.account_name}.blob.{datastore.endpoint}"
                self._containers[store] = ContainerClient(url, datastore.container_name, credential=secret,
                                                          per_retry_policies=[self.session.counting()],
                                                          **self.session.transport_kwargs())
            return self._containers[store]

    def names(self, store: str, prefix: str) -> list[str]:
        return sorted(b.name for b in self.container(store).list_blobs(name_starts_with=prefix))

    def read(self, store: str, name: str, offset: int = 0) -> bytes | None:
        """A blob's bytes from `offset`; None when it does not exist (yet)."""
        from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

        try:
            return self.container(store).download_blob(name, offset=offset or None).readall()
        except ResourceNotFoundError:
            return None
        except HttpResponseError as err:
            if err.status_code == 416:  # nothing past `offset` yet
                return b""
            raise
