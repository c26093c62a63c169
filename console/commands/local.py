"""The local workspace's subcommands: `local`, `create`, `data`, `environment`, `job`,
`compute`, `quota`, `model` and `audit`, each a thin layer over the Workspace protocol.

Heavy libraries stay out: the daemon loads specs and talks to MLflow, the CLI only talks to it.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timezone
from typing import Any

from console.commands.argtypes import positive_int
from console.commands.output import details, emit_json, table
from console.format import ago, money, span, span_minutes


def workspace(args: argparse.Namespace):
    """The workspace the user selected: `--workspace`, else the config file's `workspace`, else local."""
    from console.config import user_config, workspace_dir
    from console.local.client import LocalWorkspace

    backend = getattr(args, "backend", None) or str(user_config().get("workspace", "local"))
    if backend == "azure":
        from console.errors import BackendUnavailable

        raise BackendUnavailable("the azure workspace's backend (MLClient with DefaultAzureCredential) is not "
                                 "built yet: nothing can be read from Azure; use the local workspace")
    if backend != "local":
        from console.errors import InvalidField

        raise InvalidField("workspace", f"{backend!r} in the config file: use local or azure")
    return LocalWorkspace(workspace_dir(args.workspace_dir), read_only=args.read_only)


def _overrides(pairs: list[str] | None) -> dict[str, Any]:
    from console.specs import parse_overrides

    return parse_overrides(pairs or [])


def register(sub: argparse._SubParsersAction) -> None:
    local = sub.add_parser("local", help="the local workspace's daemon: up, down, status")
    local_sub = local.add_subparsers(dest="local_command", metavar="ACTION", required=True)
    local_sub.add_parser("up", help="start the daemon (the console and CLI also start it on demand)").set_defaults(handler=_local_up)
    down = local_sub.add_parser("down", help="stop the daemon and the demo load; jobs and endpoints keep running "
                                             "(--all stops them too)")
    down.add_argument("--all", action="store_true",
                      help="also cancel every job and stop every router and scoring server: nothing of the "
                           "workspace keeps running (endpoints stay defined and serve again on the next start)")
    down.set_defaults(handler=_local_down)
    status = local_sub.add_parser("status", help="is the daemon running, and where")
    status.add_argument("--json", action="store_true")
    status.set_defaults(handler=_local_status)

    create = sub.add_parser("create", help="create compute, data, an environment, an endpoint or a deployment from its YAML, like az ml X create -f")
    create.add_argument("-f", "--file", required=True, metavar="FILE")
    create.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a field (repeatable)")
    create.add_argument("--endpoint-name", metavar="NAME",
                        help="the endpoint of a deployment whose file has no endpoint_name (as az ml's)")
    create.add_argument("--no-wait", action="store_true", help="return before a deployment is ready")
    create.add_argument("--json", action="store_true")
    create.set_defaults(handler=_create)

    for kind, help_text in (("data", "data assets"), ("environment", "environments")):
        parser = sub.add_parser(kind, help=f"{help_text} and their versions")
        kind_sub = parser.add_subparsers(dest=f"{kind}_command", metavar="ACTION", required=True)
        listing = kind_sub.add_parser("list", help=f"list {help_text}")
        listing.add_argument("--json", action="store_true")
        listing.set_defaults(handler=_asset_list, kind=kind)

    job = sub.add_parser("job", help="submit, watch and cancel jobs")
    job_sub = job.add_subparsers(dest="job_command", metavar="ACTION", required=True)
    submit = job_sub.add_parser("submit", help="submit a command or pipeline job YAML")
    submit.add_argument("file", metavar="FILE")
    submit.add_argument("--set", action="append", metavar="KEY=VALUE", help="e.g. inputs.reg_rate=0.1 (repeatable)")
    submit.add_argument("--wait", action="store_true", help="stream the log and wait for the final status")
    submit.add_argument("--json", action="store_true")
    submit.set_defaults(handler=_job_submit)
    listing = job_sub.add_parser("list", help="jobs, newest first")
    listing.add_argument("--parent", help="only the steps of this pipeline job")
    listing.add_argument("--limit", type=positive_int, help="at most this many jobs")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=_job_list)
    show = job_sub.add_parser("show", help="one job")
    show.add_argument("name")
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=_job_show)
    logs = job_sub.add_parser("logs", help="a job's stdout and stderr")
    logs.add_argument("name")
    logs.add_argument("-f", "--follow", action="store_true", help="keep streaming until the job ends")
    logs.set_defaults(handler=_job_logs)
    metrics = job_sub.add_parser("metrics", help="the metrics of a job's MLflow run: last value, steps, min, max")
    metrics.add_argument("name")
    metrics.add_argument("--json", action="store_true", help="every metric with its full history")
    metrics.set_defaults(handler=_job_metrics)
    cancel = job_sub.add_parser("cancel", help="cancel a job (its whole process group)")
    cancel.add_argument("name")
    cancel.set_defaults(handler=_job_cancel)

    compute = sub.add_parser("compute", help="clusters and instances: list, show, start, stop, sizes")
    compute_sub = compute.add_subparsers(dest="compute_command", metavar="ACTION", required=True)
    listing = compute_sub.add_parser("list", help="clusters and instances")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=_compute_list)
    show = compute_sub.add_parser("show", help="one compute")
    show.add_argument("name")
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=_compute_show)
    for verb in ("start", "stop"):
        action = compute_sub.add_parser(verb, help=f"{verb} a compute instance")
        action.add_argument("name")
        action.add_argument("--no-wait", action="store_true")
        action.set_defaults(handler=_compute_start_stop, verb=verb)
    sizes = compute_sub.add_parser("sizes", help="the VM size catalog with quota family and price")
    sizes.add_argument("--json", action="store_true")
    sizes.set_defaults(handler=_compute_sizes)

    quota = sub.add_parser("quota", help="vCPU quota per VM family")
    quota_sub = quota.add_subparsers(dest="quota_command", metavar="ACTION", required=True)
    listing = quota_sub.add_parser("list", help="used against limit per VM family")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=_quota_list)

    model = sub.add_parser("model", help="registered models")
    model_sub = model.add_subparsers(dest="model_command", metavar="ACTION", required=True)
    reg = model_sub.add_parser("register", help="register a Completed job's MLflow model, or a local MLflow model folder")
    reg.add_argument("--name", required=True)
    src = reg.add_mutually_exclusive_group(required=True)
    src.add_argument("--job", help="a Completed job whose run logged an MLflow model at 'model'")
    src.add_argument("--path", help="a local MLflow model folder (with an MLmodel file)")
    reg.add_argument("--description")
    reg.add_argument("--json", action="store_true")
    reg.set_defaults(handler=_model_register)
    listing = model_sub.add_parser("list", help="model versions, newest first")
    listing.add_argument("--name")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=_model_list)

    audit = sub.add_parser("audit", help="the append-only audit log, newest first")
    audit.add_argument("--limit", type=positive_int, default=50, help="at most this many entries (default 50)")
    audit.add_argument("--json", action="store_true")
    audit.set_defaults(handler=_audit)


