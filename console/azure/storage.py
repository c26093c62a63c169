"""The workspace's datastores as blob containers, for what the console reads and writes there
itself: collected inputs and baselines (drift.py), run logs (jobs' `user_logs/`), code snapshots
(upload.py).

A datastore is resolved once per expiry, as azure-ai-ml's own artifact code does it
(`_artifact_utilities.get_datastore_info`): `datastores.get(include_secrets=True)` gives its
account, container and a SAS (listSecrets, valid an hour: resolved again five minutes before its
`se`); an identity-based datastore keeps no secret, and one whose secrets the workspace refuses
(listSecrets is not a Reader's) is read with the user's own token, as is an account that refuses
shared keys. Only storage's word on a signature (AuthenticationFailed: expired) resolves it again
before that; a refused permission never does, it is reported naming the role storage wants.

Every client runs on the workspace's transport with its request counting, so tests answer it
offline and the header's counts include it; the bytes storage sends back are counted too
(`received`). azure-ai-ml's own uploader builds a BlobServiceClient of its own, outside the
MLClient's pipeline: that is why the console does not let it upload.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter as _Tally
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

if TYPE_CHECKING:
    from console.azure.session import Session

# Short (azureml://datastores/X/paths/Y) and long form (azureml://subscriptions/.../workspaces/W/datastores/X/paths/Y).
DATASTORE_URI = re.compile(r"azureml://(?:subscriptions/[^/]+/resource[gG]roups/[^/]+/"
                           r"(?:providers/Microsoft\.MachineLearningServices/)?workspaces/[^/]+/)?"
                           r"datastores/(?P<store>[^/]+)/paths/(?P<path>.*)$")
# A datastore without an expiring secret (the token, or a SAS without `se`) is resolved again
# this often all the same: a role granted or taken away meanwhile is then seen.
RESOLVE_EVERY_S = 45 * 60
EXPIRY_MARGIN_S = 5 * 60  # a SAS is replaced this long before its `se`
ARTIFACT_STORE = "workspaceartifactstore"  # where Azure ML keeps each run's logs and outputs
BLOB_STORE = "workspaceblobstore"  # the default datastore: uploads and collected data


@dataclass(frozen=True)
class Resolved:
    """One datastore as resolved: its container client, and what the client signs with."""

    client: Any  # azure.storage.blob.ContainerClient
    url: str  # https://{account}.blob.{endpoint}/{container}, no signature in it
    account: str
    secret: Any  # the SAS or key string, or the workspace's credential (a token)
    via: str  # "sas", "key" or "token"
    secrets_refused: bool  # listSecrets was refused: the token is the fallback
    until: float  # time.monotonic() past which it is resolved again


@dataclass(frozen=True)
class BlobItem:
    """One blob of a listing: what says whether it changed since it was read."""

    name: str
    etag: str  # unquoted
    size: int
    blob_type: str  # BlockBlob, AppendBlob


@dataclass(frozen=True)
class Chunk:
    """Bytes of a blob from an offset, and the ETag of the version they were read from."""

    data: bytes
    etag: str | None  # unquoted; None when storage sent none (a range past the end)


class Storage:
    def __init__(self, session: Session) -> None:
        self.session = session
        self._resolved_stores: dict[str, Resolved] = {}
        self._token_only: set[str] = set()  # stores whose account refuses shared keys
        self._lock = threading.Lock()
        self.received: _Tally = _Tally()  # response bytes from storage (Content-Length), per datastore
        self._receiving = threading.local()

    def container(self, store: str) -> Any:
        """The blob container behind datastore `store`."""
        return self._resolved(store).client

    def url(self, store: str, path: str) -> str:
        """The https URL of `path` in the datastore's container (no signature in it)."""
        return f"{self._resolved(store).url}/{path.lstrip('/')}"

    def closable(self) -> list[Any]:
        with self._lock:
            return [found.client for found in self._resolved_stores.values()]

    def forget(self, store: str) -> None:
        """Drop a store's resolution: the next use resolves it again."""
        with self._lock:
            self._resolved_stores.pop(store, None)

    def _resolved(self, store: str) -> Resolved:
        with self._lock:
            found = self._resolved_stores.get(store)
            if found is None or time.monotonic() > found.until:
                found = self._resolved_stores[store] = self._resolve(store)
            return found

    def _resolve(self, store: str) -> Resolved:
        """As azure-ai-ml's `get_datastore_info`: the secrets when the datastore keeps any and the
        workspace gives them, else the workspace's credential (one GET and one listSecrets; a
        refused listSecrets costs a second GET, for the account and container)."""
        from azure.core.exceptions import HttpResponseError
        from azure.storage.blob import ContainerClient

        datastores = self.session.client().datastores
        refused = False
        if store in self._token_only:
            datastore = datastores.get(store)
        else:
            try:
                datastore = datastores.get(store, include_secrets=True)
            except HttpResponseError as err:
                if err.status_code != 403:
                    raise
                refused = True  # listSecrets is an action a Reader does not have
                datastore = datastores.get(store)
        credentials = getattr(datastore, "credentials", None)
        sas = getattr(credentials, "sas_token", None)
        key = getattr(credentials, "account_key", None)
        secret: Any = (sas or key) if store not in self._token_only else None
        via = "sas" if sas and secret else "key" if secret else "token"
        if secret is None:
            secret = self.session.credential()
        account = f"{datastore.protocol or 'https'}://{datastore.account_name}.blob.{datastore.endpoint}"
        # azure-storage-blob builds its pipeline itself and takes no per_retry_policies; its
        # (underscored) additional policies run after its retry policy, once per attempt.
        client = ContainerClient(account, datastore.container_name, credential=secret,
                                 _additional_pipeline_policies=self._policies(store),
                                 **self.session.transport_kwargs())
        return Resolved(client, f"{account}/{datastore.container_name}", str(datastore.account_name), secret, via,
                        refused, time.monotonic() + _lifetime(sas if via == "sas" else None))

    def _policies(self, store: str) -> list[Any]:
        from azure.core.pipeline.policies import SansIOHTTPPolicy

        received = self.received

        class Received(SansIOHTTPPolicy):
            def on_response(self, request, response):
                try:
                    received[store] += int(response.http_response.headers.get("Content-Length") or 0)
                except ValueError:
                    pass

        return [self.session.counting(), Received()]

    # --- reads and writes ------------------------------------------------------------------------

    def names(self, store: str, prefix: str) -> list[str]:
        return [item.name for item in self.listing(store, prefix)]

    def listing(self, store: str, prefix: str) -> list[BlobItem]:
        """The blobs under `prefix`, by name, with what says whether each changed (ETag, size)."""
        def listed(container: Any) -> list[BlobItem]:
            return sorted((BlobItem(b.name, _unquoted(b.etag) or "", int(b.size or 0),
                                    str(getattr(b.blob_type, "value", b.blob_type) or "BlockBlob"))
                           for b in container.list_blobs(name_starts_with=prefix)), key=lambda b: b.name)
        return self._signed(store, listed)

    def read(self, store: str, name: str, offset: int = 0) -> bytes | None:
        """A blob's bytes from `offset`; None when it does not exist (yet)."""
        chunk = self.read_from(store, name, offset)
        return None if chunk is None else chunk.data

    def read_from(self, store: str, name: str, offset: int = 0) -> Chunk | None:
        """A blob's bytes from `offset` (a Range read) with the version's ETag; None when it does
        not exist; no bytes when nothing is past `offset` yet."""
        return self._signed(store, lambda c: _download(c.get_blob_client(name), offset))

    def read_url(self, url: str, offset: int = 0) -> Chunk | None:
        """A blob named by its https URL (the collector's large payloads), read from `offset`
        with the credential of a datastore on the same account; None when the URL is on no
        account of the datastores read so far, or the blob does not exist."""
        from azure.storage.blob import BlobClient

        host = urlsplit(url).hostname or ""
        with self._lock:
            found = next(((store, r) for store, r in self._resolved_stores.items()
                          if urlsplit(r.url).hostname == host), None)
        if found is None:
            return None
        store, resolved = found
        client = BlobClient.from_blob_url(url.split("?", 1)[0], credential=resolved.secret,
                                          _additional_pipeline_policies=self._policies(store),
                                          **self.session.transport_kwargs())
        try:
            return self._checked(store, resolved, lambda: _download(client, offset))
        finally:
            if not self.session.transport_kwargs():
                client.close()

    def upload(self, store: str, name: str, source: Path) -> None:
        """A file to blob `name`, streamed (azure-storage-blob sends a big one in blocks)."""
        def put(container: Any) -> None:
            with open(source, "rb") as fh:
                container.upload_blob(name, fh, length=source.stat().st_size, overwrite=True,
                                      metadata={"upload_status": "completed"})
        self._signed(store, put, write=True)

    def _signed(self, store: str, call: Any, *, write: bool = False) -> Any:
        """`call(container)`, once more with the datastore resolved again when storage refused its
        signature (an expired SAS: AuthenticationFailed) or its account refuses shared keys (then
        with the token). A refused permission is not retried: it says which role storage wants."""
        resolved = self._resolved(store)
        return self._checked(store, resolved, lambda: call(resolved.client), retry=lambda: call(self.container(store)),
                             write=write)

    def _checked(self, store: str, resolved: Resolved, call: Any, *, retry: Any = None, write: bool = False) -> Any:
        from azure.core.exceptions import HttpResponseError

        try:
            return call()
        except HttpResponseError as err:
            if err.status_code != 403:
                raise
            code = storage_error_code(err)
            if retry is not None and resolved.via != "token" and code in ("AuthenticationFailed",
                                                                          "KeyBasedAuthenticationNotPermitted"):
                if code == "KeyBasedAuthenticationNotPermitted":
                    self._token_only.add(store)
                self.forget(store)
                try:
                    return retry()
                except HttpResponseError as again:
                    if again.status_code != 403:
                        raise
                    err, resolved = again, self._resolved(store)
            raise self._refused(store, resolved, err, write) from None

    def _refused(self, store: str, resolved: Resolved, err: Exception, write: bool) -> Exception:
        from console.azure.errors import storage_refused

        return storage_refused(err, account=resolved.account, store=store, write=write, via=resolved.via,
                               secrets_refused=resolved.secrets_refused)


