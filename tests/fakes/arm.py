"""A fake Azure Resource Manager for one Azure ML workspace: state in memory, for offline tests that
run the real azure-ai-ml over it.

    fake = FakeArm()
    ml = MLClient(FakeCredential(), fake.SUBSCRIPTION, fake.RESOURCE_GROUP, fake.WORKSPACE,
                  transport=RequestsTransport(session=fake.session()), polling_interval=0)

It owns the ARM routes azure-ai-ml 1.35.2 calls for the console's areas, and Azure Monitor's metrics
for the workspace's online endpoints. Each route answers in the shape of a REST API example from
`arm_data/` (copies of ../shared/fixtures/azure-rest/, sources in arm_data/README.md), its
placeholders filled with the demo's state. The fixture behind each route is named in ROUTES. The
api-version is never checked: the SDK sends a different one per area.

What it keeps from Azure:
- Long-running writes answer as their examples do (202 with `Azure-AsyncOperation` or `Location`,
  or 201/200 and `Azure-AsyncOperation` for PUTs). Each operation URL answers InProgress
  `operation_polls` times, then Succeeded (or Failed, after `fail_next_operation`). The resource
  shows the transition meanwhile (Stopping -> Stopped, Creating -> Succeeded, CancelRequested ->
  Canceled), and the effect lands when the operation ends. The answers carry no `Retry-After`, so
  `polling_interval=0` polls at once.
- A traffic update (a full PUT of the endpoint) applies eventually: the next `settle_after` reads of
  that endpoint (GETs or lists, the SDK's own final GET of the operation included) still report the
  old traffic and mirror traffic. Traffic must name existing deployments and sum to 0 or 100 (400 otherwise).
- A deployment with live traffic cannot be deleted (400). Compute actions check the state (409).
- A request without `Authorization: Bearer ...` answers 401. A route the fake lacks answers 404 with
  an ARM error body (and lands in `unhandled`), so nothing is silently faked.
- RBAC as Azure applies it: `FakeArm(role="Reader")` refuses every write and action (listSecrets,
  listKeys, getLogs, ...) with ARM's 403 AuthorizationFailed naming the action and scope; a token
  reads blob data only with `blob_data_role` on the storage account, whatever the workspace role.
  Storage answers in its own XML with `x-ms-error-code` (AuthenticationFailed for an expired SAS,
  AuthorizationPermissionMismatch, KeyBasedAuthenticationNotPermitted, InvalidRange, BlobNotFound).
- `fail(method, path_regex, status)` makes the next matching requests answer an error instead;
  `operations_held()` keeps operations InProgress while a test looks at the resource mid-way.
"""

from __future__ import annotations

import base64
import copy
import functools
import hashlib
import http
import io
import json
import math
import os
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import requests
from requests.adapters import BaseAdapter, HTTPAdapter
from urllib3.response import HTTPResponse

DATA = Path(__file__).with_name("arm_data")
CHURN_CSV = Path(__file__).resolve().parents[2] / "specs" / "data" / "churn-features" / "churn.csv"
NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=timezone.utc)  # the canned workspace's clock too
HOST = "management.azure.com"
SCORING_HOST = ".inference.ml.azure.com"
BLOB_HOST = ".blob.core.windows.net"  # the workspace's storage account: https://{account}.blob.core.windows.net
STORAGE_ACCOUNT, BLOB_CONTAINER = "wsdemostorage", "azureml-blobstore-00000000-0000-0000-0000-000000000000"
TRACKING_HOST = ".api.azureml.ms"  # the region's services: MLflow tracking at /mlflow/v1.0/{workspace id}/api/2.0/mlflow/
ARTIFACT_CONTAINER = "azureml"  # workspaceartifactstore: runs' logs and outputs
DATASTORES = {"workspaceblobstore": BLOB_CONTAINER, "workspaceartifactstore": ARTIFACT_CONTAINER}
STORAGE_KEY = "ZmFrZS1zdG9yYWdlLWFjY291bnQta2V5LWZvci10ZXN0cw=="  # base64: the blob SDK signs with it  # an endpoint's scoring URI: https://{endpoint}.{region}.inference...
USER = "alex@contoso.com"
USER_OBJECT_ID = "33333333-4444-5555-6666-777777777777"  # the user's object id, as ARM's 403s name it

Reply = tuple[int, Any, dict[str, str]]  # status, JSON body (or None), extra headers


@dataclass(frozen=True)
class Call:
    """One request the fake received."""
    method: str
    path: str  # no host, no query
    query: dict[str, str]
    body: Any  # parsed JSON, or None
    headers: dict[str, str]  # lower-case names
    host: str = HOST


@dataclass
class _Operation:
    """A long-running operation: InProgress `polls_left` more times, then it ends."""
    id: str
    polls_left: int
    on_success: Callable[[], None]
    on_failure: Callable[[], None]
    error: dict | None = None  # set: it ends Failed with this error
    forget: bool = False  # set: it is forgotten as it ends, so the poll that would say so answers 404
    status: str = "InProgress"
    started: datetime = NOW


@dataclass
class _Failure:
    method: str
    pattern: re.Pattern
    status: int
    body: Any
    headers: dict[str, str]
    times: int


# --- the REST examples ----------------------------------------------------------------------------

@functools.cache
def _load(path: str) -> dict:
    return json.loads((DATA / path).read_text(encoding="utf-8"))


def example(path: str, status: str = "200") -> dict:
    """A fresh copy of the response body of a REST example in arm_data/."""
    return copy.deepcopy(_load(path)["responses"][status]["body"])


def async_header(path: str) -> str:
    """The header a long-running example's 202 answer names its operation in: Azure-AsyncOperation or
    Location (spelled as HTTP spells it)."""
    headers = _load(path)["responses"]["202"]["headers"]
    name = next(name for name in headers if name.lower() in ("azure-asyncoperation", "location"))
    return "Location" if name.lower() == "location" else name