# --- local ---------------------------------------------------------------------------------------


def _local_up(args: argparse.Namespace) -> int:
    from console.local.client import daemon_pid, start_daemon

    ws = workspace(args)
    pid = daemon_pid(ws.folder)
    if pid:
        print(f"already running: pid {pid}, {ws.folder.root}")
        return 0
    print(f"started: pid {start_daemon(ws.folder)}, {ws.folder.root}")
    return 0


def _local_down(args: argparse.Namespace) -> int:
    from console.demo import stop_load
    from console.local.client import DaemonConnection, daemon_pid, stop_all, stop_daemon

    ws = workspace(args)
    if args.all and ws.read_only:
        from console.errors import ReadOnlyError

        raise ReadOnlyError("local down --all")
    load = stop_load(ws.folder)
    if load:
        print(f"stopped the demo load (pid {load})")
    left: list[dict] = []
    if not args.all and daemon_pid(ws.folder):
        from console.errors import BadInput

        try:
            left = DaemonConnection(ws.folder, autostart=False).call("daemon.processes")
        except BadInput:  # a daemon from before `daemon.processes` existed: it cannot list them
            left = []
    print("stopped the daemon" if stop_daemon(ws.folder) else "the daemon was not running", ws.folder.root)
    if args.all:
        result = stop_all(ws.folder)
        for what in _by_name(result["stopped"]):
            print(f"stopped {what}")
        if result["left"]:
            from console.errors import OperationFailed

            raise OperationFailed("still running: " + "; ".join(_by_name(result["left"])))
        print("nothing of the workspace runs now; endpoints serve again on the next start (amlops local up)")
    elif left:
        print("left running (by design they outlive the daemon):")
        for what in _by_name(left):
            print(f"  {what}")
        print("amlops local down --all stops them too (it cancels the jobs)")
    return 0