def storage_error_code(err: Exception) -> str | None:
    """Storage's error code (x-ms-error-code) of an azure-storage-blob error, as a string."""
    code = getattr(err, "error_code", None)
    code = getattr(code, "value", code)
    if not code:
        response = getattr(err, "response", None)
        code = response.headers.get("x-ms-error-code") if response is not None else None
    return str(code) if code else None


def _download(blob: Any, offset: int) -> Chunk | None:
    from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

    try:
        downloader = blob.download_blob(offset=offset or None)
        data = downloader.readall()
        return Chunk(data, _unquoted(getattr(downloader.properties, "etag", None)))
    except ResourceNotFoundError:
        return None
    except HttpResponseError as err:
        if err.status_code == 416:  # nothing past `offset` yet
            return Chunk(b"", None)
        raise


def _unquoted(etag: Any) -> str | None:
    return str(etag).strip('"') if etag else None


def _lifetime(sas: str | None) -> float:
    """Seconds a resolution is good for: until five minutes before the SAS's `se`, else RESOLVE_EVERY_S."""
    expiry = (parse_qs(sas.lstrip("?")).get("se") or [None])[0] if sas else None
    if not expiry:
        return RESOLVE_EVERY_S
    try:
        left = (datetime.fromisoformat(expiry.replace("Z", "+00:00")) - datetime.now(timezone.utc)).total_seconds()
    except ValueError:
        return RESOLVE_EVERY_S
    return max(left - EXPIRY_MARGIN_S, 0.0)
