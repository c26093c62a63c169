"""The MLClient of one Azure workspace, built on first use, and what every request it sends
goes through.

- azure.ai.ml is imported here, in the thread of the first call (about 2 s): the console's first
  frame never waits for it. Its loggers lose the stderr handler azure-ai-ml adds (a terminal UI
  must not be written over), and everything under `azure` (azure-identity's ten-line warning when
  no credential signs in, too) logs at WARNING into the workspace's `azure.log`, never stderr.
- The credential is `DefaultAzureCredential` (interactive browser left out) unless the profile or
  `--credential` names another, or a test injects one. `device_code` needs no `az`: its prompt
  goes to stderr, and the console signs in (`Session.sign_in`) before its first frame. When none
  works, errors.py says none was found, what was tried and the one step to take.
- Every HTTP attempt is counted (`Counter`), per area of the refresh and in all. ARM's read budget
  is the principal's, so one 429 holds every area: until its Retry-After runs out no console read
  is sent (`throttle_gate`), the read that met it ends at once instead of waiting out three
  retries in silence, and the header counts the seconds down. Writes and an operation's polls
  keep azure-core's retries (3 tries, Retry-After honoured).
- azure-ai-ml `print()`s: a "." per poll of its LRO poller and "Translate X to Schedule failed"
  for a schedule it cannot read. Those two modules' `print` is pointed at the console's log
  (and at a listing that asked to hear them), so `--json` stays JSON and the screen is not
  written over; stdout itself is left alone.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections import Counter as _Tally
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from console.azure.target import AzureTarget, state_dir

RETRY_TOTAL = 3
ARM_SCOPE = "https://management.azure.com/.default"
READ_AREAS = frozenset({"jobs", "computes", "quotas", "endpoints", "monitors", "models", "assets"})
log = logging.getLogger("amlops.azure")


@dataclass
class Counter:
    """What went over the wire: requests in all, per (method, route) and per area being read."""

    total: int = 0
    by_route: _Tally = field(default_factory=_Tally)
    by_area: _Tally = field(default_factory=_Tally)
    by_host: _Tally = field(default_factory=_Tally)  # ARM apart from Azure Monitor's batch API, storage, MLflow
    throttled_until: float | None = None  # time.time() when a 429 says the next request may go
    area: threading.local = field(default_factory=threading.local)

    def record(self, method: str, url: str, status: int | None, retry_after: str | None) -> None:
        self.total += 1
        self.by_route[(method, _route(url))] += 1
        self.by_area[getattr(self.area, "name", None) or "other"] += 1
        self.by_host[_host(url)] += 1
        if status == 429 and _is_arm(url):  # ARM's budget is the principal's: one 429 holds every read
            self.throttled_until = time.time() + retry_after_s(retry_after)

    def throttled_for(self) -> float | None:
        """Seconds until a 429's Retry-After runs out, or None."""
        if self.throttled_until is None:
            return None
        left = self.throttled_until - time.time()
        return left if left > 0 else None

    def fails_fast(self, method: str, url: str) -> bool:
        """A read of ARM made for an area of the console (not an operation's poll, not a write):
        while throttled it is not sent, and a 429 is not retried in silence but said at once."""
        return method.upper() == "GET" and _is_arm(url) and getattr(self.area, "name", None) in READ_AREAS


def retry_after_s(value: str | None, default: float = 10.0) -> float:
    """A Retry-After header in seconds, either form HTTP allows (seconds, or a date), read by
    azure-core's own parser; `default` when there is none or it cannot be read."""
    if not value:
        return default
    from azure.core.pipeline.policies._utils import parse_retry_after

    try:
        return parse_retry_after(str(value))
    except (ValueError, TypeError, OverflowError):
        return default


def _is_arm(url: str) -> bool:
    return _host(url).startswith("management.")  # management.azure.com, and the sovereign clouds'


def _host(url: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url).hostname or ""


def _route(url: str) -> str:
    """The URL's path with the names taken out: /workspaces/{}/computes/{}/stop."""
    from urllib.parse import urlsplit

    parts = urlsplit(url).path.strip("/").split("/")
    return "/" + "/".join(p if i % 2 == 0 else "{}" for i, p in enumerate(parts))


