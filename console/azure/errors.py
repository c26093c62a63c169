"""Azure's exceptions as the project's typed errors, in one place: no credential, not authorised
(401/403, with the role that is needed: one with the action ARM's AuthorizationFailed names, or
for blob data the Storage Blob Data role on the account, which no workspace role grants), not
found, throttled (429), an operation that failed, a spec Azure refuses. Every call of the azure
workspace goes through `mapped`."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any, TypeVar

from console.errors import AmlopsError, BackendUnavailable, BadInput, NotFound, OperationFailed

F = TypeVar("F", bound=Callable[..., Any])

ROLE_TO_READ = "Reader (or AzureML Data Scientist) on the workspace"
ROLE_TO_WRITE = "AzureML Data Scientist or Contributor on the workspace"


def mapped(kind: str, *, writes: bool = False) -> Callable[[F], F]:
    """Turn what azure-ai-ml and azure-core raise inside a group method into typed errors.
    `kind` names what a 404 did not find ("compute", "endpoint"); the first argument after
    self is taken as its name."""

    def wrap(fn: F) -> F:
        @functools.wraps(fn)
        def call(self, *args: Any, **kwargs: Any) -> Any:
            try:
                return fn(self, *args, **kwargs)
            except AmlopsError:
                raise
            except Exception as err:  # every Azure failure becomes a typed error, never a traceback
                name = str(args[0]) if args else str(kwargs.get("parent") or kwargs.get("name") or "")
                raise translate(err, self.target, kind, name, writes) from None

        return call  # type: ignore[return-value]

    return wrap


def translate(err: Exception, target: Any, kind: str, name: str, writes: bool = False) -> AmlopsError:
    from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ServiceRequestError

    where = f"{target.workspace_name} (resource group {target.resource_group})"
    if _credential_unavailable(err):
        from console.azure.session import no_credential

        return no_credential(err)
    if isinstance(err, ClientAuthenticationError) and getattr(err, "status_code", None) in (None, 401):
        return BackendUnavailable(f"not authorised on {where}: the credential was refused (401); "
                                  "sign in again (az login --use-device-code)")
    if isinstance(err, HttpResponseError):
        status = err.status_code
        message = _message(err)
        if status == 401:
            return BackendUnavailable(f"not authorised on {where} (401): {message}")
        if status == 403 and _blob_account(err):
            return storage_refused(err, account=_blob_account(err), write=_request_method(err) not in ("GET", "HEAD"))
        if status == 403:
            action = refused_action(err)
            if action:
                return BackendUnavailable(f"not authorised on {where}: role needed: {role_for(action)} "
                                          f"(403 AuthorizationFailed)")
            role = ROLE_TO_WRITE if writes else ROLE_TO_READ
            return BackendUnavailable(f"not authorised on {where}: role needed: {role} (403: {message})")
        if status == 404 and kind == "spec":  # something the spec names: Azure's words say what
            return BadInput(f"Azure has no such resource (404): {message}")
        if status == 404:
            return NotFound(kind, name or "?")
        if status == 429:
            from console.azure.session import retry_after_s
            from console.errors import Throttled

            return Throttled(retry_after_s(err.response.headers.get("Retry-After") if err.response is not None else None))
        if status is not None and 400 <= status < 500:
            return BadInput(f"Azure refused it ({status}): {message}")
        return OperationFailed(f"Azure answered {status}: {message}")
    if isinstance(err, ServiceRequestError):
        return BackendUnavailable(f"cannot reach Azure: {err}")
    validation = _validation(err)
    if validation is not None:
        return validation
    return OperationFailed(f"{type(err).__name__}: {err}")


def refused_action(err: Exception) -> str | None:
    """The action ARM's 403 names: "... does not have authorization to perform action
    'Microsoft.MachineLearningServices/workspaces/datastores/listSecrets/action' over scope ..."."""
    inner = getattr(err, "error", None)
    text = " ".join(str(t) for t in (getattr(inner, "message", None), getattr(err, "message", None), err) if t)
    found = re.search(r"perform action '([^']+)'", text)
    return found[1] if found else None