def stamp(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def system_data(created: datetime, modified: datetime | None = None) -> dict:
    return {"createdAt": stamp(created), "createdBy": USER, "createdByType": "User",
            "lastModifiedAt": stamp(modified or created), "lastModifiedBy": USER, "lastModifiedByType": "User"}


def arm_error(code: str, message: str) -> dict:
    return {"error": {"code": code, "message": message}}


ERRORS = {  # the default body fail() answers with, per status
    400: ("BadRequest", "The request is invalid."),
    401: ("InvalidAuthenticationToken", "The access token is invalid or has expired."),
    403: ("AuthorizationFailed", f"The client '{USER}' does not have authorization to perform this action."),
    404: ("ResourceNotFound", "The resource was not found."),
    409: ("Conflict", "The operation conflicts with the resource's current state."),
    429: ("TooManyRequests", "The request is throttled: retry after the time in the Retry-After header."),
    500: ("InternalServerError", "Encountered an internal server error."),
    503: ("ServiceUnavailable", "The service is unavailable."),
}

# Sizes the seed uses that the VirtualMachineSize example lacks, in its shape (list prices, East US).
EXTRA_SIZES = [
    {"name": "Standard_NC6s_v3", "family": "standardNCSv3Family", "vCPUs": 6, "gpus": 1, "osVhdSizeMB": 1047552,
     "maxResourceVolumeMB": 344064, "memoryGB": 112.0, "lowPriorityCapable": True, "premiumIO": True,
     "estimatedVMPrices": {"billingCurrency": "USD", "unitOfMeasure": "OneHour", "values": [
         {"retailPrice": 3.06, "osType": "Linux", "vmTier": "Standard"},
         {"retailPrice": 0.61, "osType": "Linux", "vmTier": "LowPriority"}]},
     "supportedComputeTypes": ["AmlCompute", "ComputeInstance", "MIR"]},
    {"name": "Standard_E4s_v3", "family": "standardESv3Family", "vCPUs": 4, "gpus": 0, "osVhdSizeMB": 1047552,
     "maxResourceVolumeMB": 65536, "memoryGB": 32.0, "lowPriorityCapable": True, "premiumIO": True,
     "estimatedVMPrices": {"billingCurrency": "USD", "unitOfMeasure": "OneHour", "values": [
         {"retailPrice": 0.252, "osType": "Linux", "vmTier": "Standard"},
         {"retailPrice": 0.05, "osType": "Linux", "vmTier": "LowPriority"}]},
     "supportedComputeTypes": ["AmlCompute", "ComputeInstance", "MIR"]},
]
# Usage names (as the Usage example spells them) of the families EXTRA_SIZES add, and their limits.
EXTRA_FAMILIES = {"Standard NCSv3 Family": 0, "Standard ESv3 Family": 24}
# A family row's name in the Usage example: its family and its tier.
USAGE_NAME = re.compile(r"^(?P<family>.+ Family) Cluster (?P<tier>Dedicated|LowPriority) vCPUs$")

# What online endpoints emit (learn.microsoft.com, Azure Monitor supported metrics for
# Microsoft.MachineLearningServices/workspaces/onlineEndpoints): name -> (unit, display description,
# the aggregations it lists, its dimensions). Every one lists Average alone: no Total, no Count.
_LATENCY = (("average",), ("deployment",))
ENDPOINT_METRICS = {
    "RequestsPerMinute": ("Count", "The number of requests sent to online endpoint within a minute", ("average",),
                          ("deployment", "statusCode", "statusCodeClass", "modelStatusCode")),
    "RequestLatency": ("Milliseconds", "The average complete interval of time taken for a request to be responded",
                       *_LATENCY),
    "RequestLatency_P50": ("Milliseconds", "The average P50 request latency", *_LATENCY),
    "RequestLatency_P90": ("Milliseconds", "The average P90 request latency", *_LATENCY),
    "RequestLatency_P95": ("Milliseconds", "The average P95 request latency", *_LATENCY),
    "RequestLatency_P99": ("Milliseconds", "The average P99 request latency", *_LATENCY),
}
ENDPOINT_NAMESPACE = "Microsoft.MachineLearningServices/workspaces/onlineEndpoints"
METRICS_HOST = ".metrics.monitor.azure.com"  # Azure Monitor's regional data plane: https://{region}.metrics...
METRICS_BATCH = 50  # resource ids one metrics:getBatch call takes
SERVING_KEYS = {"RequestsPerMinute": "requests_per_minute", "RequestLatency": "latency_ms",
                "RequestLatency_P50": "p50_ms", "RequestLatency_P90": "p90_ms", "RequestLatency_P95": "p95_ms",
                "RequestLatency_P99": "p99_ms"}

COMPUTE_ACTIONS = {  # action -> (states it starts from, transition state, end state, example)
    "stop": (("Running", "JobRunning"), "Stopping", "Stopped", "Compute/stop.json"),
    "start": (("Stopped",), "Starting", "Running", "Compute/start.json"),
    "restart": (("Running", "JobRunning"), "Restarting", "Running", "Compute/restart.json"),
}

_S = r"/subscriptions/(?P<sub>[^/]+)"
_WS = _S + r"/resourceGroups/(?P<rg>[^/]+)/providers/Microsoft\.MachineLearningServices/workspaces/(?P<ws>[^/]+)"
_LOC = _S + r"/providers/Microsoft\.MachineLearningServices/locations/(?P<loc>[^/]+)"
_EP = _WS + r"/onlineEndpoints/(?P<endpoint>[^/]+)"
_DEP = _EP + r"/deployments/(?P<deployment>[^/]+)"

# (method, path regex, handler, the REST example its answer is shaped after)
ROUTES = [
    ("GET", _WS, "get_workspace", "Workspace/get.json"),
    ("GET", _WS + "/computes", "list_computes", "Compute/get/*.json items"),
    ("GET", _WS + "/computes/(?P<name>[^/]+)", "get_compute", "Compute/get/AmlCompute.json, ComputeInstance.json"),
    ("POST", _WS + "/computes/(?P<name>[^/]+)/(?P<action>start|stop|restart)", "compute_action",
     "Compute/start.json, stop.json, restart.json"),
    ("POST", _WS + "/computes/(?P<name>[^/]+)/listNodes", "list_nodes", "Compute/listNodes.json"),
    ("PUT", _WS + "/computes/(?P<name>[^/]+)", "put_compute", "Compute/get/AmlCompute.json, ComputeInstance.json"),
    ("GET", _LOC + "/usages", "list_usages", "Usage/list.json"),
    ("GET", _LOC + "/vmSizes", "list_vm_sizes", "VirtualMachineSize/list.json"),
    ("GET", _LOC + "/(?:mfe|compute)OperationsStatus/(?P<op>[^/]+)", "operation_status", "ARM async operation"),
    ("GET", _LOC + "/mfeOperationResults/(?P<op>[^/]+)", "operation_result", "ARM Location polling"),
    ("GET", _WS + "/jobs", "list_jobs", "Job/CommandJob/list.json (items as get.json)"),
    ("GET", _WS + "/jobs/(?P<name>[^/]+)", "get_job", "Job/CommandJob/get.json"),
    ("POST", _WS + "/jobs/(?P<name>[^/]+)/cancel", "cancel_job", "Job/cancel.json"),
    ("PUT", _WS + "/jobs/(?P<name>[^/]+)", "put_job", "Job/CommandJob/get.json, Job/PipelineJob/list.json item"),
    ("PUT", _WS + "/components/(?P<name>[^/]+)/versions/(?P<version>[^/]+)", "put_component",
     "ComponentVersion, as sent"),
    ("GET", _WS + "/onlineEndpoints", "list_endpoints", "Workspace/OnlineEndpoint/get.json items"),
    ("GET", _EP, "get_endpoint", "Workspace/OnlineEndpoint/get.json"),
    ("PUT", _EP, "put_endpoint", "Workspace/OnlineEndpoint/createOrUpdate.json"),
    ("POST", _EP + "/listKeys", "list_keys", "Workspace/OnlineEndpoint/listKeys.json"),
    ("POST", _EP + "/regenerateKeys", "regenerate_keys", "Workspace/OnlineEndpoint/regenerateKeys.json"),
    ("DELETE", _EP, "delete_endpoint", "Workspace/OnlineEndpoint/delete.json; headers as recorded (azure-recordings)"),
    ("GET", _EP + "/providers/Microsoft\\.Insights/metrics", "get_metrics", "Insights/metrics/GetMetric.json"),
    ("GET", _EP + "/deployments", "list_deployments", "OnlineDeployment/ManagedOnlineDeployment/get.json items"),
    ("GET", _DEP, "get_deployment", "OnlineDeployment/ManagedOnlineDeployment/get.json"),
    ("PUT", _DEP, "put_deployment", "OnlineDeployment/ManagedOnlineDeployment/createOrUpdate.json"),
    ("DELETE", _DEP, "delete_deployment", "Workspace/OnlineDeployment/delete.json"),
    ("POST", _DEP + "/getLogs", "get_logs", "OnlineDeployment/getLogs.json"),
    ("GET", _WS + "/models", "list_models", "Workspace/ModelContainer/list.json"),
    ("GET", _WS + "/models/(?P<name>[^/]+)", "get_model", "Workspace/ModelContainer/list.json item"),
    ("GET", _WS + "/models/(?P<name>[^/]+)/versions", "list_model_versions", "Workspace/ModelVersion/list.json"),
    ("GET", _WS + "/models/(?P<name>[^/]+)/versions/(?P<version>[^/]+)", "get_model_version",
     "Workspace/ModelVersion/list.json item"),
    ("PUT", _WS + "/models/(?P<name>[^/]+)/versions/(?P<version>[^/]+)", "put_model_version",
     "Workspace/ModelVersion/list.json item, with what was sent"),
    ("GET", _WS + "/data", "list_data", "Workspace/DataVersionBase/list.json, as containers"),
    ("PUT", _WS + "/environments/(?P<name>[^/]+)/versions/(?P<version>[^/]+)", "put_environment",
     "EnvironmentVersion, as sent"),
    ("GET", _WS + "/environments/(?P<name>[^/]+)/versions/(?P<version>[^/]+)", "get_environment",
     "EnvironmentVersion, as sent"),
    ("GET", _WS + "/environments", "list_environments", "Workspace/EnvironmentVersion/list.json shape: none seeded"),
    ("GET", _WS + "/data/(?P<name>[^/]+)/versions/(?P<version>[^/]+)", "get_data",
     "Workspace/DataVersionBase/list.json item"),
    ("PUT", _WS + "/data/(?P<name>[^/]+)/versions/(?P<version>[^/]+)", "put_data",
     "Workspace/DataVersionBase/list.json item (deployments register their collected data)"),
    ("GET", _WS + "/codes/(?P<name>[^/]+)/versions", "list_code_versions", "CodeVersion list: by content hash"),
    ("POST", _WS + "/codes/(?P<name>[^/]+)/versions/(?P<version>[^/]+)/startPendingUpload", "start_pending_upload",
     "PendingUploadResponseDto: a SAS for the workspace's container"),
    ("PUT", _WS + "/codes/(?P<name>[^/]+)/versions/(?P<version>[^/]+)", "put_code_version", "CodeVersion"),
    ("GET", _WS + "/codes/(?P<name>[^/]+)/versions/(?P<version>[^/]+)", "get_code_version", "CodeVersion"),
    ("GET", _WS + "/datastores/(?P<name>[^/]+)", "get_datastore", "azure-ai-ml's DatastoreData (AzureBlob): no example"),
    ("POST", _WS + "/datastores/(?P<name>[^/]+)/listSecrets", "list_datastore_secrets",
     "azure-ai-ml's AccountKeyDatastoreSecrets: no example"),
    ("GET", _WS + "/schedules", "list_schedules", "Schedule/list.json, action built from azure-ai-ml's models"),
    ("GET", _WS + "/schedules/(?P<name>[^/]+)", "get_schedule", "Schedule/list.json item"),
    ("PUT", _WS + "/schedules/(?P<name>[^/]+)", "put_schedule", "Schedule/createOrUpdate.json"),
]


class FakeArm:
    """One Azure ML workspace (and Azure Monitor's metrics for its endpoints) in memory, answering
    the ARM routes azure-ai-ml calls, in the shapes of the real REST examples in
    ../shared/fixtures/azure-rest/ (copied into tests/fakes/arm_data/ with their source path)."""

    SUBSCRIPTION, RESOURCE_GROUP, WORKSPACE, LOCATION = (
        "00000000-0000-0000-0000-000000000000", "rg-demo", "ws-demo", "eastus")

    def __init__(self, *, empty: bool = False, settle_after: int = 1, jobs_page_size: int = 3,
                 operation_polls: int = 1, unparsable_job: bool = False, now: datetime = NOW,
                 role: str = "Contributor", blob_data_role: str | None = None, identity_datastores: bool = False,
                 shared_key_access: bool = True):
        self.settle_after, self.jobs_page_size, self.operation_polls = settle_after, jobs_page_size, operation_polls
        self.now = now
        # Who the caller is, as Azure RBAC sees it. A "Reader" of the workspace may only read: every
        # write and action (listSecrets, listKeys, getLogs, ...) answers ARM's 403 AuthorizationFailed.
        # Blob data is the storage account's: a token reads it only with `blob_data_role` ("Storage
        # Blob Data Reader" or "... Contributor") on the account, whatever the workspace role; a SAS
        # or the account key reads it unless the account refuses shared keys (`shared_key_access`).
        # `identity_datastores`: the datastores keep no secret (credentialsType None), as a workspace
        # made with identity-based access to its storage.
        self.role, self.blob_data_role = role, blob_data_role
        self.identity_datastores, self.shared_key_access = identity_datastores, shared_key_access
        self.blob_types: dict[str, str] = {}  # blob name -> BlockBlob or AppendBlob (BlockBlob unless set)
        self._account_sas: set[str] = set()  # the sig of each SAS listSecrets gave (an account SAS)
        self.requests: list[Call] = []
        self.unhandled: list[Call] = []  # requests no route answered (they got a 404)
        self.ws_id = (f"/subscriptions/{self.SUBSCRIPTION}/resourceGroups/{self.RESOURCE_GROUP}"
                      f"/providers/Microsoft.MachineLearningServices/workspaces/{self.WORKSPACE}")
        self._lock = threading.RLock()
        self._released = threading.Event()
        self._released.set()
        self._failures: list[_Failure] = []
        self._next_failure: dict | None = None
        self._operations: dict[str, _Operation] = {}
        self._op_ids = (f"{n:08x}-0000-4000-8000-{n:012x}" for n in range(1, 1 << 30))
        self._routes = [(m, re.compile(p + "$", re.IGNORECASE), getattr(self, h)) for m, p, h, _ in ROUTES]
        # State: ARM resource bodies by name, as the routes answer them.
        self.computes: dict[str, dict] = {}
        self.jobs: dict[str, dict] = {}
        self.endpoints: dict[str, dict] = {}
        self.deployments: dict[str, dict[str, dict]] = {}  # endpoint -> deployment -> body
        self.keys: dict[str, dict] = {}
        # Set: a delete's operation is forgotten as it ends, and its status URL answers 404 (ARM does
        # this once the resource is gone); the caller must read the resource to know how it ended.
        self.deletes_forget_their_operation = False
        self.pending_traffic: dict[str, dict] = {}  # endpoint -> {"traffic", "mirrorTraffic", "reads_left"}
        self.models: dict[str, dict] = {}
        self.model_versions: dict[str, dict[str, dict]] = {}
        self.schedules: dict[str, dict] = {}
        self.data: dict[str, dict[str, dict]] = {}  # name -> version -> body
        self.serving: dict[str, dict[str, dict]] = {}  # endpoint -> deployment -> metric values per minute
        self.logs: dict[tuple[str, str], str] = {}
        self.scored: dict[str, int] = {}  # endpoint -> scoring requests routed by its split
        self.blobs: dict[str, bytes] = {}  # blob name in the workspace's container -> content
        self.datastore_container = BLOB_CONTAINER
        self.codes: dict[str, dict[str, dict]] = {}  # code asset name -> version -> body
        self.blob_metadata: dict[str, dict[str, str]] = {}
        self.environments: dict[str, dict[str, dict]] = {}  # name -> version -> body
        self.components: dict[str, dict[str, dict]] = {}  # name -> version -> body
        self.step_status: dict[tuple[str, str], str] = {}  # (pipeline job, step) -> its child run's status
        self.sas_issued, self.sas_valid_from = 0, 0  # SAS tokens given out; the first storage still accepts
        self.created_by_schedule: dict[str, str] = {}  # job -> the schedule that created it
        self.run_metrics: dict[str, dict[str, list[float]]] = {}  # job -> metric key -> values by step
        self.artifacts: dict[str, bytes] = {}  # the artifact store's container ("azureml"): run logs, outputs
        self.vm_sizes = example("VirtualMachineSize/list.json")["value"] + copy.deepcopy(EXTRA_SIZES)
        self.usage_limits = self._seed_usage_limits()
        if not empty:
            self._seed()
        if unparsable_job:
            self.add_unparsable_job()

    # --- the transport ----------------------------------------------------------------------------

    def session(self) -> requests.Session:
        """A requests.Session whose every request this fake answers (RequestsTransport(session=...))."""
        s = requests.Session()
        adapter = _Adapter(self)
        s.mount("https://", adapter)
        s.mount("http://", adapter)
        return s

    def handle(self, method: str, url: str, headers: dict[str, str], body: Any) -> Reply:
        parts = urlsplit(url)
        call = Call(method.upper(), parts.path, dict(parse_qsl(parts.query, keep_blank_values=True)), body,
                    {k.lower(): v for k, v in headers.items()}, parts.hostname or "")
        if "Operation" in call.path:  # an operation's URL: it waits while operations are held
            self._released.wait(timeout=10)
        with self._lock:
            self.requests.append(call)
            signed = ("Bearer ", f"SharedKey {STORAGE_ACCOUNT}:") if call.host.endswith(BLOB_HOST) else ("Bearer ",)
            sig = call.query.get("sig", "") if call.host.endswith(BLOB_HOST) else ""
            sas = bool(sig) and sig.startswith("fake")
            public = call.path == "/discovery"  # the workspace's discovery document needs no token
            if not (sas or public) and not call.headers.get("authorization", "").startswith(signed):
                return 401, arm_error("AuthenticationFailed", "Authentication failed. The 'Authorization' header is "
                                      "missing."), {"WWW-Authenticate": 'Bearer error="invalid_token"'}
            refused = self._refused(call, sig if sas else None)
            if refused is not None:
                return refused
            for failure in self._failures:
                if failure.times > 0 and failure.method in ("*", call.method) and failure.pattern.search(call.path):
                    failure.times -= 1
                    return failure.status, failure.body, dict(failure.headers)
            if call.host.endswith(SCORING_HOST):
                return self.score(call)
            if call.host.endswith(BLOB_HOST):
                return self.blob(call)
            if call.host == f"{self.LOCATION}{TRACKING_HOST}":
                return self.mlflow(call)
            if call.host == f"{self.LOCATION}{METRICS_HOST}":
                return self.metrics_batch(call)
            for route_method, pattern, handler in self._routes:
                match = pattern.match(call.path)
                if route_method == call.method and match and call.host == HOST:
                    scope = match.groupdict()
                    if scope.get("sub", self.SUBSCRIPTION) != self.SUBSCRIPTION or scope.get("ws", self.WORKSPACE) \
                            != self.WORKSPACE or scope.get("rg", self.RESOURCE_GROUP).lower() \
                            != self.RESOURCE_GROUP.lower():
                        return 404, arm_error("ResourceNotFound", f"No workspace at {call.path}."), {}
                    names = {k: v for k, v in scope.items() if k not in ("sub", "rg", "ws", "loc")}
                    return handler(call, **names)
            self.unhandled.append(call)
            return 404, arm_error("NotFound", f"FakeArm has no route for {call.method} {call.host}{call.path}"), {}

    # --- test controls ----------------------------------------------------------------------------

    def fail(self, method: str, path_pattern: str, status: int, *, body: Any = None,
             headers: dict[str, str] | None = None, times: int = 1) -> None:
        """The next `times` requests of `method` ("*": any) whose path matches the regex answer `status`
        with `body` (default: an ARM error body for the status) and `headers` (e.g. Retry-After)."""
        code, message = ERRORS.get(status, ("Error", f"HTTP {status}"))
        self._failures.append(_Failure(method.upper(), re.compile(path_pattern), status,
                                       arm_error(code, message) if body is None else body, headers or {}, times))

    def fail_next_operation(self, code: str = "InternalServerError", message: str = "The operation failed.",
                            *, status: int = 400) -> None:
        """The next long-running operation started ends Failed with this error (its Location form
        answers `status`); the resource goes back to where it was."""
        self._next_failure = {"code": code, "message": message, "status": status}

    def finish_operations(self) -> None:
        """Azure ends every operation under way on its own clock, whoever polls it (or nobody: the
        process that started it may be gone)."""
        for op in list(self._operations.values()):
            op.polls_left = 0
            self._advance(op)

    @contextmanager
    def operations_held(self) -> Iterator[None]:
        """Inside this block, polls of operation URLs wait (up to 10 s) until it ends, so a test can look
        at a resource mid-operation: azure-core's LROPoller polls in a thread it starts in begin_*, and
        with polling_interval=0 it would otherwise be done before the test looks."""
        self._released.clear()
        try:
            yield
        finally:
            self._released.set()

    def calls(self, method: str | None = None, path_pattern: str = "") -> list[Call]:
        """The requests received so far, filtered by method and a regex searched in the path."""
        return [c for c in self.requests if (method is None or c.method == method.upper())
                and re.search(path_pattern, c.path)]

    # state helpers for tests
    def compute(self, name: str) -> dict:
        return self.computes[name]

    def compute_state(self, name: str) -> str:
        props = self.computes[name]["properties"]
        return props["properties"].get("state") or props["properties"].get("allocationState")

    def job(self, name: str) -> dict:
        return self.jobs[name]

    def endpoint(self, name: str) -> dict:
        return self.endpoints[name]

    def traffic(self, endpoint: str) -> dict[str, int]:
        """The traffic the endpoint reports now (a pending update not yet applied is not in it)."""
        return dict(self.endpoints[endpoint]["properties"]["traffic"])

    def mirror_traffic(self, endpoint: str) -> dict[str, int]:
        return dict(self.endpoints[endpoint]["properties"].get("mirrorTraffic") or {})

    def deployment(self, endpoint: str, name: str) -> dict:
        return self.deployments[endpoint][name]

    def set_serving(self, endpoint: str, deployment: str, **values: float) -> None:
        """Per-minute figures the metrics route reports for a deployment: requests_per_minute,
        latency_ms, p50_ms, p90_ms, p95_ms, p99_ms (a minute with 0 requests reports no values), and
        status_codes, each code's share of the requests ({"200": 1.0} unless set)."""
        self.serving.setdefault(endpoint, {}).setdefault(deployment, _quiet()).update(values)

    def add_job(self, body: dict) -> None:
        """Add a job as its raw REST body (listed newest first by systemData.createdAt)."""
        self.jobs[body["name"]] = body

    def add_unparsable_job(self, name: str = "odd_shape_0000000000") -> str:
        """A job the SDK cannot turn into an entity (jobs.list yields None for it), created before
        every seeded job, so it lands on the last page."""
        body = self._job(name, "Completed", "odd-shape", created=self.now - timedelta(days=3),
                         ended=self.now - timedelta(days=3) + timedelta(minutes=2))
        body["properties"]["inputs"] = {"data": {"jobInputType": "no_such_input_type", "uri": "azureml:x:1"}}
        self.add_job(body)
        return name

    # --- seed -------------------------------------------------------------------------------------

    def _seed(self) -> None:
        def ago(**delta: float) -> datetime:
            return self.now - timedelta(**delta)
        for body in (
            self._cluster("cpu-cluster", "Standard_DS3_v2", max_nodes=4, nodes=1, idle="PT2M", created=ago(days=30)),
            self._cluster("gpu-cluster", "Standard_NC6s_v3", max_nodes=2, nodes=0, idle="PT5M", created=ago(days=30)),
            self._instance("dev-instance", "Standard_DS3_v2", "Running", idle="PT30M", created=ago(days=20),
                           last=("Start", "User", ago(hours=3, minutes=12))),
            self._instance("notebook-ci", "Standard_DS2_v2", "Stopped", idle="PT60M", created=ago(days=12),
                           last=("Stop", "IdleShutdown", ago(hours=8))),
        ):
            self.computes[body["name"]] = body
        for body in (
            self._job("calm_river_7hk2m9x4pq", "Running", "train-churn-classifier", created=ago(minutes=7)),
            self._job("keen_lamp_q1w2e3r4t5", "Queued", "train-churn-sweep", created=ago(minutes=9, seconds=30)),
            self._job("brave_stone_x8c4v7b2n1", "Failed", "train-churn-classifier", created=ago(hours=2, minutes=20),
                      ended=ago(hours=2, minutes=17, seconds=46), reg_rate="-0.1"),
            self._job("happy_cloud_3j5k7l9m0n", "Completed", "train-churn-classifier", created=ago(hours=5, minutes=3),
                      ended=ago(hours=4, minutes=58, seconds=55)),
            self._job("quiet_field_5t6y7u8i9o", "Completed", "train-churn-classifier",
                      created=ago(hours=20, minutes=40), ended=ago(hours=20, minutes=35, seconds=12)),
        ):
            self.add_job(body)
        self._add_model_version("churn-classifier", "1", created=ago(hours=20), job="quiet_field_5t6y7u8i9o")
        self._add_model_version("churn-classifier", "2", created=ago(hours=4, minutes=55), job="happy_cloud_3j5k7l9m0n")
        self._add_data("churn_features", "1", "uri_folder", "azureml://datastores/workspaceblobstore/paths/"
                       "LocalUpload/churn-features/", created=ago(days=3))
        self.endpoints["churn-ep"] = self._endpoint("churn-ep", {"blue": 100, "green": 0}, created=ago(days=2))
        self.keys["churn-ep"] = _keys("churn-ep")
        self.deployments["churn-ep"] = {
            "blue": self._deployment("churn-ep", "blue", "churn-classifier", "1", created=ago(days=2)),
            "green": self._deployment("churn-ep", "green", "churn-classifier", "2", created=ago(minutes=40)),
        }
        self.set_serving("churn-ep", "blue", requests_per_minute=120.0, latency_ms=12.4, p50_ms=11.2, p90_ms=19.6,
                         p95_ms=24.8, p99_ms=41.5)
        self.set_serving("churn-ep", "green")
        self.schedules["churn-drift"] = self._monitor_schedule("churn-drift", "churn-ep", "blue", created=ago(days=2))
        self.schedules["nightly-scoring"] = self._batch_schedule("nightly-scoring", created=ago(days=5))
        for days, status in ((1, "Completed"), (0, "Failed")):  # the Spark runs of the schedule, 03:15 daily
            self._monitor_run("churn-drift", status, created=ago(days=days, hours=8, minutes=45))
        self._seed_blobs()
        for job, auc in (("happy_cloud_3j5k7l9m0n", 0.7844), ("quiet_field_5t6y7u8i9o", 0.7777)):
            self.log_metrics(job, "holdout_log_loss", [round(0.62 - 0.17 * (1 - 0.9 ** i), 4) for i in range(40)])
            self.log_metrics(job, "auc", [auc])
            self.artifacts[f"ExperimentRun/dcid.{job}/user_logs/std_log.txt"] = (
                f"training churn classifier on churn_features:1\nholdout auc {auc}\nlogged model to MLflow\n").encode()

    def _monitor_run(self, schedule: str, status: str, *, created: datetime) -> str:
        """A run a monitor schedule created: a pipeline job (Job/PipelineJob/list.json's shape) on
        serverless Spark."""
        name = f"{schedule.replace('-', '_')}_{created:%Y%m%d%H%M}"
        body = self._resource(example("Job/PipelineJob/list.json")["value"][0], "jobs", name, created)
        ended = created + timedelta(minutes=23)
        body["systemData"] = system_data(created, ended)
        body["properties"].update(description=f"Monitoring run of {schedule}", tags={}, properties={},
                                  displayName=f"{schedule}-monitor", status=status,
                                  experimentName=f"azureml-monitoring-{schedule}", services={}, computeId=None,
                                  inputs={}, outputs={}, settings={})
        self.add_job(body)
        self.created_by_schedule[name] = schedule
        return name

    def _seed_blobs(self) -> None:
        """The training data behind churn_features:1, and what blue's data collector wrote in the last
        two hours of the wall clock (the console reads "the recent window" by it): churn.csv's rows
        with monthly charges 30 % up, so the charges drift and the rest does not."""
        self.put_blob("LocalUpload/churn-features/churn.csv", CHURN_CSV.read_bytes())
        rows = churn_rows()
        served = [{**r, "monthly_charges": round(r["monthly_charges"] * 1.3, 2)} for r in rows[:600]]
        self.collected_at = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=5)
        self.collect("churn-ep", "blue", served[:300], self.collected_at - timedelta(hours=1))
        self.collect("churn-ep", "blue", served[300:], self.collected_at)

    def _resource(self, body: dict, kind: str, name: str, created: datetime) -> dict:
        kinds = "/".join(kind.split("/")[::2])  # "onlineEndpoints/churn-ep/deployments" -> "onlineEndpoints/deployments"
        body.update(id=f"{self.ws_id}/{kind}/{name}", name=name,
                    type=f"Microsoft.MachineLearningServices/workspaces/{kinds}", systemData=system_data(created))
        return body

    def _cluster(self, name: str, size: str, *, max_nodes: int, nodes: int, idle: str, created: datetime) -> dict:
        body = self._resource(example("Compute/get/AmlCompute.json"), "computes", name, created)
        body["location"] = self.LOCATION
        props = body["properties"]
        props.update(description=f"{name}: training cluster", createdOn=stamp(created), modifiedOn=stamp(created),
                     computeLocation=self.LOCATION)
        aml = props["properties"]
        aml.pop("subnet")
        aml.update(vmSize=size, osType="Linux", remoteLoginPortPublicAccess="Disabled", allocationState="Steady",
                   allocationStateTransitionTime=stamp(self.now - timedelta(minutes=7)), currentNodeCount=nodes,
                   targetNodeCount=nodes, scaleSettings={"maxNodeCount": max_nodes, "minNodeCount": 0,
                                                         "nodeIdleTimeBeforeScaleDown": idle})
        aml["nodeStateCounts"].update(runningNodeCount=nodes)  # the running job holds them
        return body

    def _instance(self, name: str, size: str, state: str, *, idle: str, created: datetime,
                  last: tuple[str, str, datetime]) -> dict:
        body = self._resource(example("Compute/get/ComputeInstance.json"), "computes", name, created)
        body["location"] = self.LOCATION
        props = body["properties"]
        props.update(description=f"{name}: personal development VM", createdOn=stamp(created),
                     modifiedOn=stamp(last[2]), computeLocation=self.LOCATION)
        ci = props["properties"]
        for placeholder in ("subnet", "customServices"):
            ci.pop(placeholder)
        ci.update(vmSize=size, state=state, idleTimeBeforeShutdown=idle, enableNodePublicIp=True,
                  lastOperation={"operationName": last[0], "operationTime": stamp(last[2]),
                                 "operationStatus": "Succeeded", "operationTrigger": last[1]},
                  applications=[{"displayName": app, "endpointUri": f"https://{name}.{self.LOCATION}.instances"
                                                                    f".azureml.ms{path}"}
                                for app, path in (("Jupyter", "/tree/"), ("JupyterLab", "/lab"))])
        ci["sshSettings"].update(sshPublicAccess="Disabled")
        ci["createdBy"].update(userName=USER)
        return body

    def _job(self, name: str, status: str, display: str, *, created: datetime, ended: datetime | None = None,
             reg_rate: str = "0.01") -> dict:
        body = self._resource(example("Job/CommandJob/get.json"), "jobs", name, created)
        body["systemData"] = system_data(created, ended or created)
        times = {}  # as Azure ML adds them to the job's properties once the run starts and ends
        if status not in ("NotStarted", "Queued", "Preparing", "Provisioning"):
            times["StartTimeUtc"] = _run_time(created + timedelta(seconds=40))
        if ended is not None:
            times["EndTimeUtc"] = _run_time(ended)
        studio = f"https://ml.azure.com/runs/{name}?wsid={self.ws_id}&tid=00000000-0000-0000-0000-00000000beef"
        tracking = (f"azureml://{self.LOCATION}.api.azureml.ms/mlflow/v1.0/subscriptions/{self.SUBSCRIPTION}"
                    f"/resourceGroups/{self.RESOURCE_GROUP}/providers/Microsoft.MachineLearningServices"
                    f"/workspaces/{self.WORKSPACE}")
        p = body["properties"]
        p.pop("distribution")  # single node: no distribution
        p.update(
            description="Train the churn classifier and log it to MLflow.", tags={}, displayName=display,
            status=status, experimentName="churn-classifier", computeId=f"{self.ws_id}/computes/cpu-cluster",
            properties={"_azureml.ComputeTargetType": "amlctrain", "azureml.git.dirty": "False", **times},
            services={"Studio": {"jobServiceType": "Studio", "endpoint": studio},
                      "Tracking": {"jobServiceType": "Tracking", "endpoint": tracking}},
            resources={"instanceCount": 1, "shmSize": "2g"},
            codeId=f"{self.ws_id}/codes/0c6e1b7a-8a52-4f2e-9d3c-{name[-12:].ljust(12, '0')}/versions/1",
            command="python train.py --data ${{inputs.training_data}} --reg ${{inputs.reg_rate}}",
            environmentId=f"{self.ws_id}/environments/churn-train-env/versions/1",
            inputs={"training_data": {"jobInputType": "uri_folder", "mode": "ReadOnlyMount",
                                      "uri": f"azureml:{self.ws_id}/data/churn_features/versions/1"},
                    "reg_rate": {"jobInputType": "literal", "value": reg_rate}},
            outputs={"default": {"jobOutputType": "uri_folder", "mode": "ReadWriteMount",
                                 "uri": f"azureml://datastores/workspaceartifactstore/ExperimentRun/dcid.{name}"}},
            limits={"jobLimitsType": "Command", "timeout": "PT2H"},
            environmentVariables={}, identity=None, parameters={},
        )
        return body

    def _add_model_version(self, name: str, version: str, *, created: datetime, job: str) -> None:
        item = example("Workspace/ModelVersion/list.json")["value"][0]
        body = self._resource(item, f"models/{name}/versions", version, created)
        body["properties"].update(
            description="the demo churn classifier", tags={}, properties={}, isAnonymous=False, isArchived=False,
            modelType="mlflow_model", jobName=job, stage="Development", provisioningState="Succeeded",
            flavors={"python_function": {"data": {"loader_module": "mlflow.sklearn", "python_version": "3.11.9"}},
                     "sklearn": {"data": {"sklearn_version": "1.7.2", "serialization_format": "skops"}}},
            modelUri=f"azureml://subscriptions/{self.SUBSCRIPTION}/resourceGroups/{self.RESOURCE_GROUP}/workspaces/"
                     f"{self.WORKSPACE}/datastores/workspaceartifactstore/paths/ExperimentRun/dcid.{job}/model")
        self.model_versions.setdefault(name, {})[version] = body
        container = self.models.get(name) or self._resource(
            example("Workspace/ModelContainer/list.json")["value"][0], "models", name, created)
        container["properties"].update(description="the demo churn classifier", tags={}, properties={},
                                       isArchived=False, latestVersion=version, nextVersion=str(int(version) + 1),
                                       provisioningState="Succeeded")
        container["systemData"]["lastModifiedAt"] = stamp(created)
        self.models[name] = container

    def _add_data(self, name: str, version: str, kind: str, uri: str, *, created: datetime,
                  description: str = "") -> dict:
        body = self._resource(example("Workspace/DataVersionBase/list.json")["value"][0], f"data/{name}/versions",
                              version, created)
        body["properties"].update(dataType=kind, dataUri=uri, description=description, tags={}, properties={},
                                  isAnonymous=False, isArchived=False, provisioningState="Succeeded")
        self.data.setdefault(name, {})[version] = body
        return body

    def _endpoint(self, name: str, traffic: dict[str, int], *, created: datetime) -> dict:
        body = self._resource(example("Workspace/OnlineEndpoint/get.json"), "onlineEndpoints", name, created)
        body.pop("sku")  # managed endpoints have none
        body.update(kind="Managed", location=self.LOCATION, tags={})
        body["identity"] = {"type": "SystemAssigned", "principalId": "11111111-2222-3333-4444-555555555555",
                            "tenantId": "00000000-0000-0000-0000-00000000beef"}
        body["properties"] = {
            "description": "Real-time churn scoring endpoint.", "properties": {}, "authMode": "Key",
            "provisioningState": "Succeeded", "traffic": traffic, "mirrorTraffic": {},
            "publicNetworkAccess": "Enabled",
            "scoringUri": f"https://{name}.{self.LOCATION}.inference.ml.azure.com/score",
            "swaggerUri": f"https://{name}.{self.LOCATION}.inference.ml.azure.com/swagger.json",
        }
        return body

    def _deployment(self, endpoint: str, name: str, model: str, version: str, *, created: datetime,
                    instances: int = 2, size: str = "Standard_DS2_v2") -> dict:
        body = example("OnlineDeployment/ManagedOnlineDeployment/get.json")
        self._resource(body, f"onlineEndpoints/{endpoint}/deployments", name, created)
        body.pop("identity")
        body.update(kind="Managed", location=self.LOCATION, tags={},
                    sku={"name": "Default", "tier": "Standard", "capacity": instances})
        probe = {"failureThreshold": 30, "successThreshold": 1, "timeout": "PT2S", "period": "PT10S",
                 "initialDelay": "PT10S"}
        p = body["properties"]
        for placeholder in ("codeConfiguration", "environmentId", "modelMountPath"):
            p.pop(placeholder)  # an MLflow model deploys without code or environment
        p.update(description=f"{name} deployment of {model}:{version}", environmentVariables={}, properties={},
                 instanceType=size, model=f"{self.ws_id}/models/{model}/versions/{version}",
                 livenessProbe=dict(probe), readinessProbe=dict(probe), provisioningState="Succeeded",
                 requestSettings={"maxConcurrentRequestsPerInstance": 2, "maxQueueWait": "PT0.5S",
                                  "requestTimeout": "PT5S"},
                 egressPublicNetworkAccess="Enabled",
                 dataCollector={"rollingRate": "Hour", "collections": {
                     c: {"dataCollectionMode": "Enabled", "samplingRate": 1.0,
                         "dataId": self._collected(endpoint, name, c)} for c in ("model_inputs", "model_outputs")}})
        self.logs[(endpoint, name)] = _inference_log(endpoint, name, created)
        return body

    def _collected(self, endpoint: str, deployment: str, collection: str) -> str:
        """The data asset registered for a deployment's collected data (its ARM id), as azure-ai-ml
        registers it when it creates the deployment."""
        name = f"{endpoint}-{deployment}-{collection}"
        if name not in self.data:
            self._add_data(name, "1", "uri_folder", f"azureml://datastores/workspaceblobstore/paths/"
                           f"modelDataCollector/{endpoint}/{deployment}/{collection}", created=self.now,
                           description=f"Collected {collection} of {endpoint}/{deployment}")
        return f"{self.ws_id}/data/{name}/versions/1"

    def _monitor_schedule(self, name: str, endpoint: str, deployment: str, *, created: datetime) -> dict:
        """A model-monitoring schedule as azure-ai-ml creates it. No REST example has one: the action
        follows azure-ai-ml's own REST models (CreateMonitorAction, MonitorDefinition,
        DataDriftMonitoringSignal) and what schedules.begin_create_or_update sends for
        specs/monitoring/churn-drift.yml: the target and the data resolved to ARM ids, the production
        data defaulted to the deployment's collected model_inputs."""
        body = self._resource(example("Schedule/list.json")["value"][0], "schedules", name, created)
        body["properties"].update(
            description="Daily data drift check of the churn-ep blue deployment against its training data.",
            tags={}, properties={}, displayName="Churn classifier data drift", isEnabled=True,
            provisioningState="Succeeded",
            trigger={"triggerType": "Recurrence", "frequency": "Day", "interval": 1, "timeZone": "UTC",
                     "startTime": None, "schedule": {"hours": [3], "minutes": [15]}},
            action={"actionType": "CreateMonitor", "monitorDefinition": {
                "computeConfiguration": {"computeType": "ServerlessSpark", "instanceType": "standard_e4s_v3",
                                         "runtimeVersion": "3.4",
                                         "computeIdentity": {"computeIdentityType": "AmlToken"}},
                "monitoringTarget": {"taskType": "classification", "deploymentId":
                                     f"{self.ws_id}/onlineEndpoints/{endpoint}/deployments/{deployment}"},
                "signals": {"churn-data-drift": {
                    "signalType": "DataDrift", "mode": "Disabled",
                    "productionData": {"inputDataType": "Trailing", "jobInputType": "uri_folder",
                                       "dataContext": "model_inputs", "windowSize": "P7D", "windowOffset": "P0D",
                                       "uri": f"azureml:{self._collected(endpoint, deployment, 'model_inputs')}"},
                    "referenceData": {"inputDataType": "Fixed", "jobInputType": "uri_folder", "dataContext": "training",
                                      "uri": f"azureml:{self.ws_id}/data/churn_features/versions/1",
                                      "columns": {"target_column": "churn"}},
                    "features": {"filterType": "AllFeatures"},
                    "featureDataTypeOverride": {"tenure_months": "numerical"},
                    "metricThresholds": [
                        {"dataType": "Numerical", "metric": "normalizedWassersteinDistance",
                         "threshold": {"value": 0.1}},
                        {"dataType": "Categorical", "metric": "jensenShannonDistance", "threshold": {"value": 0.1}}],
                }},
                "alertNotificationSettings": None,
            }},
        )
        return body

    def _batch_schedule(self, name: str, *, created: datetime) -> dict:
        """A schedule that invokes a batch endpoint (ARM's EndpointScheduleAction, actionType
        InvokeBatchEndpoint): azure-ai-ml 1.35.2 cannot translate it, and says so with print()."""
        body = self._resource(example("Schedule/list.json")["value"][0], "schedules", name, created)
        body["properties"].update(
            description="Score the day's customers", tags={}, properties={}, displayName=name, isEnabled=True,
            provisioningState="Succeeded",
            trigger={"triggerType": "Cron", "expression": "0 2 * * *", "timeZone": "UTC", "startTime": None},
            action={"actionType": "InvokeBatchEndpoint", "endpointInvocationDefinition": {
                "endpointName": "churn-batch", "input_data": {"input": {
                    "type": "uri_folder", "path": "azureml://datastores/workspaceblobstore/paths/customers/"}}}},
        )
        return body

    def _seed_usage_limits(self) -> dict[str, int]:
        """Dedicated vCPU limit per family, from the Usage example's subscription-wide vmFamily rows."""
        rows = example("Usage/list.json")["value"]
        limits = {u["name"]["value"].removesuffix(" Cluster Dedicated vCPUs"): u["limit"] for u in rows
                  if u["type"].endswith("/vmFamily/usages") and "Dedicated" in u["name"]["value"]}
        return limits | EXTRA_FAMILIES

    # --- operations -------------------------------------------------------------------------------

    def _start(self, on_success: Callable[[], None], on_failure: Callable[[], None] = lambda: None, *,
               deleting: bool = False) -> _Operation:
        op = _Operation(next(self._op_ids), self.operation_polls, on_success, on_failure, self._next_failure,
                        started=self.now, forget=deleting and self.deletes_forget_their_operation)
        self._next_failure = None
        self._operations[op.id] = op
        return op

    def _advance(self, op: _Operation) -> None:
        if op.status != "InProgress":
            return
        if op.polls_left > 0:
            op.polls_left -= 1
            return
        op.status = "Failed" if op.error else "Succeeded"
        (op.on_failure if op.error else op.on_success)()

    def _op_url(self, op: _Operation, kind: str = "mfeOperationsStatus") -> str:
        return (f"https://{HOST}/subscriptions/{self.SUBSCRIPTION}/providers/Microsoft.MachineLearningServices"
                f"/locations/{self.LOCATION}/{kind}/{op.id}?api-version=2023-08-01-preview")

    def _accepted(self, op: _Operation, header: str, *, compute: bool = False, status: int = 202,
                  body: Any = None) -> Reply:
        """The answer that starts a long-running operation: its URL in `header`."""
        if header.lower() == "location":
            url = self._op_url(op, "mfeOperationResults")
        else:
            url = self._op_url(op, "computeOperationsStatus" if compute else "mfeOperationsStatus")
        return status, body, {header: url}

    def operation_status(self, call: Call, op: str) -> Reply:
        found = self._operations.get(op)
        if not found:
            return 404, arm_error("ResourceNotFound", f"No operation {op}."), {}
        self._advance(found)
        if found.forget and found.status != "InProgress":
            return self._forgotten(op)
        answer = {"id": call.path, "name": op, "status": found.status, "startTime": stamp(found.started)}
        if found.status != "InProgress":
            answer["endTime"] = stamp(self.now)
        if found.error:
            answer["error"] = {"code": found.error["code"], "message": found.error["message"]}
        return 200, answer, {}

    def _forgotten(self, op: str) -> Reply:
        """ARM's answer for an operation it no longer keeps (seen for deletes once the resource is gone)."""
        self._operations.pop(op, None)
        return 404, arm_error("ResourceNotFound", f"No operation {op}."), {}

    def operation_result(self, call: Call, op: str) -> Reply:
        found = self._operations.get(op)
        if not found:
            return 404, arm_error("ResourceNotFound", f"No operation {op}."), {}
        self._advance(found)
        if found.forget and found.status != "InProgress":
            return self._forgotten(op)
        if found.status == "InProgress":
            return 202, None, {"Location": f"https://{HOST}{call.path}?" + urlencode(call.query)}
        if found.error:
            return found.error["status"], arm_error(found.error["code"], found.error["message"]), {}
        return 200, None, {}

    # --- routes: workspace, compute, quota --------------------------------------------------------

    def get_workspace(self, call: Call) -> Reply:
        body = example("Workspace/get.json")
        rg_id = f"/subscriptions/{self.SUBSCRIPTION}/resourceGroups/{self.RESOURCE_GROUP}/providers"
        body.update(id=self.ws_id, name=self.WORKSPACE, location=self.LOCATION, tags={},
                    systemData=system_data(self.now - timedelta(days=60)))
        body["identity"] = {"type": "SystemAssigned", "principalId": "22222222-3333-4444-5555-666666666666",
                            "tenantId": "00000000-0000-0000-0000-00000000beef"}
        p = body["properties"]
        for placeholder in ("encryption", "managedNetwork", "privateEndpointConnections", "sharedPrivateLinkResources",
                            "imageBuildCompute"):
            p.pop(placeholder)
        p.update(description="amlops demo workspace", friendlyName=self.WORKSPACE, publicNetworkAccess="Enabled",
                 discoveryUrl=f"https://{self.LOCATION}.api.azureml.ms/discovery", provisioningState="Succeeded",
                 workspaceId="0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9", privateLinkCount=0,
                 mlFlowTrackingUri=f"azureml://{self.LOCATION}.api.azureml.ms/mlflow/v1.0{self.ws_id}",
                 applicationInsights=f"{rg_id}/microsoft.insights/components/ws-demo-insights",
                 containerRegistry=f"{rg_id}/Microsoft.ContainerRegistry/registries/wsdemoacr",
                 keyVault=f"{rg_id}/Microsoft.KeyVault/vaults/ws-demo-kv",
                 storageAccount=f"{rg_id}/Microsoft.Storage/storageAccounts/wsdemostorage",
                 serviceProvisionedResourceGroup=f"{self.WORKSPACE}_0f1e2d3c4b5a4978")
        return 200, body, {}

    def list_computes(self, call: Call) -> Reply:
        return 200, {"value": list(self.computes.values())}, {}

    def get_compute(self, call: Call, name: str) -> Reply:
        if name not in self.computes:
            return _not_found("compute", name)
        return 200, self.computes[name], {}

    def compute_action(self, call: Call, name: str, action: str) -> Reply:
        if name not in self.computes:
            return _not_found("compute", name)
        props = self.computes[name]["properties"]
        if props["computeType"] != "ComputeInstance":
            return 400, arm_error("BadRequest", f"{action} is supported for compute instances only; "
                                               f"{name} is {props['computeType']}."), {}
        ci = props["properties"]
        starts_from, moving, end, source = COMPUTE_ACTIONS[action]
        before = ci["state"]
        if before not in starts_from:
            return 409, arm_error("Conflict", f"Compute instance {name} is {before}: it cannot {action}."), {}
        last = {"operationName": action.capitalize(), "operationTime": stamp(self.now), "operationStatus": "InProgress",
                "operationTrigger": "User"}
        ci.update(state=moving, lastOperation=last)

        def ended(state: str, status: str) -> Callable[[], None]:
            return lambda: (ci.update(state=state), last.update(operationStatus=status))
        return self._accepted(self._start(ended(end, "Succeeded"), ended(before, "Failed")), async_header(source),
                              compute=True)

    def list_nodes(self, call: Call, name: str) -> Reply:
        if name not in self.computes:
            return _not_found("compute", name)
        props = self.computes[name]["properties"]
        if props["computeType"] != "AmlCompute":
            return 400, arm_error("BadRequest", f"listNodes is supported for clusters only; {name} is "
                                               f"{props['computeType']}."), {}
        running = [j["name"] for j in self.jobs.values() if j["properties"]["status"] == "Running"
                   and j["properties"]["computeId"].endswith(f"/computes/{name}")]
        template = example("Compute/listNodes.json")["nodes"][0]
        nodes = []
        for i in range(props["properties"]["currentNodeCount"]):
            node = dict(template, nodeId=f"tvm-{name}-{i + 1}", privateIpAddress=f"10.0.0.{4 + i}",
                        publicIpAddress=None, port=50000 + i, nodeState="running" if i < len(running) else "idle")
            node.pop("runId")
            if i < len(running):
                node["runId"] = running[i]
            nodes.append(node)
        return 200, {"nodes": nodes}, {}

    def _vcpus(self, size: str) -> tuple[str, int]:
        found = next((s for s in self.vm_sizes if s["name"].lower() == size.lower()), None)
        if not found:
            return "", 0
        family = re.sub(r"^standard(.*)Family$", r"Standard \1 Family", found["family"])
        return family, found["vCPUs"]

    def _quota_holders(self) -> list[tuple[str | None, str, str, int]]:
        """What holds quota in ws-demo: (its compute, or None for a deployment; the family as the
        Usage example names it; the tier, Dedicated or LowPriority; vCPUs). Cluster nodes in their
        cluster's vmPriority, instances that are not stopped, and online deployments' instances
        with Azure's 20 % upgrade reserve."""
        held: list[tuple[str | None, str, str, int]] = []
        for name, body in self.computes.items():
            props = body["properties"]["properties"]
            family, vcpus = self._vcpus(props["vmSize"])
            if family:
                nodes = props.get("currentNodeCount", 0 if props.get("state") in ("Stopped", "Stopping") else 1)
                held.append((name, family, props.get("vmPriority") or "Dedicated", nodes * vcpus))
        for deployments in self.deployments.values():
            for body in deployments.values():
                family, vcpus = self._vcpus(body["properties"]["instanceType"])
                if family:
                    held.append((None, family, "Dedicated", math.ceil(body["sku"]["capacity"] * 12 / 10) * vcpus))
        return held

    def vcpus_in_use(self, tier: str = "Dedicated") -> dict[str, int]:
        """ws-demo's vCPUs per family (as the Usage example names families) in one tier."""
        used: dict[str, int] = {}
        for _who, family, held_tier, vcpus in self._quota_holders():
            if held_tier == tier:
                used[family] = used.get(family, 0) + vcpus
        return used

    def list_usages(self, call: Call) -> Reply:
        """Usages_List as Azure answers it: Microsoft's example whole, its 35 rows and their figures
        (the count of clusters, the regional totals, each family's dedicated row and its
        low-priority row with limit -1, the rows of its two workspaces and their clusters), with
        ws-demo a third workspace of that subscription. What ws-demo holds adds to the
        subscription's row of its family and tier, the regional totals stay the sums of those rows
        (as the example's are: 14 = 2 + 12), its clusters add to the count, and its own workspace-
        and compute-scoped rows follow its families' rows, as the example lists its workspaces'.
        Families the example lacks (EXTRA_FAMILIES) get both rows, as the example's have."""
        rows = example("Usage/list.json")["value"]
        sub = f"/subscriptions/{self.SUBSCRIPTION}"
        held = self._quota_holders()

        def row(kind: str, rid: str, name: str, current: int, limit: int) -> dict:
            return {"id": rid, "type": f"Microsoft.MachineLearningServices/{kind}/usages", "currentValue": current,
                    "limit": limit, "name": {"localizedValue": name, "value": name}, "unit": "Count"}

        def of(kind: str) -> str:
            return f"Microsoft.MachineLearningServices/{kind}/usages"

        listed = {u["name"]["value"] for u in rows if u["type"] == of("vmFamily")}
        extra: dict[str, list[dict]] = {"Dedicated": [], "LowPriority": []}
        for family, limit in self.usage_limits.items():
            for tier, tier_limit in (("Dedicated", limit), ("LowPriority", -1)):
                name = f"{family} Cluster {tier} vCPUs"
                if name not in listed:
                    extra[tier].append(row("vmFamily", f"{sub}/usages/{name.replace(' ', '_')}", name, 0, tier_limit))
        low_total = next(i for i, u in enumerate(rows) if u["type"] == of("lowPriorityCores"))
        rows = rows[:low_total] + extra["Dedicated"] + rows[low_total:] + extra["LowPriority"]

        served, totals = [], {"Dedicated": 0, "LowPriority": 0}
        for usage in rows:
            served.append(usage)
            named = USAGE_NAME.match(usage["name"]["value"])
            if usage["type"] != of("vmFamily") or not named:
                continue
            name, family, tier = usage["name"]["value"], named["family"], named["tier"]
            if tier == "Dedicated" and family in self.usage_limits:
                usage["limit"] = self.usage_limits[family]
            mine = [(who, vcpus) for who, f, t, vcpus in held if (f, t) == (family, tier)]
            usage["currentValue"] += sum(vcpus for _who, vcpus in mine)
            totals[tier] += usage["currentValue"]
            if mine:
                path = f"usages/{name.replace(' ', '_')}"
                served.append(row("workspaces", f"{self.ws_id}/{path}", name, sum(v for _w, v in mine), usage["limit"]))
                served += [row("workspaces/computes", f"{self.ws_id}/computes/{who}/{path}", name, vcpus,
                               usage["limit"]) for who, vcpus in mine if who]
        clusters = sum(b["properties"]["computeType"] == "AmlCompute" for b in self.computes.values())
        for usage in served:
            if usage["type"] == of("dedicatedCores"):
                usage["currentValue"] = totals["Dedicated"]
            elif usage["type"] == of("lowPriorityCores"):
                usage["currentValue"] = totals["LowPriority"]
            elif usage["type"] == of("totalCores"):
                usage["currentValue"] += clusters
        return 200, {"value": served}, {}

    def list_vm_sizes(self, call: Call) -> Reply:
        return 200, {"value": self.vm_sizes}, {}

    # --- routes: jobs -----------------------------------------------------------------------------

    def list_jobs(self, call: Call) -> Reply:
        """Newest first, a page at a time; `scheduleId` keeps the jobs a schedule created (azure-ai-ml's
        jobs.list(scheduled_job_name=...))."""
        jobs = sorted(self.jobs.values(), key=lambda j: j["systemData"]["createdAt"], reverse=True)
        if call.query.get("scheduleId"):
            jobs = [j for j in jobs if self.created_by_schedule.get(j["name"]) == call.query["scheduleId"]]
        start = int(call.query.get("$skipToken") or 0)
        page = {"value": jobs[start:start + self.jobs_page_size]}
        if start + self.jobs_page_size < len(jobs):
            query = {k: v for k, v in call.query.items() if k != "$skipToken"}
            page["nextLink"] = f"https://{HOST}{call.path}?" + urlencode(
                {**query, "$skipToken": str(start + self.jobs_page_size)})
        return 200, page, {}

    def get_job(self, call: Call, name: str) -> Reply:
        if name not in self.jobs:
            return _not_found("job", name)
        return 200, self.jobs[name], {}

    def put_job(self, call: Call, name: str) -> Reply:
        """Submit a job: what it names must exist (compute, code, data inputs), as Azure checks at
        submission; it answers NotStarted (advance it with `set_job_status`)."""
        if name in self.jobs:
            return 409, arm_error("UserError", f"A job named {name} already exists."), {}
        sent = copy.deepcopy(call.body or {})
        props = sent.get("properties") or {}
        compute = str(props.get("computeId") or "").rsplit("/", 1)[-1]
        if compute and compute not in self.computes:
            return 400, arm_error("UserError", f"Compute {compute} is not found in workspace {self.WORKSPACE}."), {}
        code = re.search(r"/codes/([^/]+)/versions/([^/]+)$", str(props.get("codeId") or ""))
        if props.get("codeId") and not (code and code[2] in self.codes.get(code[1], {})):
            return 400, arm_error("UserError", f"Code {props.get('codeId')} is not found."), {}
        for key, value in (props.get("inputs") or {}).items():
            data = re.search(r"/data/([^/]+)/versions/([^/]+)$", str(value.get("uri") or ""))
            if data and data[2] not in self.data.get(data[1], {}):
                return 400, arm_error("UserError", f"Input {key}: data {data[1]}:{data[2]} is not found."), {}
        if props.get("jobType") == "Pipeline":
            return self._put_pipeline(name, sent)
        body = self._job(name, "NotStarted", props.get("displayName") or name, created=self.now)
        for key in ("command", "codeId", "environmentId", "inputs", "experimentName", "description", "tags",
                    "computeId", "environmentVariables", "displayName"):
            if props.get(key) is not None:
                body["properties"][key] = props[key]
        self.jobs[name] = body
        return 201, body, {}

    def _put_pipeline(self, name: str, sent: dict) -> Reply:
        """A pipeline job: each step names an anonymous component registered first (PUT components)."""
        props = sent["properties"]
        for step, node in (props.get("jobs") or {}).items():
            component = re.search(r"/components/([^/]+)/versions/([^/]+)$", str(node.get("componentId") or ""))
            if node.get("componentId") and not (component and component[2] in self.components.get(component[1], {})):
                return 400, arm_error("UserError", f"Step {step}: component {node.get('componentId')} is not found."), {}
        body = self._resource(example("Job/PipelineJob/list.json")["value"][0], "jobs", name, self.now)
        body["properties"].update({k: v for k, v in props.items() if v is not None}, status="NotStarted",
                                  services={}, properties={})
        self.jobs[name] = body
        return 201, body, {}

    def put_component(self, call: Call, name: str, version: str) -> Reply:
        """Register a component version; its code must be a registered code asset."""
        spec = ((call.body or {}).get("properties") or {}).get("componentSpec") or {}
        code = re.search(r"/codes/([^/]+)/versions/([^/]+)$", str(spec.get("code") or ""))
        if spec.get("code") and not (code and code[2] in self.codes.get(code[1], {})):
            return 400, arm_error("UserError", f"Component {name}: code {spec.get('code')} is not found."), {}
        existing = self.components.get(name, {}).get(version)
        body = self._resource(copy.deepcopy(call.body or {}), f"components/{name}/versions", version, self.now)
        body["properties"]["provisioningState"] = "Succeeded"
        self.components.setdefault(name, {})[version] = body
        return (200 if existing else 201), body, {}

    def set_job_status(self, name: str, status: str, *, log: str | None = None) -> None:
        """Move a job on (Queued, Running, Completed, Failed), writing its std_log.txt as Azure's runtime
        does: `ExperimentRun/dcid.{job}/user_logs/std_log.txt` in the workspace's artifact store."""
        self.jobs[name]["properties"]["status"] = status
        self.jobs[name]["systemData"]["lastModifiedAt"] = stamp(self.now)
        props = self.jobs[name]["properties"].setdefault("properties", {})
        if status not in ("NotStarted", "Queued", "Preparing", "Provisioning"):
            props.setdefault("StartTimeUtc", _run_time(self.now))
        if status in ("Completed", "Failed", "Canceled", "NotResponding", "Paused"):
            props.setdefault("EndTimeUtc", _run_time(self.now))
        if log is not None:
            path = f"ExperimentRun/dcid.{name}/user_logs/std_log.txt"
            self.artifacts[path] = self.artifacts.get(path, b"") + log.encode()

    def cancel_job(self, call: Call, name: str) -> Reply:
        if name not in self.jobs:
            return _not_found("job", name)
        p = self.jobs[name]["properties"]
        before = p["status"]
        if before in ("Completed", "Failed", "Canceled", "NotResponding", "Paused"):
            return 409, arm_error("Conflict", f"Job {name} is {before}: it cannot be canceled."), {}
        p["status"] = "CancelRequested"

        def canceled() -> None:
            p["status"] = "Canceled"
            self.jobs[name]["systemData"]["lastModifiedAt"] = stamp(self.now)
        return self._accepted(self._start(canceled, lambda: p.update(status=before)), async_header("Job/cancel.json"))

    # --- routes: online endpoints and deployments -------------------------------------------------

    def _read_endpoint(self, name: str) -> dict:
        """The endpoint as a GET reports it: a pending traffic update applies after `settle_after` reads."""
        pending = self.pending_traffic.get(name)
        if pending:
            if pending["reads_left"] > 0:
                pending["reads_left"] -= 1
            else:
                self.endpoints[name]["properties"].update(traffic=pending["traffic"],
                                                          mirrorTraffic=pending["mirrorTraffic"])
                del self.pending_traffic[name]
        return self.endpoints[name]

    def list_endpoints(self, call: Call) -> Reply:
        return 200, {"value": [self._read_endpoint(name) for name in list(self.endpoints)]}, {}

    def get_endpoint(self, call: Call, endpoint: str) -> Reply:
        if endpoint not in self.endpoints:
            return _not_found("online endpoint", endpoint)
        return 200, self._read_endpoint(endpoint), {}

    def put_endpoint(self, call: Call, endpoint: str) -> Reply:
        sent = call.body or {}
        props = dict(sent.get("properties") or {})
        traffic = {k: int(v) for k, v in (props.pop("traffic", None) or {}).items()}
        mirror = {k: int(v) for k, v in (props.pop("mirrorTraffic", None) or {}).items()}
        problem = self._traffic_problem(endpoint, traffic, mirror)
        if problem:
            return 400, arm_error("BadRequest", f"Endpoint {endpoint}: {problem}."), {}
        created = endpoint not in self.endpoints
        if created:
            body = self._endpoint(endpoint, traffic, created=self.now)
            self.keys[endpoint] = _keys(endpoint)
            self.deployments[endpoint] = {}
        else:
            body = self.endpoints[endpoint]
            body["systemData"]["lastModifiedAt"] = stamp(self.now)
        if sent.get("tags") is not None:
            body["tags"] = sent["tags"]
        old = body["properties"]
        body["properties"] = {**old, **{k: v for k, v in props.items() if v is not None},
                              "provisioningState": "Creating" if created else "Updating",
                              "traffic": old["traffic"], "mirrorTraffic": old.get("mirrorTraffic") or {}}
        self.endpoints[endpoint] = body
        if not created:
            self.pending_traffic[endpoint] = {"traffic": traffic, "mirrorTraffic": mirror,
                                              "reads_left": self.settle_after}
        answer = copy.deepcopy(body)  # the accepted request, as the example echoes it
        answer["properties"].update(traffic=traffic, mirrorTraffic=mirror)
        op = self._start(lambda: body["properties"].update(provisioningState="Succeeded"),
                         lambda: body["properties"].update(provisioningState="Failed"))
        return self._accepted(op, "Azure-AsyncOperation", status=201 if created else 200, body=answer)

    def _traffic_problem(self, endpoint: str, traffic: dict[str, int], mirror: dict[str, int]) -> str | None:
        """What Azure refuses in a traffic update (as console/rollout.py checks it locally)."""
        unknown = sorted((set(traffic) | set(mirror)) - set(self.deployments.get(endpoint, {})))
        if unknown:
            return f"traffic names deployments that do not exist: {unknown}"
        if sum(traffic.values()) not in (0, 100):
            return f"traffic must sum to 0 or 100, not {sum(traffic.values())}"
        if len(mirror) > 1 or any(share > 50 or traffic.get(name, 0) > 0 for name, share in mirror.items()):
            return "mirror traffic goes to one deployment, at most 50 %, and that one has no live traffic"
        return None

    def list_keys(self, call: Call, endpoint: str) -> Reply:
        if endpoint not in self.endpoints:
            return _not_found("online endpoint", endpoint)
        return 200, self.keys[endpoint], {}

    def regenerate_keys(self, call: Call, endpoint: str) -> Reply:
        """OnlineEndpoints_RegenerateKeys: 202 with both operation headers; the key changes when the
        operation ends. The spec calls keyValue "the new key", but azure-ai-ml 1.35.2 sends the key
        it replaces (`_regenerate_online_keys`) and the key still changes in Azure: a keyValue equal
        to the current key, or none, gets a random one."""
        if endpoint not in self.endpoints:
            return _not_found("online endpoint", endpoint)
        key_type = str((call.body or {}).get("keyType") or "")
        if key_type.lower() not in ("primary", "secondary"):
            return 400, arm_error("BadRequest", f"keyType '{key_type}' is not Primary or Secondary."), {}
        field = f"{key_type.lower()}Key"
        new = (call.body or {}).get("keyValue")
        if not new or new == self.keys[endpoint].get(field):
            new = base64.b64encode(os.urandom(24)).decode()

        def regenerated() -> None:
            self.keys[endpoint] = {**self.keys[endpoint], field: new}
        return self._both_headers(self._start(regenerated))

    def delete_endpoint(self, call: Call, endpoint: str) -> Reply:
        """OnlineEndpoints_Delete as recorded: 202, body null, Azure-AsyncOperation and Location; the
        endpoint reads Deleting, and is gone with its deployments when the operation ends."""
        if endpoint not in self.endpoints:
            return 204, None, {}
        props = self.endpoints[endpoint]["properties"]
        before = props["provisioningState"]
        props["provisioningState"] = "Deleting"

        def deleted() -> None:
            for table in (self.endpoints, self.deployments, self.keys, self.serving):
                table.pop(endpoint, None)
        return self._both_headers(self._start(deleted, lambda: props.update(provisioningState=before), deleting=True))

    def _both_headers(self, op: _Operation) -> Reply:
        """A 202 naming its operation twice, as ARM's online-endpoint operations do."""
        return 202, None, {"Azure-AsyncOperation": self._op_url(op), "Location": self._op_url(op, "mfeOperationResults")}

    def list_deployments(self, call: Call, endpoint: str) -> Reply:
        if endpoint not in self.endpoints:
            return _not_found("online endpoint", endpoint)
        return 200, {"value": list(self.deployments[endpoint].values())}, {}

    def copy_endpoint(self, source: str, name: str) -> None:
        """Another endpoint like `source`: its traffic, deployments, keys and serving figures."""
        body = copy.deepcopy(self.endpoints[source])
        body["name"], body["id"] = name, body["id"].replace(f"/onlineEndpoints/{source}", f"/onlineEndpoints/{name}")
        for uri in ("scoringUri", "swaggerUri"):
            body["properties"][uri] = body["properties"][uri].replace(f"//{source}.", f"//{name}.")
        self.endpoints[name], self.keys[name] = body, _keys(name)
        self.deployments[name] = {}
        for deployment, dbody in self.deployments[source].items():
            clone = copy.deepcopy(dbody)
            clone["id"] = clone["id"].replace(f"/onlineEndpoints/{source}/", f"/onlineEndpoints/{name}/")
            self.deployments[name][deployment] = clone
        self.serving[name] = copy.deepcopy(self.serving.get(source, {}))

    def get_deployment(self, call: Call, endpoint: str, deployment: str) -> Reply:
        if deployment not in self.deployments.get(endpoint, {}):
            return _not_found("online deployment", f"{endpoint}/{deployment}")
        return 200, self.deployments[endpoint][deployment], {}

    def put_deployment(self, call: Call, endpoint: str, deployment: str) -> Reply:
        if endpoint not in self.endpoints:
            return _not_found("online endpoint", endpoint)
        sent = copy.deepcopy(call.body or {})
        existing = self.deployments[endpoint].get(deployment)
        body = self._resource(sent, f"onlineEndpoints/{endpoint}/deployments", deployment, self.now)
        if existing:
            body["systemData"] = {**existing["systemData"], "lastModifiedAt": stamp(self.now)}
        body.setdefault("location", self.LOCATION)
        body.setdefault("sku", {"name": "Default", "tier": "Standard", "capacity": 1})
        probe = {"failureThreshold": 30, "successThreshold": 1, "timeout": "PT2S", "period": "PT10S",
                 "initialDelay": "PT10S"}
        props = body.setdefault("properties", {})
        for key, default in (("endpointComputeType", "Managed"), ("scaleSettings", {"scaleType": "Default"}),
                             ("requestSettings", {"maxConcurrentRequestsPerInstance": 1, "requestTimeout": "PT5S",
                                                  "maxQueueWait": "PT0.5S"}),
                             ("livenessProbe", probe), ("readinessProbe", dict(probe)), ("appInsightsEnabled", False),
                             ("egressPublicNetworkAccess", "Enabled"), ("properties", {}),
                             ("environmentVariables", {})):
            if props.get(key) is None:  # what Azure fills in
                props[key] = default
        for collection in ((props.get("dataCollector") or {}).get("collections") or {}).values():
            # azure-ai-ml sends "enabled"; Azure answers its enum's spelling, the one the SDK reads back
            collection["dataCollectionMode"] = str(collection.get("dataCollectionMode") or "Disabled").capitalize()
        props["provisioningState"] = "Updating" if existing else "Creating"
        self.deployments[endpoint][deployment] = body
        self.logs.setdefault((endpoint, deployment), _inference_log(endpoint, deployment, self.now))
        self.set_serving(endpoint, deployment)

        def failed() -> None:
            if existing:
                self.deployments[endpoint][deployment] = existing
            else:
                body["properties"]["provisioningState"] = "Failed"
        op = self._start(lambda: body["properties"].update(provisioningState="Succeeded"), failed)
        return self._accepted(op, "Azure-AsyncOperation", status=200 if existing else 201, body=body)

    def delete_deployment(self, call: Call, endpoint: str, deployment: str) -> Reply:
        if deployment not in self.deployments.get(endpoint, {}):
            return _not_found("online deployment", f"{endpoint}/{deployment}")
        if self.traffic(endpoint).get(deployment, 0) > 0 or self.mirror_traffic(endpoint).get(deployment, 0) > 0:
            return 400, arm_error("BadRequest", f"Deployment {deployment} has traffic on {endpoint}: set its "
                                               "traffic to 0 before deleting it."), {}
        props = self.deployments[endpoint][deployment]["properties"]
        before = props["provisioningState"]
        props["provisioningState"] = "Deleting"

        def deleted() -> None:
            self.deployments[endpoint].pop(deployment, None)
            self.serving.get(endpoint, {}).pop(deployment, None)
        return self._accepted(self._start(deleted, lambda: props.update(provisioningState=before), deleting=True),
                              async_header("Workspace/OnlineDeployment/delete.json"))

    def get_logs(self, call: Call, endpoint: str, deployment: str) -> Reply:
        if deployment not in self.deployments.get(endpoint, {}):
            return _not_found("online deployment", f"{endpoint}/{deployment}")
        asked = call.body or {}
        lines = self.logs[(endpoint, deployment)].splitlines(keepends=True)
        if asked.get("containerType") == "StorageInitializer":
            lines = [f"{stamp(self.now)} Downloading the model to /var/azureml-app/azureml-models\n",
                     f"{stamp(self.now)} Model download complete\n"]
        tail = asked.get("tail")
        body = example("OnlineDeployment/getLogs.json")
        body["content"] = "".join(lines[-tail:] if tail else lines)
        return 200, body, {}

    # --- routes: models, schedules ----------------------------------------------------------------

    def list_models(self, call: Call) -> Reply:
        return 200, {"value": list(self.models.values())}, {}

    def get_model(self, call: Call, name: str) -> Reply:
        if name not in self.models:
            return _not_found("model", name)
        return 200, self.models[name], {}

    def list_model_versions(self, call: Call, name: str) -> Reply:
        versions = sorted(self.model_versions.get(name, {}).values(), key=lambda v: int(v["name"]), reverse=True)
        if call.query.get("version"):
            versions = [v for v in versions if v["name"] == call.query["version"]]
        if call.query.get("$top"):
            versions = versions[: int(call.query["$top"])]
        return 200, {"value": versions}, {}

    def get_model_version(self, call: Call, name: str, version: str) -> Reply:
        if version not in self.model_versions.get(name, {}):
            return _not_found("model version", f"{name}:{version}")
        return 200, self.model_versions[name][version], {}

    def list_data(self, call: Call) -> Reply:
        """The data containers: each asset's name, its latest version and its type."""
        containers = []
        for name, versions in sorted(self.data.items()):
            latest = versions[max(versions, key=lambda v: int(v) if v.isdigit() else 0)]
            containers.append({"id": f"{self.ws_id}/data/{name}", "name": name,
                               "type": "Microsoft.MachineLearningServices/workspaces/data",
                               "systemData": latest["systemData"],
                               "properties": {"dataType": latest["properties"]["dataType"], "description": "",
                                              "latestVersion": latest["name"], "isArchived": False,
                                              "properties": {}, "tags": {}}})
        return 200, {"value": containers}, {}

    def list_environments(self, call: Call) -> Reply:
        """The environment containers (none are seeded: the demo's training jobs name
        churn-train-env:1, which Azure resolves at submission)."""
        containers = []
        for name, versions in sorted(self.environments.items()):
            latest = max(versions, key=lambda v: int(v) if v.isdigit() else 0)
            body = {"id": f"{self.ws_id}/environments/{name}", "name": name,
                    "type": "Microsoft.MachineLearningServices/workspaces/environments",
                    "systemData": versions[latest]["systemData"],
                    "properties": {"description": "", "tags": {}, "properties": {}, "isArchived": False,
                                   "latestVersion": latest, "nextVersion": str(len(versions) + 1)}}
            containers.append(body)
        return 200, {"value": containers}, {}

    def put_environment(self, call: Call, name: str, version: str) -> Reply:
        existing = self.environments.get(name, {}).get(version)
        if existing and existing["properties"].get("image") != ((call.body or {}).get("properties") or {}).get("image"):
            return 409, arm_error("UserError", f"Environment {name}:{version} exists with another definition: "
                                               "environment versions are immutable."), {}
        body = self._resource(copy.deepcopy(call.body or {}), f"environments/{name}/versions", version, self.now)
        body["properties"].update(provisioningState="Succeeded", environmentType="UserCreated")
        self.environments.setdefault(name, {})[version] = body
        return (200 if existing else 201), body, {}

    def get_environment(self, call: Call, name: str, version: str) -> Reply:
        if version not in self.environments.get(name, {}):
            return _not_found("environment", f"{name}:{version}")
        return 200, self.environments[name][version], {}

    def put_compute(self, call: Call, name: str) -> Reply:
        """Create a compute (a cluster answers Steady at 0 nodes when it is done, an instance Running)
        from what azure-ai-ml sends; a name already taken by another kind of compute is a conflict."""
        sent = (call.body or {}).get("properties") or {}
        kind, props = sent.get("computeType"), sent.get("properties") or {}
        existing = self.computes.get(name)
        if existing and existing["properties"]["computeType"] != kind:
            return 409, arm_error("Conflict", f"Compute {name} exists as {existing['properties']['computeType']}."), {}
        size = props.get("vmSize") or "Standard_DS3_v2"
        if size not in {s["name"] for s in self.vm_sizes}:
            return 400, arm_error("BadRequest", f"The VM size {size} is not available in {self.LOCATION}."), {}
        if kind == "AmlCompute":
            scale = props.get("scaleSettings") or {}
            body = self._cluster(name, size, max_nodes=int(scale.get("maxNodeCount") or 1), nodes=0,
                                 idle=scale.get("nodeIdleTimeBeforeScaleDown") or "PT2M", created=self.now)
            body["properties"]["properties"]["allocationState"] = "Resizing"
            done = {"allocationState": "Steady"}
        elif kind == "ComputeInstance":
            body = self._instance(name, size, "Creating", idle=props.get("idleTimeBeforeShutdown") or "PT60M",
                                  created=self.now, last=("Create", "User", self.now))
            done = {"state": "Running"}
        else:
            return 400, arm_error("BadRequest", f"FakeArm creates AmlCompute and ComputeInstance, not {kind}."), {}
        body["properties"]["provisioningState"] = "Creating"
        self.computes[name] = body

        def created() -> None:
            body["properties"]["provisioningState"] = "Succeeded"
            body["properties"]["properties"].update(done)

        def failed() -> None:
            body["properties"]["provisioningState"] = "Failed"
        op = self._start(created, failed)
        return self._accepted(op, "Azure-AsyncOperation", status=200 if existing else 201, body=body)

    def put_schedule(self, call: Call, name: str) -> Reply:
        """Create or update a schedule: what was sent, Succeeded at once (as the example answers)."""
        existing = self.schedules.get(name)
        body = self._resource(example("Schedule/createOrUpdate.json", "201"), "schedules", name, self.now)
        body["properties"] = {**copy.deepcopy((call.body or {}).get("properties") or {}),
                              "provisioningState": "Succeeded"}
        if existing:
            body["systemData"] = {**existing["systemData"], "lastModifiedAt": stamp(self.now)}
        self.schedules[name] = body
        return (200 if existing else 201), body, {}

    def put_model_version(self, call: Call, name: str, version: str) -> Reply:
        """Register a model version (azure-ai-ml reads the container's nextVersion first). A job's
        output must name a job of this workspace that Completed."""
        sent = (call.body or {}).get("properties") or {}
        uri = str(sent.get("modelUri") or "")
        job = re.match(r"azureml://jobs/([^/]+)/", uri)
        if job and (job[1] not in self.jobs or self.jobs[job[1]]["properties"]["status"] != "Completed"):
            return 400, arm_error("UserError", f"The job {job[1]} has no completed output at {uri}."), {}
        existing = self.model_versions.get(name, {}).get(version)
        self._add_model_version(name, version, created=self.now, job=job[1] if job else "")
        body = self.model_versions[name][version]
        body["properties"].update({k: v for k, v in sent.items() if v is not None}, description=sent.get("description"))
        return (200 if existing else 201), body, {}

    def get_data(self, call: Call, name: str, version: str) -> Reply:
        if version not in self.data.get(name, {}):
            return _not_found("data asset", f"{name}:{version}")
        return 200, self.data[name][version], {}

    def put_data(self, call: Call, name: str, version: str) -> Reply:
        existing = self.data.get(name, {}).get(version)
        sent = (call.body or {}).get("properties") or {}
        body = self._add_data(name, version, sent.get("dataType", "uri_folder"), sent.get("dataUri", ""),
                              created=self.now, description=sent.get("description") or "")
        body["properties"].update({k: v for k, v in sent.items() if v is not None})
        return (200 if existing else 201), body, {}

    def list_schedules(self, call: Call) -> Reply:
        """ARM's ScheduleListViewType: EnabledOnly unless the query says DisabledOnly or All."""
        view = call.query.get("listViewType") or "EnabledOnly"
        keep = {"EnabledOnly": (True,), "DisabledOnly": (False,), "All": (True, False)}.get(view, (True,))
        return 200, {"value": [b for b in self.schedules.values()
                               if b["properties"].get("isEnabled", True) in keep]}, {}

    def get_schedule(self, call: Call, name: str) -> Reply:
        if name not in self.schedules:
            return _not_found("schedule", name)
        return 200, self.schedules[name], {}

    # --- the workspace's default datastore and its blob container ---------------------------------

    def list_code_versions(self, call: Call, name: str) -> Reply:
        wanted = call.query.get("hash")
        found = [v for v in self.codes.get(name, {}).values()
                 if wanted is None or v["properties"].get("properties", {}).get("hash") == wanted]
        return 200, {"value": found}, {}

    def start_pending_upload(self, call: Call, name: str, version: str) -> Reply:
        folder = f"LocalUpload/{hashlib.sha256(f'{name}/{version}'.encode()).hexdigest()[:32]}"
        base = f"https://{STORAGE_ACCOUNT}{BLOB_HOST}/{BLOB_CONTAINER}/{folder}"
        return 200, {"blobReferenceForConsumption": {
            "blobUri": base, "storageAccountArmId": f"/subscriptions/{self.SUBSCRIPTION}/resourceGroups/"
            f"{self.RESOURCE_GROUP}/providers/Microsoft.Storage/storageAccounts/{STORAGE_ACCOUNT}",
            "credential": {"credentialType": "SAS", "sasUri": f"{base}?sv=2021-08-06&sr=d&sp=rcw&sig=fake0"}},
            "pendingUploadId": name, "pendingUploadType": "TemporaryBlobReference"}, {}

    def put_code_version(self, call: Call, name: str, version: str) -> Reply:
        existing = self.codes.get(name, {}).get(version)
        body = self._resource(copy.deepcopy(call.body or {}), f"codes/{name}/versions", version, self.now)
        body["properties"]["provisioningState"] = "Succeeded"
        self.codes.setdefault(name, {})[version] = body
        return (200 if existing else 201), body, {}

    def get_code_version(self, call: Call, name: str, version: str) -> Reply:
        if version not in self.codes.get(name, {}):
            return _not_found("code", f"{name}:{version}")
        return 200, self.codes[name][version], {}

    def get_datastore(self, call: Call, name: str) -> Reply:
        """A workspace datastore in the shape azure-ai-ml's own recordings show (test_blob_store,
        test_blob_store_credential_less): credentials AccountKey (its secrets only through
        listSecrets), or None for an identity-based one."""
        if name not in DATASTORES:
            return _not_found("datastore", name)
        identity = self.identity_datastores
        body = {"id": f"{self.ws_id}/datastores/{name}", "name": name,
                "type": "Microsoft.MachineLearningServices/workspaces/datastores",
                "properties": {"description": None, "tags": {}, "properties": None,
                               "isDefault": name == "workspaceblobstore",
                               "credentials": {"credentialsType": "None" if identity else "AccountKey"},
                               "subscriptionId": None, "resourceGroup": None, "datastoreType": "AzureBlob",
                               "accountName": STORAGE_ACCOUNT, "containerName": DATASTORES[name],
                               "endpoint": "core.windows.net", "protocol": "https",
                               "serviceDataAccessAuthIdentity": "WorkspaceSystemAssignedIdentity" if identity
                               else "None"},
                "systemData": system_data(self.now - timedelta(days=30))}
        return 200, body, {}

    def list_datastore_secrets(self, call: Call, name: str) -> Reply:
        """As Azure answers azure-ai-ml's request for expirable secrets (the recording's shape: a
        SAS with a leading '?', valid an hour by `se`; here storage takes it until `expire_sas()`),
        not the account key. A Reader never gets here: `_refused` answers the action's 403."""
        if name not in DATASTORES:
            return _not_found("datastore", name)
        if self.identity_datastores:  # no example: Azure keeps no secret to list for such a datastore
            return 400, arm_error("UserError", f"Datastore {name} has no secrets: it uses identity-based access."), {}
        if (call.body or {}).get("expirableSecret"):
            self.sas_issued += 1
            self._account_sas.add(self._sas())
            expiry = (datetime.now(timezone.utc) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
            return 200, {"secretsType": "Sas",
                         "sasToken": f"?sv=2021-08-06&sig={self._sas()}&se={expiry}&srt=co&ss=bf&sp=rcuwdl"}, {}
        return 200, {"secretsType": "AccountKey", "key": STORAGE_KEY}, {}

    def _sas(self) -> str:
        return f"fake{self.sas_issued}"

    def expire_sas(self) -> None:
        """Storage refuses every SAS issued so far (403 AuthenticationFailed), as after its hour."""
        self.sas_valid_from = self.sas_issued + 1

    def _refused(self, call: Call, sig: str | None) -> Reply | None:
        """What Azure refuses before any route runs: a Reader's writes and actions (ARM's 403
        AuthorizationFailed naming the action and scope); for storage, an expired SAS, a key or
        account SAS on an account that refuses shared keys, and a token without a blob data role
        on the account (storage's 403s, in its XML and x-ms-error-code)."""
        if call.host == HOST:
            if self.role != "Reader" or call.method == "GET":
                return None
            action, scope = _arm_action(call.method, call.path)
            return 403, arm_error("AuthorizationFailed", (
                f"The client '{USER}' with object id '{USER_OBJECT_ID}' does not have authorization to perform "
                f"action '{action}' over scope '{scope}' or the scope is invalid. If access was recently granted, "
                "please refresh your credentials.")), {}
        if not call.host.endswith(BLOB_HOST):
            return None
        auth = call.headers.get("authorization", "")
        if sig is not None and sig[4:].isdigit() and int(sig[4:]) < self.sas_valid_from:
            expiry = call.query.get("se", "")
            try:
                expired = _http_date(datetime.fromisoformat(expiry.replace("Z", "+00:00")))
            except ValueError:
                expired = expiry
            return self._storage_error(403, "AuthenticationFailed", "Server failed to authenticate the request. Make "
                                       "sure the value of Authorization header is formed correctly including the "
                                       "signature.", detail=f"Signed expiry time [{expired}] must be after signed "
                                       f"start time [{_http_date(datetime.now(timezone.utc))}]")
        if not self.shared_key_access and (sig in self._account_sas or auth.startswith("SharedKey ")):
            return self._storage_error(403, "KeyBasedAuthenticationNotPermitted",
                                       "Key based authentication is not permitted on this storage account.")
        if sig is None and auth.startswith("Bearer "):
            roles = {"Storage Blob Data Contributor", "Storage Blob Data Owner"}
            if call.method in ("GET", "HEAD"):
                roles.add("Storage Blob Data Reader")
            if self.blob_data_role not in roles:
                return self._storage_error(403, "AuthorizationPermissionMismatch", "This request is not authorized "
                                           "to perform this operation using this permission.")
        return None

    def _storage_error(self, status: int, code: str, message: str, *, detail: str | None = None,
                       headers: dict[str, str] | None = None) -> Reply:
        """An error as the Blob service answers it: XML with the code, a message ending in its
        request id and time, and the code again in `x-ms-error-code`."""
        request_id = f"{len(self.requests):08x}-701e-0023-7ff1-2a2bd9000000"
        now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f0Z")
        extra = f"<AuthenticationErrorDetail>{detail}</AuthenticationErrorDetail>" if detail else ""
        body = (f'<?xml version="1.0" encoding="utf-8"?><Error><Code>{code}</Code><Message>{message}\n'
                f"RequestId:{request_id}\nTime:{now}</Message>{extra}</Error>").encode()
        return status, body, {"Content-Type": "application/xml", "x-ms-error-code": code,
                              "x-ms-request-id": request_id, "Server": "Windows-Azure-Blob/1.0 Microsoft-HTTPAPI/2.0",
                              **(headers or {})}

    def put_blob(self, name: str, content: bytes) -> None:
        self.blobs[name] = content
        self.blob_types[name] = "BlockBlob"

    def append_blob(self, name: str, content: bytes) -> None:
        """Append to an append blob of the workspace's container (made if missing): it grows, and its
        ETag changes, as the data collector's files do through their hour."""
        self.blobs[name] = self.blobs.get(name, b"") + content
        self.blob_types[name] = "AppendBlob"

    def collect(self, endpoint: str, deployment: str, rows: list[dict], at: datetime,
                collection: str = "model_inputs", *, per_line: int = 10, every_s: float | None = None,
                instance: str | None = None) -> str:
        """Write rows as a deployment's data collector does: one JSON line per batch of requests (a
        CloudEvent whose `data` is their rows, `per_line` of them), in an hour folder yyyy/MM/dd/HH of
        the collection. With `instance`, the lines are appended to that instance's file of the hour
        ({instance}.jsonl, an append blob), as the collector writes through the hour; lines are
        `every_s` apart from `at` (default: a few seconds apart). Returns the blob's name."""
        folder = f"modelDataCollector/{endpoint}/{deployment}/{collection}/{at:%Y/%m/%d/%H}"
        name = f"{folder}/{instance}.jsonl" if instance else f"{folder}/{at:%M}_{len(self.blobs):04d}.jsonl"
        lines = [self._event(endpoint, deployment, collection, i, rows[i:i + per_line],
                             at + timedelta(seconds=(k * every_s) if every_s is not None else i % 60))
                 for k, i in enumerate(range(0, len(rows), per_line))]
        self.append_blob(name, ("\n".join(lines) + "\n").encode())
        return name

    def collect_large(self, endpoint: str, deployment: str, rows: list[dict], at: datetime,
                      collection: str = "model_inputs", *, instance: str = "0",
                      account: str = STORAGE_ACCOUNT) -> str:
        """A request whose payload is over 4 MB, as the collector writes it: the payload goes to
        `{endpoint}/{deployment}/{yyyy/MM/dd/HH}/{instance}.jsonl` of the container (appended there,
        one JSON line a payload), and the collection's line carries its blob URL as `data`
        (datacontenttype text/plain). `account` other than the workspace's: the URL names a storage
        account the workspace does not have, and nothing is stored. Returns the URL."""
        path = f"modelDataCollector/{endpoint}/{deployment}/{at:%Y/%m/%d/%H}/{instance}.jsonl"
        url = f"https://{account}{BLOB_HOST}/{BLOB_CONTAINER}/{path}"
        if account == STORAGE_ACCOUNT:
            self.append_blob(path, (json.dumps(rows) + "\n").encode())
        folder = f"modelDataCollector/{endpoint}/{deployment}/{collection}/{at:%Y/%m/%d/%H}"
        line = json.loads(self._event(endpoint, deployment, collection, len(self.blobs), [], at))
        line.update(data=url, datacontenttype="text/plain")
        self.append_blob(f"{folder}/{instance}.jsonl", (json.dumps(line) + "\n").encode())
        return url

    def _event(self, endpoint: str, deployment: str, collection: str, i: int, data: Any, at: datetime) -> str:
        source = f"{self.ws_id}/onlineEndpoints/{endpoint}/deployments/{deployment}"
        return json.dumps({"specversion": "1.0", "id": f"{i:08x}-req", "source": source,
                           "type": f"azureml.inference.{collection}", "datacontenttype": "application/json",
                           "time": f"{stamp(at)[:19]}Z", "data": data, "path": "/score", "method": "POST",
                           "contentrange": f"bytes 0-{len(json.dumps(data))}/*"})

    def blob(self, call: Call) -> Reply:
        """The Blob service for the workspace's account: List Blobs (XML, by prefix, each blob's
        ETag, length and type) and Get Blob (ranged, as download_blob reads it; a range that starts
        past the end answers 416 InvalidRange)."""
        account = call.host.split(".", 1)[0]
        container, _, name = call.path.lstrip("/").partition("/")
        from urllib.parse import unquote

        name = unquote(name)
        if account != STORAGE_ACCOUNT or container not in (BLOB_CONTAINER, ARTIFACT_CONTAINER):
            return self._storage_error(404, "ContainerNotFound", "The specified container does not exist.")
        store = self.blobs if container == BLOB_CONTAINER else self.artifacts

        def etag(content: bytes) -> str:
            return f"0x8DC{hashlib.sha256(content).hexdigest()[:12].upper()}"
        if call.method == "GET" and not name and call.query.get("comp") == "list":
            prefix = call.query.get("prefix", "")
            items = "".join(
                f"<Blob><Name>{n}</Name><Properties><Last-Modified>{_http_date(self.now)}</Last-Modified>"
                f"<Etag>{etag(b)}</Etag><Content-Length>{len(b)}"
                "</Content-Length><Content-Type>application/octet-stream</Content-Type>"
                f"<BlobType>{self.blob_types.get(n, 'BlockBlob')}</BlobType></Properties></Blob>"
                for n, b in sorted(store.items()) if n.startswith(prefix))
            xml = (f'<?xml version="1.0" encoding="utf-8"?><EnumerationResults ServiceEndpoint="https://{call.host}/" '
                   f'ContainerName="{container}"><Prefix>{prefix}</Prefix><Blobs>{items}</Blobs><NextMarker />'
                   "</EnumerationResults>")
            return 200, xml.encode(), {"Content-Type": "application/xml"}
        if call.method == "PUT" and name and not call.query.get("comp"):  # Put Blob, in one request
            content = call.body if isinstance(call.body, bytes) else json.dumps(call.body).encode() \
                if call.body is not None else b""
            store[name] = content
            self.blob_types[name] = "BlockBlob"
            self.blob_metadata[name] = {k[len("x-ms-meta-"):]: v for k, v in call.headers.items()
                                        if k.startswith("x-ms-meta-")}
            return 201, None, {"ETag": f'"{etag(content)}"', "Last-Modified": _http_date(self.now),
                               "x-ms-request-server-encrypted": "true"}
        if call.method == "PUT" and name in store and call.query.get("comp") == "metadata":
            self.blob_metadata[name] = {k[len("x-ms-meta-"):]: v for k, v in call.headers.items()
                                        if k.startswith("x-ms-meta-")}
            return 200, None, {"ETag": '"0x8DC000000000000"', "Last-Modified": _http_date(self.now)}
        if call.method == "GET" and name in store:
            content = store[name]
            headers = {"Content-Type": "application/octet-stream",
                       "x-ms-blob-type": self.blob_types.get(name, "BlockBlob"), "ETag": f'"{etag(content)}"',
                       "Last-Modified": _http_date(self.now)}
            wanted = re.fullmatch(r"bytes=(\d+)-(\d*)", call.headers.get("x-ms-range") or call.headers.get("range") or "")
            if wanted:
                first = int(wanted[1])
                if first >= len(content):
                    return self._storage_error(416, "InvalidRange", "The range specified is invalid for the current "
                                               "size of the resource.", headers={"Content-Range": f"bytes */{len(content)}"})
                last = min(int(wanted[2]) if wanted[2] else len(content) - 1, len(content) - 1)
                return 206, content[first:last + 1], {**headers, "Content-Range": f"bytes {first}-{last}/{len(content)}"}
            return 200, content, headers
        return self._storage_error(404, "BlobNotFound", "The specified blob does not exist.")

    # --- the region's MLflow tracking server (a run per job, its id the job's name) -------------------

    def log_metrics(self, job: str, key: str, values: list[float]) -> None:
        """What the job's MLflow run logged: `values` at steps 0, 1, ..."""
        self.run_metrics.setdefault(job, {})[key] = list(values)

    def mlflow(self, call: Call) -> Reply:
        if call.path == "/discovery":  # the workspace's discoveryUrl: where each regional service is
            base = f"https://{self.LOCATION}{TRACKING_HOST}"
            return 200, {k: base for k in ("api", "catalog", "experimentation", "gallery", "history", "hyperdrive",
                                           "labeling", "modelmanagement", "pipelines")} | {
                "studio": "https://ml.azure.com"}, {}
        if call.path.startswith("/history/v1.0/"):
            return self.run_history(call)
        prefix = f"/mlflow/v1.0{self.ws_id}/api/2.0/mlflow/"
        if call.method != "GET" or not call.path.startswith(prefix):
            return 404, {"error_code": "ENDPOINT_NOT_FOUND", "message": f"no route {call.path}"}, {}
        route, run_id = call.path[len(prefix):], call.query.get("run_id", "")
        if run_id not in self.jobs or self.jobs[run_id]["properties"]["status"] in ("NotStarted", "Queued"):
            return 404, {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": f"Run '{run_id}' not found"}, {}
        logged = self.run_metrics.get(run_id, {})
        millis = int(self.now.timestamp() * 1000)
        if route == "runs/get":
            latest = [{"key": k, "value": v[-1], "timestamp": millis, "step": len(v) - 1} for k, v in logged.items()]
            return 200, {"run": {"info": {"run_id": run_id, "experiment_id": "0", "status": "FINISHED"},
                                 "data": {"metrics": latest, "params": [], "tags": []}}}, {}
        if route == "metrics/get-history":
            values = logged.get(call.query.get("metric_key", ""), [])
            start = int(call.query.get("page_token") or 0)
            size = int(call.query.get("max_results") or 1000)
            page = {"metrics": [{"key": call.query["metric_key"], "value": v, "timestamp": millis + i, "step": i}
                                for i, v in enumerate(values)][start:start + size]}
            if start + size < len(values):
                page["next_page_token"] = str(start + size)
            return 200, page, {}
        return 404, {"error_code": "ENDPOINT_NOT_FOUND", "message": f"no route {route}"}, {}

    def run_history(self, call: Call) -> Reply:
        """The region's run history: a pipeline job's steps are its child runs (azure-ai-ml's
        jobs.list(parent_job_name=...)), in the run history's own shape (its Run model)."""
        found = re.fullmatch(r"/history/v1\.0" + re.escape(self.ws_id) + r"/runs/([^/]+)/children", call.path,
                             re.IGNORECASE)
        if call.method != "GET" or not found:
            self.unhandled.append(call)
            return 404, {"error": {"code": "NotFound", "message": f"FakeArm has no run history route {call.path}"}}, {}
        parent = self.jobs.get(found[1])
        if parent is None:
            return 404, {"error": {"code": "NotFound", "message": f"Run {found[1]} was not found"}}, {}
        props = parent["properties"]
        created = parent["systemData"]["createdAt"]
        compute = str((props.get("settings") or {}).get("default_compute") or props.get("computeId") or "")
        runs = [{"runId": f"{found[1]}_{step}", "parentRunId": found[1], "rootRunId": found[1], "displayName": step,
                 "status": self.step_status.get((found[1], step), "NotStarted"), "experimentId": props.get(
                     "experimentName") or "Default", "runType": "azureml.StepRun", "createdUtc": created,
                 "lastModifiedUtc": created, "properties": {}, "tags": {}, "services": {},
                 "compute": {"target": compute.rsplit("/", 1)[-1].removeprefix("azureml:") or None}}
                for step in (props.get("jobs") or {})]
        return 200, {"value": runs}, {}

    # --- the scoring URI of an endpoint (not ARM: its own host, its own keys) ---------------------

    def score(self, call: Call) -> Reply:
        """POST https://{endpoint}.{region}.inference.ml.azure.com/score, as a managed endpoint answers
        an MLflow model's request: key auth, `azureml-model-deployment` pins a deployment, otherwise
        the live split picks one (deterministically here: the n-th request of an endpoint goes where
        n falls in its cumulative shares). It has no model: each row scores 0 or 1 from its hash."""
        endpoint = call.host.split(".", 1)[0]
        if call.method != "POST" or call.path != "/score" or endpoint not in self.endpoints:
            return 404, {"message": f"no endpoint at {call.host}{call.path}"}, {}
        keys = self.keys[endpoint]
        if call.headers.get("authorization") not in (f"Bearer {keys['primaryKey']}", f"Bearer {keys['secondaryKey']}"):
            return 401, {"message": "Authentication failed: the key is not one of this endpoint's keys"}, {}
        pinned = call.headers.get("azureml-model-deployment")
        live = self.traffic(endpoint)
        if pinned:
            if pinned not in self.deployments[endpoint]:
                return 404, {"message": f"No valid deployments to route to: {pinned} is not a deployment"}, {}
            chosen = pinned
        else:
            n = self.scored.get(endpoint, 0)
            self.scored[endpoint] = n + 1
            chosen, edge = None, 0
            for name, share in sorted(live.items()):
                edge += share
                if share and n % 100 < edge:
                    chosen = name
                    break
            if chosen is None:
                return 424, {"message": "No valid deployments to route to: every deployment has 0 % traffic"}, {}
        payload = call.body if isinstance(call.body, dict) else {}
        rows = ((payload.get("input_data") or payload.get("dataframe_split") or {}).get("data")
                if isinstance(payload.get("input_data") or payload.get("dataframe_split"), dict) else None)
        if not isinstance(rows, list):
            return 400, {"message": "expected {\"input_data\": {\"columns\": [...], \"data\": [[...]]}}"}, \
                {"azureml-model-deployment": chosen}
        predictions = [int(hashlib.sha256(json.dumps(r).encode()).hexdigest(), 16) % 2 for r in rows]
        return 200, predictions, {"azureml-model-deployment": chosen}

    # --- routes: Azure Monitor metrics --------------------------------------------------------------

    def get_metrics(self, call: Call, endpoint: str) -> Reply:
        """Metrics_List on ARM: one endpoint's metrics (what azure-monitor-query's MetricsQueryClient
        reads; the console reads metrics:getBatch instead, off ARM's budget)."""
        if endpoint not in self.endpoints:
            return _not_found("online endpoint", endpoint)
        names = [n for n in call.query.get("metricnames", "RequestsPerMinute").split(",") if n]
        start, end = _timespan(call.query.get("timespan"), self.now)
        metrics = self._metric_values(endpoint, names, start, end, call.query.get("aggregation"),
                                      call.query.get("$filter"), call.query.get("top"))
        if not isinstance(metrics, list):
            return metrics
        body = example("Insights/metrics/GetMetric.json")
        body.update(cost=int((end - start).total_seconds() // 60) * len(names), interval="PT1M",
                    resourceregion=self.LOCATION, namespace=ENDPOINT_NAMESPACE,
                    timespan=f"{stamp(start)[:19]}Z/{stamp(end)[:19]}Z", value=metrics)
        return 200, body, {}

    def metrics_batch(self, call: Call) -> Reply:
        """Azure Monitor's metrics:getBatch on the region's data plane (not ARM, not ARM's budget):
        the metrics of up to 50 online endpoints in one POST, answered in the shape of the published
        example (monitor data-plane 2024-02-01, MetricBatchExample.json): `values`, one entry per
        resource id asked, in order, each with its `resourceid` and `value` (the metrics, each with
        `timeseries` of `metadatavalues` and `data`). The resources must share the request's
        subscription, the namespace must be theirs; an id the workspace does not hold answers 404."""
        found = re.fullmatch(r"/subscriptions/([^/]+)/metrics:getBatch", call.path)
        if call.method != "POST" or not found:
            self.unhandled.append(call)
            return 404, arm_error("NotFound", f"FakeArm has no route for {call.method} {call.host}{call.path}"), {}
        ids = list((call.body or {}).get("resourceids") or []) if isinstance(call.body, dict) else []
        namespace = call.query.get("metricnamespace", "")
        if namespace.lower() != ENDPOINT_NAMESPACE.lower():
            return 400, arm_error("BadRequest", f"Metric namespace {namespace!r} is not the resources' "
                                                f"({ENDPOINT_NAMESPACE})."), {}
        if not 1 <= len(ids) <= METRICS_BATCH:
            return 400, arm_error("BadRequest", f"A batch takes 1 to {METRICS_BATCH} resource ids, not {len(ids)}."), {}
        prefix = f"{self.ws_id}/onlineEndpoints/".lower()
        endpoints = {name.lower(): name for name in self.endpoints}
        names = [n for n in call.query.get("metricnames", "").split(",") if n]
        start = datetime.fromisoformat(call.query["starttime"]).replace(second=0, microsecond=0) \
            if call.query.get("starttime") else self.now - timedelta(hours=1)
        end = datetime.fromisoformat(call.query["endtime"]) if call.query.get("endtime") else self.now
        values = []
        for rid in ids:
            if f"/subscriptions/{found[1]}/".lower() not in rid.lower():
                return 400, arm_error("BadRequest", f"Resource {rid} is not in subscription {found[1]}."), {}
            name = rid[len(prefix):] if rid.lower().startswith(prefix) else None
            if name is None or name.lower() not in endpoints:
                return 404, arm_error("ResourceNotFound", f"The resource {rid} was not found."), {}
            metrics = self._metric_values(endpoints[name.lower()], names, start, end, call.query.get("aggregation"),
                                          call.query.get("filter"), call.query.get("top"))
            if not isinstance(metrics, list):
                return metrics
            values.append({"starttime": call.query.get("starttime") or f"{stamp(start)[:19]}Z",
                           "endtime": call.query.get("endtime") or f"{stamp(end)[:19]}Z", "interval": "PT1M",
                           "value": metrics, "namespace": ENDPOINT_NAMESPACE.lower(),
                           "resourceregion": self.LOCATION, "resourceid": rid})
        return 200, {"values": values}, {}

    def _metric_values(self, endpoint: str, names: list[str], start: datetime, end: datetime,
                       aggregation: str | None, filter_text: str | None, top: str | None) -> list[dict] | Reply:
        """One endpoint's metrics, each a `Metric` of Azure Monitor's answer, or the error the whole
        request gets (a metric or a dimension the endpoint does not have). A metric asked for an
        aggregation it does not list answers as Azure Monitor does (GetMetricError.json): its
        `errorCode` and `errorMessage`, and no time series. A filter returns `top` series (10 unless
        asked), as Azure Monitor does."""
        unknown = [n for n in names if n not in ENDPOINT_METRICS]
        if unknown or not names:
            return 400, arm_error("BadRequest", f"Failed to find metric configuration for provider: "
                                               f"Microsoft.MachineLearningServices, resource type: onlineEndpoints, "
                                               f"metric: {', '.join(unknown) or '(none)'}"), {}
        minutes = [start + timedelta(minutes=i) for i in range(int((end - start).total_seconds() // 60))]
        asked = [a.strip().lower() for a in (aggregation or "").split(",") if a.strip()]
        dims = {k.lower(): v for k, v in re.findall(r"(\w+) eq '([^']*)'", filter_text or "")}
        for name in names:
            lacking = sorted(set(dims) - {d.lower() for d in ENDPOINT_METRICS[name][3]})
            if lacking:
                return 400, arm_error("BadRequest", f"Dimension {lacking[0]} is not defined for metric {name}."), {}
        wanted = dims.get("deployment")
        by_code = dims.get("statuscode") == "*"
        limit = int(top) if top else 10
        metrics = []
        for name in names:
            unit, description, aggregations, _ = ENDPOINT_METRICS[name]
            metric_id = f"{self.ws_id}/onlineEndpoints/{endpoint}/providers/Microsoft.Insights/metrics/{name}"
            refused = [a for a in asked if a not in aggregations]
            if refused:  # Azure Monitor's words for an aggregation the metric does not list
                metrics.append({"name": {"localizedValue": name, "value": name}, "type": "Microsoft.Insights/metrics",
                                "errorCode": "InvalidSamplingType",
                                "errorMessage": f"Sampling type is not found. Metric:MachineLearningServices,"
                                                f"AzureMonitor,{name}, SamplingType:Nullable{refused[0].title()}.",
                                "id": metric_id, "timeseries": [], "unit": unit})
                continue
            series = []
            for deployment, values in self.serving.get(endpoint, {}).items():
                if wanted is None or wanted in ("*", deployment):
                    series.append(({"deployment": deployment} if wanted else {}, values))
            if wanted is None:  # one series for the whole endpoint
                series = [({}, _merged([v for _, v in series]))]
            if by_code:  # each series split by the answers' status codes, in the set shares
                series = [({**meta, "statuscode": code}, {**values, "requests_per_minute":
                                                          values["requests_per_minute"] * share})
                          for meta, values in series
                          for code, share in (values.get("status_codes") or {"200": 1.0}).items()]
            if dims:
                series = series[:limit]
            metrics.append({
                "id": metric_id, "type": "Microsoft.Insights/metrics", "name": {"value": name, "localizedValue": name},
                "displayDescription": description, "unit": unit, "errorCode": "Success",
                "timeseries": [{"metadatavalues": [{"name": {"value": k, "localizedValue": k}, "value": v}
                                                   for k, v in meta.items()],
                                "data": [_point(t, i, values, SERVING_KEYS[name], asked or list(aggregations))
                                         for i, t in enumerate(minutes)]}
                               for meta, values in series],
            })
        return metrics


# --- helpers ----------------------------------------------------------------------------------------

def churn_rows() -> list[dict]:
    """specs/data's churn table as the served model's inputs (the label left out), typed as JSON would carry them."""
    import csv

    def typed(v: str):
        if v in ("True", "False"):
            return v == "True"
        for kind in (int, float):
            try:
                return kind(v)
            except ValueError:
                pass
        return v

    with open(CHURN_CSV, newline="") as fh:
        return [{k: typed(v) for k, v in row.items() if k != "churn"} for row in csv.DictReader(fh)]


def _run_time(t: datetime) -> str:
    """A run's start or end as Azure ML writes it in a job's properties: "2026-03-01 11:53:40", UTC."""
    return t.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _http_date(t: datetime) -> str:
    return t.strftime("%a, %d %b %Y %H:%M:%S GMT")


def _arm_action(method: str, path: str) -> tuple[str, str]:
    """The RBAC action an ARM request needs and the scope it is checked at, as AuthorizationFailed
    names them: POST .../datastores/x/listSecrets -> (Microsoft.MachineLearningServices/workspaces/
    datastores/listSecrets/action, .../datastores/x); PUT -> .../write; DELETE -> .../delete."""
    found = re.search(r"/providers/([^/]+)/(.+)$", path)
    if not found:
        return f"{method} {path}", path
    provider, parts = found[1], found[2].strip("/").split("/")
    kinds = "/".join(parts[0::2])
    if method == "POST" and len(parts) % 2:  # an action on the resource named before it
        return f"{provider}/{kinds}/action", path.rstrip("/").rsplit("/", 1)[0]
    return f"{provider}/{kinds}/{'delete' if method == 'DELETE' else 'write'}", path


def _not_found(kind: str, name: str) -> Reply:
    return 404, arm_error("ResourceNotFound", f"The {kind} {name} was not found."), {}


def _keys(endpoint: str) -> dict:
    body = {}
    for key in example("Workspace/OnlineEndpoint/listKeys.json"):  # primaryKey, secondaryKey
        body[key] = hashlib.sha256(f"{endpoint}/{key}".encode()).hexdigest()[:32]
    return body


def _quiet() -> dict:
    return {"requests_per_minute": 0.0, "latency_ms": 0.0, "p50_ms": 0.0, "p90_ms": 0.0, "p95_ms": 0.0, "p99_ms": 0.0}


def _merged(values: list[dict]) -> dict:
    """The endpoint's figures from its deployments': requests add up, latencies are request-weighted."""
    total = sum(v["requests_per_minute"] for v in values)
    merged = {"requests_per_minute": total}
    for key in ("latency_ms", "p50_ms", "p90_ms", "p95_ms", "p99_ms"):
        merged[key] = sum(v[key] * v["requests_per_minute"] for v in values) / total if total else 0.0
    return merged


def _point(t: datetime, i: int, values: dict, key: str, aggregations: list[str]) -> dict:
    """One minute of a metric: a deterministic wobble around the set value; no value in a minute
    without requests, as Azure Monitor reports it."""
    point: dict[str, Any] = {"timeStamp": f"{stamp(t)[:19]}Z"}
    if values["requests_per_minute"] <= 0:
        return point
    value = round(values[key] * (1 + 0.04 * ((i * 7) % 5 - 2)), 2)
    for aggregation in aggregations:
        point[aggregation] = 1.0 if aggregation == "count" else value
    return point


def _timespan(text: str | None, now: datetime) -> tuple[datetime, datetime]:
    """A metrics timespan: "start/end" or "start/duration" (ISO 8601), a duration before now, or the
    last 30 minutes. The grain is always one minute, whatever `interval` asks."""
    def parse(s: str) -> datetime:
        return datetime.fromisoformat(s)
    if text and "/" in text:
        start, end = text.split("/", 1)
        if end.startswith("P"):
            return parse(start), parse(start) + _duration(end)
        return parse(start), parse(end)
    end = now.replace(second=0, microsecond=0)
    return end - (_duration(text) if text else timedelta(minutes=30)), end


def _duration(text: str) -> timedelta:
    """An ISO 8601 duration of days, hours, minutes and seconds ("P1D", "PT30M", "PT1800.0S": the
    form azure-monitor-query sends a timedelta in)."""
    found = re.fullmatch(r"P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?", text)
    if not found or text in ("P", "PT"):
        raise ValueError(f"unsupported duration {text!r}")
    return timedelta(days=int(found[1] or 0), hours=int(found[2] or 0), minutes=int(found[3] or 0),
                     seconds=float(found[4] or 0))


def _inference_log(endpoint: str, deployment: str, started: datetime) -> str:
    def t(seconds: int) -> str:
        return (started + timedelta(seconds=seconds)).strftime("%Y-%m-%d %H:%M:%S,%f")[:-3]
    return "".join(f"{line}\n" for line in [
        "Instance status:\nSystemSetup: Succeeded\nUserContainerImagePull: Succeeded\nModelDownload: Succeeded",
        f"{t(31)} | root | INFO | Starting AzureML Inference Server HTTP.",
        f"{t(32)} | root | INFO | Scoring script: /var/azureml-server/mlflow_score_script.py",
        f"{t(34)} | root | INFO | Model {endpoint}/{deployment} loaded: mlflow.sklearn flavor",
        f"{t(35)} | gunicorn.error | INFO | Listening at: http://0.0.0.0:31311",
        f"{t(45)} | root | INFO | GET /  200  1.2ms (readiness probe)",
        f"{t(60)} | root | INFO | POST /score  200  11.8ms",
    ])


class _Adapter(BaseAdapter):
    """Hands each request to the fake and wraps its answer as urllib3 would (azure-core reads `raw`)."""

    def __init__(self, fake: FakeArm):
        super().__init__()
        self.fake = fake
        self._builder = HTTPAdapter()

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        raw = request.body
        if hasattr(raw, "read"):
            raw = raw.read()
        if isinstance(raw, str):
            raw = raw.encode()
        body = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw
        status, answer, headers = self.fake.handle(request.method, request.url, dict(request.headers), body)
        data = answer if isinstance(answer, bytes) else b"" if answer is None else json.dumps(answer).encode()
        headers = {"Content-Type": "application/json; charset=utf-8", "Content-Length": str(len(data)),
                   "x-ms-request-id": f"fake-{len(self.fake.requests)}", **headers}
        response = HTTPResponse(body=io.BytesIO(data), status=status, headers=headers, preload_content=False,
                                decode_content=False, reason=http.HTTPStatus(status).phrase)
        return self._builder.build_response(request, response)

    def close(self):
        self._builder.close()