class Session:
    """One MLClient for one target, built on the first call that needs it."""

    def __init__(self, target: AzureTarget, *, credential: Any = None, transport: Any = None,
                 polling_interval: float | None = None) -> None:
        self.target = target
        self.counter = Counter()
        self._credential, self._transport, self._polling_interval = credential, transport, polling_interval
        self._client: Any = None
        self._scoring: Any = None
        self._location: str | None = None
        self._lock = threading.Lock()

    def client(self) -> Any:
        with self._lock:
            if self._client is None:
                log_azure_to(state_dir(self.target) / "azure.log")
                self._client = self._build()
            return self._client

    def location(self) -> str:
        """The workspace's region, read once (usages and sizes are per region)."""
        if self._location is None:
            self._location = str(self.client().workspaces.get(self.target.workspace_name).location)
        return self._location

    def credential(self) -> Any:
        """The credential every client of this workspace signs its requests with."""
        with self._lock:
            if self._credential is None:
                log_azure_to(state_dir(self.target) / "azure.log")
                self._credential = credential_for(self.target)
            return self._credential

    def sign_in(self) -> None:
        """Get ARM's token now: a device code is asked for here, in the terminal, not under a
        screen that would hide it. Other credentials sign in on their first request."""
        if self.target.credential != "device_code":
            return
        try:
            self.credential().get_token(ARM_SCOPE)
        except Exception as err:  # said as every other Azure failure is, never a traceback
            from console.azure.errors import translate

            raise translate(err, self.target, "workspace", self.target.workspace_name) from None

    def transport_kwargs(self) -> dict[str, Any]:
        """The injected transport, for the clients built beside MLClient (tests answer them offline)."""
        return {"transport": self._transport} if self._transport is not None else {}

    def counting(self) -> Any:
        """A pipeline policy that counts every attempt (retries included) in this session's counter."""
        from azure.core.pipeline.policies import SansIOHTTPPolicy

        counter = self.counter

        class Counting(SansIOHTTPPolicy):
            def on_response(self, request, response):
                http = response.http_response
                counter.record(request.http_request.method, request.http_request.url, http.status_code,
                               http.headers.get("Retry-After"))

        return Counting()

    def throttle_gate(self) -> Any:
        """A pipeline policy that refuses to send a read while ARM's Retry-After runs."""
        from azure.core.pipeline.policies import SansIOHTTPPolicy

        from console.errors import Throttled

        counter = self.counter

        class ThrottleGate(SansIOHTTPPolicy):
            def on_request(self, request):
                http = request.http_request
                left = counter.throttled_for()
                if left and counter.fails_fast(http.method, http.url):
                    raise Throttled(left)

        return ThrottleGate()

    def retry_policy(self) -> Any:
        """azure-core's retries (3 tries, Retry-After honoured), except a console read's 429: that
        ends the read at once, and the gate holds every read until Retry-After runs out."""
        from azure.core.pipeline.policies import RetryPolicy

        counter = self.counter

        class ThrottleAwareRetry(RetryPolicy):
            def is_retry(self, settings, response):
                http = response.http_request
                if response.http_response.status_code == 429 and counter.fails_fast(http.method, http.url):
                    return False
                return super().is_retry(settings, response)

        return ThrottleAwareRetry(retry_total=RETRY_TOTAL)

    def policies(self, *, retries: bool = True) -> list[Any]:
        """The pipeline of a client of our own (scoring): user agent, retries if asked, counting."""
        from azure.core.pipeline.policies import RetryPolicy, UserAgentPolicy

        chain: list[Any] = [UserAgentPolicy(base_user_agent="amlops")]
        chain.append(RetryPolicy(retry_total=RETRY_TOTAL) if retries else RetryPolicy.no_retries())
        return [*chain, self.counting()]

    def closable(self) -> Any:
        """What close() releases: the client of our own, if one was built."""
        return self._scoring

    def scoring_client(self) -> Any:
        """One pipeline client for scoring POSTs, kept for the session (its connections too)."""
        from azure.core import PipelineClient

        with self._lock:
            if self._scoring is None:
                self._scoring = PipelineClient("https://inference.ml.azure.com", policies=self.policies(retries=False),
                                               **self.transport_kwargs())
            return self._scoring

    def _build(self) -> Any:
        from azure.ai.ml import MLClient

        quiet_azure_loggers()
        keep_sdk_prints_off_stdout()
        skip_experimental_checks_cheaply()
        kwargs: dict[str, Any] = {"per_retry_policies": [self.throttle_gate(), self.counting()],
                                  "retry_policy": self.retry_policy(),
                                  **self.transport_kwargs()}
        if self._polling_interval is not None:
            kwargs["polling_interval"] = self._polling_interval
        credential = self._credential or credential_for(self.target)
        self._credential = credential
        return MLClient(credential, self.target.subscription_id, self.target.resource_group,
                        self.target.workspace_name, **kwargs)


def credential_for(target: AzureTarget) -> Any:
    """The azure-identity credential the profile names (DefaultAzureCredential by default)."""
    import azure.identity as identity

    quiet_azure_loggers()
    if target.credential == "cli":
        return identity.AzureCliCredential()
    if target.credential == "device_code":
        return identity.DeviceCodeCredential(prompt_callback=device_code_prompt)
    if target.credential == "managed_identity":
        return identity.ManagedIdentityCredential()
    if target.credential == "environment":
        return identity.EnvironmentCredential()
    return identity.DefaultAzureCredential(exclude_interactive_browser_credential=True)


