"""Azure's exceptions as the project's typed errors, in one place: no credential, not authorised
(401/403, with the role that is needed), not found, throttled (429), an operation that failed,
a spec Azure refuses. Every call of the azure workspace goes through `mapped`."""

from __future__ import annotations

import functools
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
        if status == 403:
            role = ROLE_TO_WRITE if writes else ROLE_TO_READ
            return BackendUnavailable(f"not authorised on {where}: role needed: {role} (403: {message})")
        if status == 404 and kind == "spec":  # something the spec names: Azure's words say what
            return BadInput(f"Azure has no such resource (404): {message}")
        if status == 404:
            return NotFound(kind, name or "?")
        if status == 429:
            from console.errors import Throttled

            wait = err.response.headers.get("Retry-After") if err.response is not None else None
            try:
                return Throttled(float(wait or 10))
            except ValueError:  # an HTTP date: azure-core's own parser reads both forms
                from azure.core.pipeline.policies._utils import parse_retry_after

                return Throttled(parse_retry_after(str(wait)))
        if status is not None and 400 <= status < 500:
            return BadInput(f"Azure refused it ({status}): {message}")
        return OperationFailed(f"Azure answered {status}: {message}")
    if isinstance(err, ServiceRequestError):
        return BackendUnavailable(f"cannot reach Azure: {err}")
    validation = _validation(err)
    if validation is not None:
        return validation
    return OperationFailed(f"{type(err).__name__}: {err}")


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