def _by_name(processes: list[dict]) -> list[str]:
    """`router churn-ep (pid 12)`, `2 instances of churn-ep/blue (pids 13, 14)`: one line per name."""
    grouped: dict[tuple[str, str], list[int]] = {}
    for proc in processes:
        grouped.setdefault((proc["kind"], proc["name"]), []).append(proc["pid"])
    lines = []
    for (kind, name), pids in grouped.items():
        if kind == "instance":
            count = f"{len(pids)} scoring instance{'s' if len(pids) > 1 else ''} of {name}"
            lines.append(f"{count} (pid{'s' if len(pids) > 1 else ''} {', '.join(map(str, pids))})")
        else:
            lines.append(f"{kind} {name} (pid {', '.join(map(str, pids))})")
    return lines


def _local_status(args: argparse.Namespace) -> int:
    from console.errors import BackendUnavailable
    from console.local.client import DaemonConnection

    ws = workspace(args)
    try:
        status = DaemonConnection(ws.folder, autostart=False).call("daemon.status")
    except BackendUnavailable:
        status = None
    if args.json:
        emit_json({"running": status is not None, "workspace": str(ws.folder.root), **(status or {})})
    elif status:
        print(f"running: pid {status['pid']}, up {span(status['uptime_s'])}, "
              f"{status['jobs_running']} jobs running, {status['rss_kb'] // 1024} MiB, {ws.folder.root}")
        for what in _by_name(status.get("processes") or []):
            print(f"  {what}")
    else:
        print(f"not running: {ws.folder.root}")
    return 0 if status else 1


# --- assets --------------------------------------------------------------------------------------


def _create(args: argparse.Namespace) -> int:
    ws = workspace(args)
    created = ws.assets.create(args.file, _overrides(args.set), endpoint_name=args.endpoint_name)
    if created.get("kind") == "online_deployment" and not args.no_wait:
        op = created["operation"]
        print(f"creating deployment {created['endpoint_name']}/{created['name']} (waiting until its "
              "instances are ready; --no-wait to return at once)", file=sys.stderr, flush=True)
        created["operation"] = ws.operations.wait(op["id"], timeout_s=600).to_dict()
    if args.json:
        emit_json(created)
    elif created.get("kind") == "online_endpoint":
        print(f"endpoint {created['name']}: {created['provisioning_state']}, scoring uri {created['scoring_uri']}")
    elif created.get("kind") == "online_deployment":
        op = created["operation"]
        print(f"deployment {created['endpoint_name']}/{created['name']}: {op['status']}"
              + (f" ({op['error']})" if op.get("error") else "") + " at 0 % traffic")
        return 0 if op["status"] in ("Succeeded", "InProgress") else 1
    elif created.get("kind") == "schedule":
        print(f"monitor {created['name']}: watches {created['endpoint_name']}/{created['deployment']}, "
              f"runs {created['trigger']}")
    elif created.get("kind") == "compute":
        print(f"compute {created['name']}: {created['type']} {created['size']}, {created['state']}")
    else:
        print(f"{created['kind']} {created['name']}:{created['version']}"
              + (f" -> {created['path']}" if created.get("path") else "")
              + (f"\n  note: {created['note']}" if created.get("note") else ""))
    return 0


def _asset_list(args: argparse.Namespace) -> int:
    rows = workspace(args).assets.list(args.kind)
    if args.json:
        emit_json(rows)
        return 0
    columns = [("NAME", lambda r: r["name"]), ("VERSION", lambda r: r["version"]),
               ("CREATED", lambda r: _ts(r["created_at"]))]
    columns.append(("PATH", lambda r: r["path"]) if args.kind == "data"
                   else ("IMAGE", lambda r: r["spec"].get("image") or "-"))
    table(rows, columns, empty=f"no {args.kind} assets")
    return 0


# --- jobs ----------------------------------------------------------------------------------------

_JOB_COLUMNS = [
    ("NAME", lambda j: j.name), ("TYPE", lambda j: j.job_type), ("STATUS", lambda j: j.status),
    ("EXPERIMENT", lambda j: j.experiment_name), ("COMPUTE", lambda j: j.compute or "serverless"),
    ("CREATED", lambda j: j.created_at), ("DURATION", lambda j: span(j.duration_s(datetime.now(timezone.utc)))),
]


def _job_submit(args: argparse.Namespace) -> int:
    ws = workspace(args)
    job = ws.jobs.submit(args.file, _overrides(args.set))
    if not args.wait:
        if args.json:
            emit_json(job)
        else:
            print(f"submitted {job.name} ({job.job_type}, {job.status}) to {job.compute or 'serverless'}")
        return 0
    print(f"submitted {job.name}; streaming its log (ctrl-c stops watching, not the job)", file=sys.stderr)
    for line in ws.jobs.logs(job.name, follow=True):
        sys.stdout.write(line)
        sys.stdout.flush()
    job = ws.jobs.get(job.name)
    print(f"{job.name}: {job.status}" + (f" ({job.error})" if job.error else ""), file=sys.stderr)
    return 0 if job.status == "Completed" else 1


