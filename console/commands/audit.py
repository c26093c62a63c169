"""`amlops audit` (the append-only audit log), `amlops operation list` (the long-running writes,
newest first: where a `--no-wait` write's id is found again) and `amlops operation show ID`."""

from __future__ import annotations

import argparse

from console.commands.argtypes import positive_float, positive_int
from console.commands.output import details, emit_json, table
from console.commands.selection import workspace
from console.format import utc_time



def register(sub: argparse._SubParsersAction) -> None:
    audit = sub.add_parser("audit", help="the append-only audit log, newest first")
    audit.add_argument("--limit", type=positive_int, default=50, help="at most this many entries (default 50)")
    audit.add_argument("--json", action="store_true")
    audit.set_defaults(handler=_audit)

    operation = sub.add_parser("operation", help="long-running operations: what a --no-wait write left running")
    op_sub = operation.add_subparsers(dest="operation_command", metavar="ACTION", required=True)
    listing = op_sub.add_parser("list", help="long-running writes, newest first: id, kind, target, status")
    listing.add_argument("--limit", type=positive_int, default=20, help="at most this many (default 20)")
    listing.add_argument("-q", "--quiet", action="store_true",
                         help="only the ids, one a line (as `docker ps -q`): `amlops operation show "
                              "\"$(amlops operation list -q --limit 1)\"`")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=_operation_list)
    show = op_sub.add_parser("show", help="one operation: its kind, target, status and error")
    show.add_argument("id")
    show.add_argument("--wait", type=positive_float, metavar="SECONDS", help="wait up to this long for it to end")
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=_operation_show)


def _audit(args: argparse.Namespace) -> int:
    entries = workspace(args).audit.list(limit=args.limit)
    if args.json:
        emit_json(entries)
        return 0
    table(entries, [("TIME", lambda a: utc_time(a.time)), ("ACTOR", lambda a: a.actor), ("OPERATION", lambda a: a.operation),
                    ("TARGET", lambda a: a.target), ("RESULT", lambda a: a.result), ("DETAIL", lambda a: a.detail)],
          empty="the audit log is empty")
    return 0


def _operation_list(args: argparse.Namespace) -> int:
    ws = workspace(args)
    ops = ws.operations.list(limit=args.limit)
    if args.json:
        emit_json(ops)
    elif args.quiet:
        for op in ops:
            print(op.id)
    else:
        table(ops, [("ID", lambda o: o.id), ("KIND", lambda o: o.kind), ("TARGET", lambda o: o.target),
                    ("STATUS", lambda o: o.status), ("STARTED", lambda o: o.started_at),
                    ("ENDED", lambda o: o.ended_at), ("ERROR", lambda o: o.error)],
              empty="no operations yet: every long-running write (traffic, deployments, compute start/stop, "
                    "monitor runs) records one")
    return 0


def _operation_show(args: argparse.Namespace) -> int:
    ws = workspace(args)
    op = ws.operations.wait(args.id, timeout_s=args.wait) if args.wait else ws.operations.get(args.id)
    if args.json:
        emit_json(op)
    else:
        details([("id", op.id), ("kind", op.kind), ("target", op.target), ("status", op.status),
                 ("started", utc_time(op.started_at)), ("ended", utc_time(op.ended_at)), ("error", op.error)])
    return 0 if op.status != "Failed" else 1
