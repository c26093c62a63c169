"""`amlops endpoint ...` and `amlops deployment ...`: online endpoints, blue/green traffic,
scoring and load. Deleting asks first (or takes --yes), as every destructive action does.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from console.commands.argtypes import positive_float, positive_int, share
from console.commands.selection import workspace
from console.commands.output import add_no_wait, confirm, details, emit_json, settled, table
from console.format import money

if TYPE_CHECKING:
    from console.domain import Endpoint


def register(sub: argparse._SubParsersAction) -> None:
    endpoint = sub.add_parser("endpoint", help="online endpoints: list, show, keys, invoke, traffic, mirror, rollback, load, delete")
    ep = endpoint.add_subparsers(dest="endpoint_command", metavar="ACTION", required=True)
    listing = ep.add_parser("list", help="endpoints with their deployments and traffic")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=_list)
    show = ep.add_parser("show", help="one endpoint")
    show.add_argument("name")
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=_show)
    keys = ep.add_parser("keys", help="the scoring keys")
    keys.add_argument("name")
    keys.add_argument("--regenerate", choices=("primary", "secondary"), help="replace one key")
    keys.add_argument("--json", action="store_true")
    keys.set_defaults(handler=_keys)
    invoke = ep.add_parser("invoke", help="score a request through the endpoint")
    invoke.add_argument("name")
    invoke.add_argument("--request-file", required=True, help="JSON body ({\"input_data\": ...} or MLflow's formats)")
    invoke.add_argument("--deployment", help="pin the request to one deployment (azureml-model-deployment)")
    invoke.add_argument("--json", action="store_true")
    invoke.set_defaults(handler=_invoke)
    traffic = ep.add_parser("traffic", help="set the live split: blue=90 green=10")
    traffic.add_argument("name")
    traffic.add_argument("split", nargs="+", metavar="DEPLOYMENT=PERCENT")
    add_no_wait(traffic)
    traffic.set_defaults(handler=_traffic)
    mirror = ep.add_parser("mirror", help="mirror a share of live traffic to a deployment at 0 %%: green=10 (green=0 turns it off)")
    mirror.add_argument("name")
    mirror.add_argument("split", nargs="*", metavar="DEPLOYMENT=PERCENT")
    add_no_wait(mirror)
    mirror.set_defaults(handler=_mirror)
    rollback = ep.add_parser("rollback", help="all traffic back to the stable deployment (the last at 100 %% before this rollout), mirror off")
    rollback.add_argument("name")
    add_no_wait(rollback)
    rollback.set_defaults(handler=_rollback)
    metrics = ep.add_parser("metrics", help="per deployment: rps, success rate, latency percentiles")
    metrics.add_argument("name")
    metrics.add_argument("--window", type=int, default=60, choices=(60, 300))
    metrics.add_argument("--json", action="store_true")
    metrics.set_defaults(handler=_metrics)
    load = ep.add_parser("load", help="send churn rows at a steady rate and summarise the answers")
    load.add_argument("name")
    load.add_argument("--rps", type=positive_float, default=20)
    load.add_argument("--duration", type=positive_float, default=60, help="seconds")
    load.add_argument("--drift", type=share, default=0.0, help="shift the rows' distributions (0 to 1)")
    load.add_argument("--deployment", help="pin every request to one deployment")
    load.add_argument("--seed", type=int, default=7)
    load.add_argument("--json", action="store_true")
    load.set_defaults(handler=_load)
    delete = ep.add_parser("delete", help="delete an endpoint and all its deployments")
    delete.add_argument("name")
    delete.add_argument("--yes", action="store_true", help="do not ask")
    add_no_wait(delete)
    delete.set_defaults(handler=_delete)

    deployment = sub.add_parser("deployment", help="online deployments: list, show, logs, delete")
    dep = deployment.add_subparsers(dest="deployment_command", metavar="ACTION", required=True)
    listing = dep.add_parser("list", help="deployments of an endpoint")
    listing.add_argument("endpoint")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=_deployment_list)
    show = dep.add_parser("show", help="one deployment")
    show.add_argument("endpoint")
    show.add_argument("name")
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=_deployment_show)
    logs = dep.add_parser("logs", help="the instances' logs")
    logs.add_argument("endpoint")
    logs.add_argument("name")
    logs.add_argument("--lines", type=positive_int, default=100)
    logs.set_defaults(handler=_deployment_logs)
    delete = dep.add_parser("delete", help="delete a deployment that has no traffic")
    delete.add_argument("endpoint")
    delete.add_argument("name")
    delete.add_argument("--yes", action="store_true", help="do not ask")
    add_no_wait(delete)
    delete.set_defaults(handler=_deployment_delete)


def _writable(args: argparse.Namespace, action: str):
    """The selected workspace, for a command that changes what it runs; ReadOnlyError at once
    when it is read-only (before a question is asked or a request sent)."""
    from console.workspace import refuse_if_read_only

    ws = workspace(args)
    refuse_if_read_only(ws, action)
    return ws


def _split_text(split: dict[str, int]) -> str:
    return " ".join(f"{k}={v}" for k, v in split.items() if v) or "none"


def _list(args: argparse.Namespace) -> int:
    endpoints = workspace(args).endpoints.list()
    if args.json:
        emit_json(endpoints)
        return 0
    rows = [(e, d) for e in endpoints for d in (e.deployments or (None,))]
    table(rows, [("ENDPOINT", lambda r: r[0].name), ("STATE", lambda r: _state(r[0])),
                 ("DEPLOYMENT", lambda r: r[1].name if r[1] else "-"),
                 ("TRAFFIC", lambda r: f"{r[0].traffic.live.get(r[1].name, 0)} %" if r[1] else "-"),
                 ("MIRROR", lambda r: f"{r[0].traffic.mirror.get(r[1].name, 0)} %" if r[1] else "-"),
                 ("MODEL", lambda r: r[1].model if r[1] else "-"),
                 ("READY", lambda r: f"{r[1].ready_instances}/{r[1].instance_count}" if r[1] else "-"),
                 ("DEPLOYMENT STATE", lambda r: r[1].provisioning_state if r[1] else "-"),
                 ("$/HOUR", lambda r: money(r[1].cost_per_hour) if r[1] else "-"),
                 ("$ TODAY", lambda r: money(r[1].cost_today) if r[1] else "-"),
                 ("SCORING URI", lambda r: r[0].scoring_uri)],
          empty="no endpoints: amlops create -f specs/endpoints/churn-ep.yml")
    return 0


def _state(endpoint: Endpoint) -> str:
    """The provisioning state, and why the scoring URI is not served when it is not."""
    if endpoint.healthy is False:
        return f"{endpoint.provisioning_state}, unhealthy: {endpoint.unhealthy_reason or 'not served'}"
    return endpoint.provisioning_state


def _show(args: argparse.Namespace) -> int:
    endpoint = workspace(args).endpoints.get(args.name)
    if args.json:
        emit_json(endpoint)
        return 0
    details([("name", endpoint.name), ("state", _state(endpoint)), ("auth mode", endpoint.auth_mode),
             ("scoring uri", endpoint.scoring_uri), ("traffic", _split_text(dict(endpoint.traffic.live))),
             ("mirror", _split_text(dict(endpoint.traffic.mirror))),
             ("cost", f"${money(endpoint.cost_per_hour)}/hour, ${money(endpoint.cost_today)} today "
                      "(every instance of every deployment, traffic or not)")])
    if endpoint.deployments:
        print()
        _print_deployments(endpoint)
    return 0


def _print_deployments(endpoint) -> None:
    table(endpoint.deployments, [
        ("DEPLOYMENT", lambda d: d.name), ("MODEL", lambda d: d.model), ("STATE", lambda d: d.provisioning_state),
        ("TRAFFIC", lambda d: f"{endpoint.traffic.live.get(d.name, 0)} %"),
        ("MIRROR", lambda d: f"{endpoint.traffic.mirror.get(d.name, 0)} %"),
        ("READY", lambda d: f"{d.ready_instances}/{d.instance_count}"), ("SIZE", lambda d: d.instance_type),
        ("$/HOUR", lambda d: money(d.cost_per_hour)), ("$ TODAY", lambda d: money(d.cost_today)),
        ("TIMEOUT MS", lambda d: d.request_timeout_ms), ("COLLECTS", lambda d: ",".join(d.data_collection) or "-")])



def _keys(args: argparse.Namespace) -> int:
    ws = workspace(args)
    if args.regenerate:
        ws.endpoints.regenerate_keys(args.name, args.regenerate)
        print(f"regenerated the {args.regenerate} key of {args.name}", file=sys.stderr)
    keys = ws.endpoints.keys(args.name)
    if args.json:
        emit_json(keys)
    else:
        details([("primary", keys.primary), ("secondary", keys.secondary)])
    return 0


def _invoke(args: argparse.Namespace) -> int:
    from console.errors import InvalidField

    path = Path(args.request_file)
    if not path.is_file():
        raise InvalidField("--request-file", f"{path} does not exist")
    result = workspace(args).endpoints.invoke(args.name, path.read_bytes(), deployment=args.deployment)
    if args.json:
        emit_json(result)
    else:
        print(result.body)
        print(f"{result.status_code} from {result.deployment or '-'} in {result.latency_ms:.1f} ms", file=sys.stderr)
    return invoke_exit_code(result)


MODEL_ERROR_HEADER = "ms-azureml-model-error-statuscode"  # Azure's 424: the model's own status
_NOT_THE_REQUEST = (408, 429)  # the deployment timed out or is over capacity: the same request may pass later


def invoke_exit_code(result) -> int:
    """0 for an answer; 2 when the request was wrong (a 4xx: malformed JSON, an unknown
    deployment, a body over 1.5 MB, or a 424 whose model answered 4xx); 1 when the deployment
    failed (5xx, 408, 429, or a 424 whose model answered 5xx or did not answer)."""
    status = result.status_code
    if 200 <= status < 300:
        return 0
    if status == 424:
        try:
            status = int(result.headers.get(MODEL_ERROR_HEADER, ""))
        except ValueError:
            return 1  # no model status: no deployment could take it (0 % traffic everywhere)
    return 2 if 400 <= status < 500 and status not in _NOT_THE_REQUEST else 1


def _traffic(args: argparse.Namespace) -> int:
    from console.rollout import parse_split

    ws = workspace(args)
    split = parse_split(args.split)
    op = settled(ws, ws.endpoints.set_traffic(args.name, split), args.no_wait)
    print(f"{args.name}: traffic {_split_text(dict(ws.endpoints.get(args.name).traffic.live))} ({op.status})")
    return _exit(op)


def _mirror(args: argparse.Namespace) -> int:
    from console.rollout import parse_split

    ws = workspace(args)
    op = settled(ws, ws.endpoints.set_mirror(args.name, parse_split(args.split)), args.no_wait)
    print(f"{args.name}: mirror {_split_text(dict(ws.endpoints.get(args.name).traffic.mirror))} ({op.status})")
    return _exit(op)


def _rollback(args: argparse.Namespace) -> int:
    ws = workspace(args)
    op = settled(ws, ws.endpoints.rollback(args.name), args.no_wait)
    endpoint = ws.endpoints.get(args.name)
    print(f"{args.name}: rolled back, traffic {_split_text(dict(endpoint.traffic.live))}, mirror off ({op.status})")
    return _exit(op)


def _exit(op) -> int:
    """0 once the change took (or is under way with --no-wait); 1 when it failed or timed out."""
    if op.error:
        print(f"amlops: error: {op.kind} of {op.target} {op.status}: {op.error}", file=sys.stderr)
    return 0 if op.status in ("Succeeded", "InProgress") else 1


def _metrics(args: argparse.Namespace) -> int:
    metrics = workspace(args).endpoints.metrics(args.name, window_s=args.window)
    if args.json:
        emit_json(metrics)
        return 0
    table(metrics, [("DEPLOYMENT", lambda m: m.deployment), ("REQUESTS", lambda m: m.requests),
                    ("RPS", lambda m: m.rps),
                    ("SUCCESS", lambda m: f"{m.success_rate * 100:.1f} %" if m.success_rate is not None else "-"),
                    ("P50 MS", lambda m: m.p50_ms), ("P95 MS", lambda m: m.p95_ms), ("P99 MS", lambda m: m.p99_ms)],
          empty="no deployments")
    return 0


def _load(args: argparse.Namespace) -> int:
    from console.errors import BackendUnavailable
    from console.loadgen import churn_payloads, run_load

    ws = _writable(args, "endpoint load")  # sustained traffic: what the endpoint serves, collects and bills
    endpoint = ws.endpoints.get(args.name)
    if not endpoint.scoring_uri:
        raise BackendUnavailable(f"endpoint '{args.name}' has no scoring URI")
    key = ws.endpoints.keys(args.name).primary
    payloads = churn_payloads(min(max(int(args.rps * args.duration), 1), 5000), drift=args.drift, seed=args.seed)
    print(f"sending {args.rps:g} rps for {args.duration:g} s to {endpoint.scoring_uri}"
          + (f" (drift {args.drift:g})" if args.drift else "")
          + (f", pinned to {args.deployment}" if args.deployment else ""), file=sys.stderr)
    summary = run_load(endpoint.scoring_uri, key, payloads, rps=args.rps, duration_s=args.duration,
                       deployment=args.deployment)
    result = summary.to_dict()
    if args.json:
        emit_json(result)
    else:
        details([("requests", f"{result['sent']} in {result['seconds']} s ({result['rps']} rps)"),
                 ("statuses", " ".join(f"{k}: {v}" for k, v in result["statuses"].items()) or "-"),
                 ("by deployment", " ".join(f"{k}: {v}" for k, v in result["by_deployment"].items()) or "-"),
                 ("errors", " ".join(f"{k}: {v}" for k, v in result["errors"].items()) or "none"),
                 ("latency ms", f"p50 {_ms(result['p50_ms'])}  p95 {_ms(result['p95_ms'])}  p99 {_ms(result['p99_ms'])}")])
    return 0 if summary.failures == 0 else 1


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _delete(args: argparse.Namespace) -> int:
    ws = _writable(args, "endpoint delete")
    if not confirm(f"delete endpoint {args.name} and all its deployments?", args):
        return 1
    op = settled(ws, ws.endpoints.delete(args.name), args.no_wait)
    print(f"{'deleted' if op.status == 'Succeeded' else 'deleting'} {args.name} ({op.status})")
    return _exit(op)


def _deployment_list(args: argparse.Namespace) -> int:
    endpoint = workspace(args).endpoints.get(args.endpoint)
    if args.json:
        emit_json(list(endpoint.deployments))
    else:
        _print_deployments(endpoint)
    return 0


def _deployment_show(args: argparse.Namespace) -> int:
    from console.errors import NotFound

    endpoint = workspace(args).endpoints.get(args.endpoint)
    found = next((d for d in endpoint.deployments if d.name == args.name), None)
    if found is None:
        raise NotFound("deployment", f"{args.endpoint}/{args.name}")
    if args.json:
        emit_json(found)
        return 0
    details([("name", found.name), ("endpoint", found.endpoint_name), ("model", found.model),
             ("state", found.provisioning_state), ("traffic", f"{endpoint.traffic.live.get(found.name, 0)} %"),
             ("mirror", f"{endpoint.traffic.mirror.get(found.name, 0)} %"),
             ("instances", f"{found.ready_instances} ready of {found.instance_count} x {found.instance_type}"),
             ("request timeout", f"{found.request_timeout_ms} ms"),
             ("max concurrent", f"{found.max_concurrent_requests_per_instance} per instance"),
             ("data collection", ", ".join(found.data_collection) or "off")])
    return 0


def _deployment_logs(args: argparse.Namespace) -> int:
    print(workspace(args).endpoints.deployment_logs(args.endpoint, args.name, lines=args.lines))
    return 0


def _deployment_delete(args: argparse.Namespace) -> int:
    ws = _writable(args, "deployment delete")
    if not confirm(f"delete deployment {args.endpoint}/{args.name}?", args):
        return 1
    op = settled(ws, ws.endpoints.delete_deployment(args.endpoint, args.name), args.no_wait)
    print(f"{'deleted' if op.status == 'Succeeded' else 'deleting'} {args.endpoint}/{args.name} ({op.status})")
    return _exit(op)