def _job_list(args: argparse.Namespace) -> int:
    if args.json:
        sys.stdout.buffer.write(workspace(args).jobs.export(parent=args.parent, limit=args.limit) + b"\n")
    else:
        table(workspace(args).jobs.list(parent=args.parent, limit=args.limit), _JOB_COLUMNS, empty="no jobs")
    return 0


def _job_show(args: argparse.Namespace) -> int:
    ws = workspace(args)
    job = ws.jobs.get(args.name)
    steps = ws.jobs.list(parent=job.name) if job.job_type == "pipeline" else []
    if args.json:
        emit_json({**job.to_dict(), "steps": [s.to_dict() for s in steps]} if steps else job)
        return 0
    details([("name", job.name), ("type", job.job_type), ("status", job.status), ("display name", job.display_name),
             ("experiment", job.experiment_name), ("compute", job.compute or "serverless"),
             ("created", _iso(job.created_at)), ("started", _iso(job.started_at)), ("ended", _iso(job.ended_at)),
             ("duration", span(job.duration_s(datetime.now(timezone.utc)))),
             ("mlflow run", job.mlflow_run_id), ("parent", job.parent), ("error", job.error)])
    if steps:
        print("\nsteps:")
        table(steps, _JOB_COLUMNS)
    return 0


def _job_logs(args: argparse.Namespace) -> int:
    for line in workspace(args).jobs.logs(args.name, follow=args.follow):
        sys.stdout.write(line)
        sys.stdout.flush()
    return 0


def _job_metrics(args: argparse.Namespace) -> int:
    series = workspace(args).jobs.metrics(args.name)
    if args.json:
        emit_json(series)
        return 0
    table(series, [("METRIC", lambda s: s.key), ("LAST", lambda s: f"{s.values[-1]:.6g}" if s.values else None),
                   ("STEPS", lambda s: len(s.steps)), ("MIN", lambda s: f"{min(s.values):.6g}" if s.values else None),
                   ("MAX", lambda s: f"{max(s.values):.6g}" if s.values else None)],
          empty=f"{args.name} has no MLflow metrics yet")
    return 0


def _job_cancel(args: argparse.Namespace) -> int:
    op = workspace(args).jobs.cancel(args.name)
    print(f"cancel requested for {args.name} (operation {op.id}: {op.status})")
    return 0


# --- compute and quota ---------------------------------------------------------------------------


def _compute_list(args: argparse.Namespace) -> int:
    ws = workspace(args)
    computes = ws.compute.list()
    if args.json:
        emit_json(computes)
        return 0
    from console import costs

    spent = {row["compute"]: row for row in ws.compute.costs_today()}
    now = datetime.now(timezone.utc)
    table(computes, [
        ("NAME", lambda c: c.name), ("TYPE", lambda c: c.type), ("SIZE", lambda c: c.size),
        ("STATE", lambda c: c.state),
        ("NODES", lambda c: f"{c.current_nodes}/{c.max_instances}" if not c.is_instance else "-"),
        ("IDLE", lambda c: span_minutes(c.idle_minutes(now))),
        ("$/HOUR", lambda c: money(costs.hourly_cost(c.size, 1 if c.is_instance else c.current_nodes)
                                    if c.state in ("Running", "JobRunning", "Steady") else 0.0)),
        ("$ TODAY", lambda c: money(spent.get(c.name, {}).get("cost", 0.0))),
        ("$ IDLE TODAY", lambda c: money(spent.get(c.name, {}).get("idle_cost", 0.0))),
        ("LAST OPERATION", lambda c: f"{c.last_operation.name} by {c.last_operation.trigger}" if c.last_operation else "-"),
    ], empty="no compute: amlops create -f specs/compute/cpu-cluster.yml")
    _print_running_total(computes, spent, ws.endpoints.list())
    return 0