def device_code_prompt(verification_uri: str, user_code: str, expires_on: Any) -> None:
    """Where to enter the code. azure-identity prints it to stdout, which `--json` keeps for JSON."""
    until = f" (valid until {expires_on:%H:%M})" if hasattr(expires_on, "strftime") else ""
    print(f"To sign in to Azure, open {verification_uri} in any browser and enter the code {user_code}{until}",
          file=sys.stderr, flush=True)


_log_lock = threading.Lock()
_log_handler: logging.Handler | None = None


def log_azure_to(path: Any) -> None:
    """Send the `azure` loggers' records (WARNING and up) to `path`, and not on to the root logger:
    with no handler there Python's last resort writes them to stderr, over the console's screen.
    One file at a time: the workspace opened last."""
    global _log_handler
    import logging.handlers
    from pathlib import Path

    path = Path(path)
    with _log_lock:
        logger = logging.getLogger("azure")
        logger.propagate = False
        if logger.level == logging.NOTSET or logger.level < logging.WARNING:
            logger.setLevel(logging.WARNING)
        if getattr(_log_handler, "baseFilename", None) == str(path.resolve()):
            return
        handler: logging.Handler
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # A chain with nothing to sign in with warns on every read (a kilobyte each): keep the
            # newest megabyte or two. Opened on the first record, not before.
            handler = logging.handlers.RotatingFileHandler(path, maxBytes=1_000_000, backupCount=1, delay=True)
            handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
        except OSError:  # nowhere to keep them: silent rather than over the screen
            handler = logging.NullHandler()
        if _log_handler is not None:
            logger.removeHandler(_log_handler)
            _log_handler.close()
        logger.addHandler(handler)
        _log_handler = handler


def quiet_azure_loggers() -> None:
    """azure-ai-ml adds a stderr handler to its loggers and logs at INFO: in a terminal UI that
    writes over the screen. Remove the handlers; WARNING and above go where `log_azure_to` sends them."""
    for name in list(logging.Logger.manager.loggerDict):
        if name == "azure" or name.startswith("azure."):
            logger = logging.getLogger(name)
            for handler in list(logger.handlers):
                if isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler):
                    logger.removeHandler(handler)
            logger.setLevel(logging.WARNING)
    logging.getLogger("azure").setLevel(logging.WARNING)


_heard = threading.local()  # the SDK's words a listing asked to hear, in the thread that listed


def _sdk_print(*values: Any, sep: str | None = " ", end: str | None = "\n", file: Any = None,
               flush: bool = False) -> None:
    """`print` as azure-ai-ml's poller and schedule listing see it: to the log, never stdout."""
    if file not in (None, sys.stdout):  # a print aimed elsewhere on purpose goes where it was aimed
        print(*values, sep=sep, end=end, file=file, flush=flush)
        return
    text = (sep or " ").join(str(v) for v in values).strip()
    if not text or text == ".":  # the poller's progress dot: nothing to keep
        return
    log.info("azure-ai-ml: %s", text)
    notes = getattr(_heard, "notes", None)
    if notes is not None:
        notes.append(text)


def keep_sdk_prints_off_stdout() -> None:
    """Point `print` in the azure-ai-ml modules that print (DESIGN.md, Known pitfalls) at `_sdk_print`.
    A module's globals come before builtins, so this changes those modules and nothing else."""
    from azure.ai.ml._utils import _azureml_polling
    from azure.ai.ml.operations import _schedule_operations

    for module in (_azureml_polling, _schedule_operations):
        module.print = _sdk_print  # type: ignore[attr-defined]


def skip_experimental_checks_cheaply() -> None:
    """azure-ai-ml asks, for every object of an experimental class it builds (a deployment's data
    collector and each of its collections), whether it is being built from a REST answer, by
    `inspect.stack()`: that reads the source lines of every frame, about 0.1 s per deployment read
    under a deep stack (most of a 50-endpoint listing's CPU). The same question, answered by
    walking the frames without their source."""
    from azure.ai.ml._utils import _experimental

    def _should_skip_warning() -> bool:
        frame = sys._getframe(1)
        while frame is not None:
            if frame.f_code.co_name == "_from_rest_object":
                return True
            frame = frame.f_back
        return False

    # The SDK's own, kept beside it once (tests hold the two to the same answers).
    _experimental.__dict__.setdefault("shipped_should_skip_warning", _experimental._should_skip_warning)
    _experimental._should_skip_warning = _should_skip_warning


@contextmanager
def sdk_notes() -> Iterator[list[str]]:
    """What azure-ai-ml printed in this thread meanwhile (e.g. the schedules it could not read)."""
    previous = getattr(_heard, "notes", None)
    _heard.notes = notes = []
    try:
        yield notes
    finally:
        _heard.notes = previous