def role_for(action: str) -> str:
    """Which built-in role has `action`: Reader has the reads (*/read) and nothing else; AzureML
    Data Scientist every workspace action but creating or deleting compute and changing the
    workspace itself (or listing its keys), which take AzureML Compute Operator or Contributor."""
    lowered = action.lower()
    if lowered.endswith("/read"):
        return ROLE_TO_READ
    if re.search(r"/workspaces/(write|delete|listkeys/action)$", lowered) or lowered.endswith(
            "/computes/listkeys/action"):
        return f"Contributor on the workspace (a role with {action})"
    if "/workspaces/computes/" in lowered and lowered.endswith(("/write", "/delete")):
        return f"AzureML Compute Operator or Contributor on the workspace (a role with {action})"
    return (f"a workspace role with {action}: AzureML Data Scientist or Contributor on the workspace "
            "(Reader has read actions only)")


def storage_refused(err: Exception, *, account: str, write: bool, store: str | None = None, via: str | None = None,
                    secrets_refused: bool = False) -> AmlopsError:
    """What a storage account's 403 means. AuthorizationPermissionMismatch: the token has no blob
    data role on the account (no workspace role grants one); AuthorizationFailure: the account's
    network rules refuse this machine; AuthenticationFailed: the datastore's signature, refused even
    when asked for again."""
    from console.azure.storage import storage_error_code

    code = storage_error_code(err) or "403"
    if code == "AuthorizationPermissionMismatch":
        role = "Storage Blob Data Contributor" if write else "Storage Blob Data Reader"
        why = "no workspace role grants blob data"
        if secrets_refused and store:
            why += (f"; the workspace refused datastore {store}'s secrets (listSecrets), so storage was asked "
                    "with your own sign-in")
        return BackendUnavailable(f"not authorised to {'write' if write else 'read'} blobs of storage account "
                                  f"{account} (403 {code}): role needed: {role} on the storage account ({why})")
    if code == "AuthorizationFailure":
        return BackendUnavailable(f"not authorised by storage account {account} from this machine (403 {code}): its "
                                  "network rules (firewall or private endpoint) must allow it")
    signed = {"sas": "SAS", "key": "account key", "token": "your sign-in"}.get(via or "", "signature")
    subject = f"datastore {store}'s {signed}" if store else "the request"
    return BackendUnavailable(f"not authorised by storage account {account}: it refused {subject} "
                              f"(403 {code}): {_message(err)}")


def _blob_account(err: Exception) -> str | None:
    """The storage account a blob service error came from, or None for ARM's."""
    from urllib.parse import urlsplit

    response = getattr(err, "response", None)
    request = getattr(response, "request", None)
    host = urlsplit(str(getattr(request, "url", "") or "")).hostname or ""
    return host.split(".", 1)[0] if ".blob." in host else None


def _request_method(err: Exception) -> str:
    request = getattr(getattr(err, "response", None), "request", None)
    return str(getattr(request, "method", "GET") or "GET").upper()


def _credential_unavailable(err: Exception) -> bool:
    try:
        from azure.identity import CredentialUnavailableError
    except ImportError:  # pragma: no cover - azure-identity is a dependency
        return False
    return isinstance(err, CredentialUnavailableError)


def _validation(err: Exception) -> AmlopsError | None:
    try:
        from azure.ai.ml.exceptions import ValidationException
    except ImportError:  # pragma: no cover
        return None
    if isinstance(err, ValidationException):
        return BadInput(f"azure-ai-ml refused it: {err}")
    from azure.ai.ml.exceptions import ErrorCategory, MlException

    if isinstance(err, MlException) and getattr(err, "error_category", None) == ErrorCategory.USER_ERROR:
        return BadInput(f"azure-ai-ml refused it: {getattr(err, 'message', None) or err}")
    return None


def _message(err: Exception) -> str:
    inner = getattr(err, "error", None)
    text = getattr(inner, "message", None) or getattr(err, "message", None) or str(err)
    return " ".join(str(text).split())[:300]