def _print_running_total(computes, spent: dict[str, dict], endpoints) -> None:
    """What runs now, compute and online deployments together: the deployments' instances bill
    around the clock too, and a cost review that leaves them out is not whole."""
    from console import costs

    compute_hour = sum(costs.hourly_cost(c.size, c.current_nodes if not c.is_instance else
                                         int(c.state in costs.BILLED_INSTANCE_STATES)) or 0.0 for c in computes)
    online_hour = sum(e.cost_per_hour or 0.0 for e in endpoints)
    compute_today = sum(float(row.get("cost") or 0.0) for row in spent.values())
    online_today = sum(e.cost_today or 0.0 for e in endpoints)
    print(f"running now: ${compute_hour + online_hour:.2f}/hour (compute ${compute_hour:.2f}, online deployments "
          f"${online_hour:.2f}); today ${compute_today + online_today:.2f} (compute ${compute_today:.2f}, "
          f"online deployments ${online_today:.2f})", file=sys.stderr)


def _compute_show(args: argparse.Namespace) -> int:
    compute = workspace(args).compute.get(args.name)
    if args.json:
        emit_json(compute)
        return 0
    op = compute.last_operation
    details([("name", compute.name), ("type", compute.type), ("size", compute.size), ("state", compute.state),
             ("nodes", f"{compute.current_nodes} (min {compute.min_instances}, max {compute.max_instances})"),
             ("idle scale-down", f"{compute.idle_time_before_scale_down_s} s" if compute.idle_time_before_scale_down_s else None),
             ("idle shutdown", f"{compute.idle_time_before_shutdown_minutes} min" if compute.idle_time_before_shutdown_minutes else None),
             ("last activity", _iso(compute.last_activity)),
             ("last operation", f"{op.name} ({op.trigger}, {op.status}, {_iso(op.time)})" if op else None)])
    return 0


def _compute_start_stop(args: argparse.Namespace) -> int:
    ws = workspace(args)
    op = ws.compute.start(args.name) if args.verb == "start" else ws.compute.stop(args.name)
    if not args.no_wait and not op.done:
        op = ws.operations.wait(op.id, timeout_s=60)
    print(f"{args.verb} {args.name}: {op.status}" + (f" ({op.error})" if op.error else ""))
    return 0 if op.status in ("Succeeded", "InProgress") else 1


def _compute_sizes(args: argparse.Namespace) -> int:
    sizes = workspace(args).compute.sizes()
    if args.json:
        emit_json(sizes)
        return 0
    table(sizes, [("NAME", lambda s: s.name), ("FAMILY", lambda s: s.family), ("VCPUS", lambda s: s.vcpus),
                  ("GPUS", lambda s: s.gpus), ("MEMORY GB", lambda s: s.memory_gb),
                  ("$/HOUR", lambda s: money(s.price_per_hour)), ("PRICE DATE", lambda s: s.price_date)])
    return 0


def _quota_list(args: argparse.Namespace) -> int:
    usage = workspace(args).quotas.usage()
    if args.json:
        emit_json(usage)
        return 0
    table(usage, [("FAMILY", lambda q: q.family), ("USED", lambda q: q.used), ("LIMIT", lambda q: q.limit),
                  ("FREE", lambda q: q.free),
                  ("", lambda q: "no quota: request an increase" if q.limit == 0 else
                   ("near limit" if q.ratio >= 0.8 else ""))])
    return 0


# --- models and audit ----------------------------------------------------------------------------


def _model_register(args: argparse.Namespace) -> int:
    model = workspace(args).models.register(args.name, job=args.job, path=args.path, description=args.description)
    if args.json:
        emit_json(model)
    else:
        print(f"registered {model.name}:{model.version} from {model.job or model.path}")
    return 0


def _model_list(args: argparse.Namespace) -> int:
    models = workspace(args).models.list(args.name)
    if args.json:
        emit_json(models)
        return 0
    table(models, [("NAME", lambda m: m.name), ("VERSION", lambda m: m.version), ("JOB", lambda m: m.job),
                   ("CREATED", lambda m: m.created_at), ("SOURCE", lambda m: m.path)], empty="no registered models")
    return 0


def _audit(args: argparse.Namespace) -> int:
    entries = workspace(args).audit.list(limit=args.limit)
    if args.json:
        emit_json(entries)
        return 0
    table(entries, [("TIME", lambda a: _iso(a.time)), ("ACTOR", lambda a: a.actor), ("OPERATION", lambda a: a.operation),
                    ("TARGET", lambda a: a.target), ("RESULT", lambda a: a.result), ("DETAIL", lambda a: a.detail)],
          empty="the audit log is empty")
    return 0


# --- formatting helpers --------------------------------------------------------------------------


def _iso(when: datetime | None) -> str | None:
    return when.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC") if when else None


def _ts(text: str | None) -> str:
    return ago(datetime.fromisoformat(text)) if text else "-"



