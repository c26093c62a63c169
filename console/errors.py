"""The typed errors every layer raises, and `describe`, the one way they are rendered.

Two families, matching the CLI's exit statuses: `BadInput` (exit 2: the request was wrong and
nothing changed) and `OperationFailed` (exit 1: the request was fine, the work did not succeed).
Pure: imports nothing of the project, so the pure modules can raise these too.
"""

from __future__ import annotations


def describe(err: BaseException) -> str:
    """An error as a person reads it, the one rendering of the CLI, the console and the audit: a
    typed error whole, with where it is (a SpecError's `x.yml:12: inputs.reg_rate: not a number`,
    an InvalidField's `name: ...`), not its bare `message`; anything else named by its type."""
    if isinstance(err, AmlopsError):
        return str(err)
    text = str(err)
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


class AmlopsError(Exception):
    """Base of every error amlops raises on purpose; `exit_code` is what the CLI exits with."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadInput(AmlopsError):
    """The request was wrong; the workspace is unchanged."""

    exit_code = 2


class OperationFailed(AmlopsError):
    """The request was valid but the work failed (a job step, a backend call, a timeout)."""


class SpecError(BadInput):
    """A YAML spec that cannot be read or that azure-ai-ml's loader rejects.

    `line` is 1-based, or None when the problem has no place in the file (a missing file).
    `field` is the dotted path of the offending key, e.g. `request_settings.request_timeout_ms`.
    """

    def __init__(self, file: str, line: int | None, field: str | None, message: str) -> None:
        self.file = file
        self.line = line
        self.field = field
        where = f"{file}:{line}" if line else file
        super().__init__(f"{where}: {field + ': ' if field else ''}{message}")
        self.message = message


class InvalidField(BadInput):
    """A single argument or field breaks a rule (a name, a number, an override)."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")
        self.message = message


class NotFound(BadInput):
    """A named resource (job, compute, endpoint, asset version, ...) does not exist."""

    def __init__(self, kind: str, name: str) -> None:
        self.kind = kind
        self.name = name
        super().__init__(f"{kind} '{name}' not found")


class QuotaExceeded(BadInput):
    """The vCPUs a job or compute needs exceed its VM family's quota in the region."""

    def __init__(self, family: str, need: int, used: int, limit: int, how_to_raise: str) -> None:
        self.family, self.need, self.used, self.limit = family, need, used, limit
        self.how_to_raise = how_to_raise
        super().__init__(
            f"quota exceeded for {family}: needs {need} vCPUs, {used} of {limit} in use. "
            f"{how_to_raise}"
        )


class TrafficRuleError(BadInput):
    """A traffic or mirror change that breaks Azure's rules (sum, mirror limit, unknown name)."""


class ReadOnlyError(BadInput):
    """A mutation was asked for while the console or CLI runs read-only."""

    def __init__(self, action: str) -> None:
        self.action = action
        super().__init__(f"{action} refused: read-only mode (--read-only or read_only in config)")


class NotSupported(OperationFailed):
    """The selected backend lacks this capability; shown to the user, never faked."""

    def __init__(self, backend: str, capability: str, why: str = "") -> None:
        self.backend = backend
        self.capability = capability
        self.why = why
        super().__init__(f"{capability} is not available on the {backend} workspace{': ' + why if why else ''}")


class BackendUnavailable(OperationFailed):
    """The workspace cannot be reached (daemon down, no credentials, network)."""


class NoCredential(BackendUnavailable):
    """No credential gave a token and none was refused by Azure: no request reached it. `tried`
    is what was tried as (credential, why it was unavailable), in azure-identity's order; `fix`
    the one step that signs in. The message leads with the meaning and the fix, so a status line
    cut at its width still says both; the reasons come last (all of them in `detail`)."""

    PREFIX = "no Azure credential found"

    def __init__(self, tried: list[tuple[str, str]], fix: str) -> None:
        self.tried = list(tried)
        self.fix = fix
        names = ", ".join(f"{name} ({why})" if why else name for name, why in self.tried)
        super().__init__(f"{self.PREFIX}: {fix}" + (f"; tried {names}" if names else ""))

    @property
    def detail(self) -> str:
        """One line per credential tried, for a place with room (a notification, the CLI)."""
        return "\n".join(f"{name}: {why or 'unavailable'}" for name, why in self.tried)


class Throttled(BackendUnavailable):
    """Azure Resource Manager refused a read (429): no read is sent until `retry_after_s` passed."""

    PREFIX = "throttled by Azure Resource Manager"

    def __init__(self, retry_after_s: float) -> None:
        self.retry_after_s = retry_after_s
        super().__init__(f"{self.PREFIX}: reads wait {retry_after_s:.0f} s, as its Retry-After says")
