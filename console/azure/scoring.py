"""Scoring an Azure online endpoint: the console's own POST to its scoring URI.

Not `online_endpoints.invoke`: azure-ai-ml keeps the `azureml-model-deployment` header it sets for
a pinned call in a class-level dict, so every later call of the process would go to that
deployment too. Here each call builds its own headers. The request goes through an azure-core
pipeline on the workspace's transport (so tests answer it offline) with no retries: a scoring
POST is the operator's, and one is what they asked for. HTTP errors come back as results.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from console.errors import BackendUnavailable

if TYPE_CHECKING:
    from console.azure.session import Session
    from console.domain import InvokeResult

TIMEOUT_S = 30.0


def invoke(session: Session, name: str, body: bytes | str, *, deployment: str | None = None) -> InvokeResult:
    """One scoring request to endpoint `name` (pinned to `deployment` when given)."""
    from azure.core.exceptions import ServiceRequestError, ServiceResponseError
    from azure.core.rest import HttpRequest

    from console.domain import InvokeResult

    ml = session.client()
    endpoint = ml.online_endpoints.get(name)
    if not endpoint.scoring_uri:
        raise BackendUnavailable(f"endpoint '{name}' has no scoring URI yet (it is {endpoint.provisioning_state})")
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {_secret(ml, name, endpoint)}"}
    if deployment:
        headers["azureml-model-deployment"] = deployment
    client = session.scoring_client()
    request = HttpRequest("POST", endpoint.scoring_uri, headers=headers,
                          content=body.encode() if isinstance(body, str) else body)
    start = time.perf_counter()
    try:
        reply = client.send_request(request, stream=False, connection_timeout=TIMEOUT_S, read_timeout=TIMEOUT_S)
    except (ServiceRequestError, ServiceResponseError) as err:  # cannot connect, or no answer in time
        raise BackendUnavailable(f"cannot reach {endpoint.scoring_uri}: {err}") from None
    latency = (time.perf_counter() - start) * 1000
    return InvokeResult(status_code=reply.status_code, body=reply.text(),
                        deployment=reply.headers.get("azureml-model-deployment"), latency_ms=latency,
                        headers={k.lower(): v for k, v in reply.headers.items()})


def _secret(ml: Any, name: str, endpoint: Any) -> str:
    """The key (key auth) or token (aml_token auth) a client sends."""
    keys = ml.online_endpoints.get_keys(name=name)
    secret = getattr(keys, "primary_key", None) or getattr(keys, "access_token", None)
    if not secret:
        raise BackendUnavailable(f"endpoint '{name}' gave no scoring key or token (auth mode {endpoint.auth_mode})")
    return str(secret)
