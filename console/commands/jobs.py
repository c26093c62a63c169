"""`amlops job ...`: submit, list, show, logs, metrics and cancel jobs, on any workspace."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timezone

from console.commands.argtypes import positive_int
from console.commands.output import add_no_wait, details, emit_json, settled, table
from console.commands.selection import overrides, workspace
from console.format import span, utc_time


_JOB_COLUMNS =  [
    ("NAME", lambda j: j.name), ("TYPE", lambda j: j.job_type), ("STATUS", lambda j: j.status),
    ("EXPERIMENT", lambda j: j.experiment_name), ("COMPUTE", lambda j: j.compute or "serverless"),
    ("CREATED", lambda j: j.created_at), ("DURATION", lambda j: span(j.duration_s(datetime.now(timezone.utc)))),
]


def register(sub: argparse._SubParsersAction) -> None:
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
    listing.add_argument("-q", "--quiet", action="store_true",
                         help="only the names, one a line (as `docker ps -q`): `job=$(amlops job list -q --limit 1)`")
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
    add_no_wait(cancel)
    cancel.set_defaults(handler=_job_cancel)


def _job_submit(args: argparse.Namespace) -> int:
    given = overrides(args.set)
    ws = workspace(args)  # specs.load in the backend refuses a bad name or --set input, with file:line
    job = ws.jobs.submit(args.file, given)
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
    elif args.quiet:
        sys.stdout.write("".join(f"{j.name}\n" for j in workspace(args).jobs.list(parent=args.parent, limit=args.limit)))
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
             ("created", utc_time(job.created_at)), ("started", utc_time(job.started_at)), ("ended", utc_time(job.ended_at)),
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
    ws = workspace(args)
    op = settled(ws, ws.jobs.cancel(args.name), args.no_wait, timeout_s=60)
    print(f"cancel requested for {args.name} (operation {op.id}: {op.status})" + (f": {op.error}" if op.error else ""))
    return 0 if op.status in ("Succeeded", "InProgress") else 1
