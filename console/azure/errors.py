"""Azure's exceptions as the project's typed errors, in one place: no credential found (nothing
reached Azure: azure-identity found none that could sign in, each reason parsed from what it
reports), a sign-in that Entra ID refused, not authorised (a real 401/403 from Azure, with the
role that is needed: one with the action ARM's AuthorizationFailed names, or for blob data the
Storage Blob Data role on the account, which no workspace role grants), not found, throttled
(429), an operation that failed, a spec Azure refuses. Every call of the azure workspace goes
through `mapped`."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any, TypeVar

from console.errors import AmlopsError, BackendUnavailable, BadInput, NoCredential, NotFound, OperationFailed

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
    signed_in = signed_in_failure(err, target)
    if signed_in is not None:
        return signed_in
    if isinstance(err, ClientAuthenticationError) and getattr(err, "status_code", None) in (None, 401):
        return BackendUnavailable(f"not authorised on {where}: Azure refused the credential (401); "
                                  f"sign in again ({_sign_in_again(target)})")
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


# How azure-identity's credential classes read in a message, short.
CREDENTIAL_LABELS = {
    "EnvironmentCredential": "environment", "WorkloadIdentityCredential": "workload identity",
    "ManagedIdentityCredential": "managed identity", "SharedTokenCacheCredential": "shared token cache",
    "VisualStudioCodeCredential": "VS Code", "AzureCliCredential": "Azure CLI",
    "AzurePowerShellCredential": "Azure PowerShell", "AzureDeveloperCliCredential": "Azure Developer CLI",
    "InteractiveBrowserCredential": "browser", "BrokerCredential": "broker", "DeviceCodeCredential": "device code",
    "DefaultAzureCredential": "DefaultAzureCredential",
}
# The profile's `credential` names azure-identity's class it builds (session.credential_for).
PROFILE_CREDENTIAL = {"cli": "AzureCliCredential", "device_code": "DeviceCodeCredential",
                      "managed_identity": "ManagedIdentityCredential", "environment": "EnvironmentCredential"}
# azure-identity's reasons (its own wording, azure/identity/_credentials/*.py), said short; a
# reason not here is shown as its first sentence.
_REASONS = (
    (re.compile(r"(AADSTS\d+)"), None),  # Entra ID refused a sign-in: its error code says why
    (re.compile(r"Azure CLI not found|'az' is not recognized", re.I), "az not installed"),
    (re.compile(r"Azure Developer CLI could not be found", re.I), "azd not installed"),
    (re.compile(r"PowerShell is not installed", re.I), "pwsh not installed"),
    (re.compile(r"run 'az login'", re.I), "not signed in: az login"),
    (re.compile(r"azd auth login", re.I), "not signed in: azd auth login"),
    (re.compile(r"Environment variables are not fully configured", re.I), "AZURE_* variables not set"),
    (re.compile(r"not fully configured", re.I), "not configured"),
    (re.compile(r"No accounts were found in the cache", re.I), "no account cached"),
    (re.compile(r"azure-identity-broker", re.I), "needs azure-identity-broker"),
    (re.compile(r"no response from the IMDS endpoint", re.I), "no IMDS endpoint"),
    (re.compile(r"No managed identity endpoint found", re.I), "no endpoint"),
)
_CHAIN = "Attempted credentials:"


def signed_in_failure(err: Exception, target: Any) -> AmlopsError | None:
    """What a failure to get a token means, or None when `err` is not one. A token that was never
    had is not a 401: no request reached Azure. azure-identity raises CredentialUnavailableError
    when a credential has nothing to sign in with, and a chain (DefaultAzureCredential) raises
    ClientAuthenticationError without a response, its message listing each credential tried. An
    Entra ID code (AADSTS...) in it means one was found and its sign-in refused."""
    from azure.core.exceptions import ClientAuthenticationError

    try:
        from azure.identity import CredentialUnavailableError
    except ImportError:  # pragma: no cover - azure-identity is a dependency
        return None
    if not isinstance(err, ClientAuthenticationError) or getattr(err, "response", None) is not None:
        return None
    text = str(getattr(err, "message", None) or err)
    if _CHAIN in text:
        tried = credentials_tried(text)
    elif isinstance(err, CredentialUnavailableError):
        own = PROFILE_CREDENTIAL.get(getattr(target, "credential", ""), "")
        tried = [(label(own) if own else "the credential", short_reason(text))]
    else:  # one credential tried and refused: the sign-in failed
        own = PROFILE_CREDENTIAL.get(getattr(target, "credential", ""), "DefaultAzureCredential")
        return BackendUnavailable(f"Azure sign-in failed ({label(own)}: {short_reason(text)}); "
                                  f"sign in again ({_sign_in_again(target)})")
    refused = [(name, why) for name, why in tried if why and why.startswith("AADSTS")]
    if refused:
        name, code = refused[0]
        return BackendUnavailable(f"Azure sign-in failed ({name}: {code}); "
                                  f"sign in again ({_sign_in_again(target)})")
    return NoCredential(tried, fix=_fix(target))


def credentials_tried(message: str) -> list[tuple[str, str]]:
    """(credential, short reason) for each line of a chain's "Attempted credentials:" list, as
    ChainedTokenCredential writes it: "\n\t" before each `Name: reason`, the reason until the next."""
    listed = message.split(_CHAIN, 1)[1].split("\nTo mitigate this issue", 1)[0]
    tried = []
    for entry in listed.split("\n\t"):
        name, _, why = entry.strip().partition(":")
        if name:
            tried.append((label(name.strip()), short_reason(why)))
    return tried


def label(credential: str) -> str:
    """azure-identity's class name as a person says it: AzureCliCredential -> Azure CLI."""
    if credential in CREDENTIAL_LABELS:
        return CREDENTIAL_LABELS[credential]
    words = re.findall(r"[A-Z]+(?![a-z])|[A-Z][a-z]*|[a-z]+", credential.removesuffix("Credential"))
    return " ".join(words).lower() or credential


def short_reason(text: str) -> str:
    """Why a credential could not sign in, in a few words."""
    for pattern, short in _REASONS:
        found = pattern.search(text)
        if found:
            return short or found[1]
    line = (text.strip().splitlines() or [""])[0].strip()
    line = re.sub(r"^\w+Credential authentication unavailable[.,]?\s*", "", line)
    first = re.split(r"(?<=\.)\s", line, maxsplit=1)[0].rstrip(".") or "unavailable"
    return first if len(first) <= 40 else first[:39] + "…"


def _fix(target: Any) -> str:
    """The one step that signs in here: a device code needs only a browser, anywhere."""
    if getattr(target, "credential", "default") == "device_code":
        return "run `az login --use-device-code`, then --credential cli"
    setting = target.setting("credential", "device_code") if getattr(target, "config_file", "") else ""
    return ("use --credential device_code (sign in from any browser" + (f"; or {setting}" if setting else "")
            + ")")


def _sign_in_again(target: Any) -> str:
    if getattr(target, "credential", "default") == "device_code":
        return "restart amlops to get a new device code"
    return "az login --use-device-code, or --credential device_code"


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
