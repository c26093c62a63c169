"""`amlops compute ...` and `amlops quota list`: clusters and instances, what they cost, and the
vCPU quota per VM family and the region's totals."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from console.commands.output import add_no_wait, details, emit_json, settled, table
from console.commands.selection import workspace
from console.format import money, span_minutes, usd, utc_time

if TYPE_CHECKING:
    from console.costs import Bill


def register(sub: argparse._SubParsersAction) -> None:
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
        add_no_wait(action)
        action.set_defaults(handler=_compute_start_stop, verb=verb)
    sizes = compute_sub.add_parser("sizes", help="the VM size catalog with quota family and price")
    sizes.add_argument("--json", action="store_true")
    sizes.set_defaults(handler=_compute_sizes)

    quota = sub.add_parser("quota", help="vCPU quota per VM family")
    quota_sub = quota.add_subparsers(dest="quota_command", metavar="ACTION", required=True)
    listing = quota_sub.add_parser("list", help="used against limit per VM family, and the region's totals")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=_quota_list)


def _compute_list(args: argparse.Namespace) -> int:
    ws = workspace(args)
    computes = ws.compute.list()
    if args.json:
        emit_json(computes)
        return 0
    from console import costs

    # Per-compute cost today is the local workspace's; Azure keeps it in Cost Management. A compute
    # the workspace reports nothing for today is "-", as in the console.
    spent = {row.compute: row for row in ws.compute.costs_today()} if "compute.costs" in ws.capabilities else None
    now = datetime.now(timezone.utc)

    def today(c, figure: str) -> float | None:
        row = (spent or {}).get(c.name)
        return getattr(row, figure) if row else None

    table(computes, [
        ("NAME", lambda c: c.name), ("TYPE", lambda c: c.type), ("SIZE", lambda c: c.size),
        ("STATE", lambda c: c.state),
        ("NODES", lambda c: f"{c.current_nodes}/{c.max_instances}" if not c.is_instance else "-"),
        ("IDLE", lambda c: span_minutes(costs.idle_minutes(c, now))),
        ("$/HOUR", lambda c: money(costs.cost_per_hour(c))),
        ("$ TODAY", lambda c: money(today(c, "cost"))),
        ("$ IDLE TODAY", lambda c: money(today(c, "idle_cost"))),
        ("LAST OPERATION", lambda c: f"{c.last_operation.name} by {c.last_operation.trigger}" if c.last_operation else "-"),
    ], empty="no compute: amlops create -f specs/compute/cpu-cluster.yml")
    _print_bill(costs.Bill.of(computes, spent, ws.endpoints.list()))
    return 0


def _print_bill(bill: Bill) -> None:
    """What runs now, compute and online deployments together (the deployments' instances bill
    around the clock too, and a cost review that leaves them out is not whole), and what it cost
    today: the console's compute footer, in a line."""
    now = (f"running now: {usd(bill.hour)}/hour (compute {usd(bill.compute_hour)}, "
           f"online deployments {usd(bill.deployments_hour)})")
    if bill.unpriced:
        now += f"; {bill.unpriced} without a known price, not counted"
    if bill.compute_today is None and bill.deployments_today is None:
        print(f"{now}; what it cost today is not known here (Azure Cost Management has it)", file=sys.stderr)
        return
    print(f"{now}; today {usd(bill.today)} (compute {usd(bill.compute_today)} of which idle {usd(bill.idle_today)}, "
          f"online deployments {usd(bill.deployments_today)})", file=sys.stderr)


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
             ("last activity", utc_time(compute.last_activity)),
             ("last operation", f"{op.name} ({op.trigger}, {op.status}, {utc_time(op.time)})" if op else None)])
    return 0


def _compute_start_stop(args: argparse.Namespace) -> int:
    ws = workspace(args)
    op = ws.compute.start(args.name) if args.verb == "start" else ws.compute.stop(args.name)
    op = settled(ws, op, args.no_wait, timeout_s=60)
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
    """The region's totals first, then each family's dedicated vCPUs, then the families whose
    low-priority vCPUs are in use (Azure gives those no limit of their own); --json has every row
    the workspace reports, `kind` saying which, `limit` null for no limit."""
    from console import costs
    from console.domain import QuotaUsage

    usage = workspace(args).quotas.usage()
    if args.json:
        emit_json(usage)
        return 0
    low_priority = (QuotaUsage.LOW_PRIORITY, QuotaUsage.REGIONAL_LOW_PRIORITY)
    rows = sorted((q for q in usage if q.kind != QuotaUsage.LOW_PRIORITY or q.used > 0),
                  key=lambda q: (QuotaUsage.KINDS.index(q.kind), costs.family_key(q.family)))
    table(rows, [("FAMILY", lambda q: "all families (region)" if q.regional else q.family),
                 ("TIER", lambda q: "low priority" if q.kind in low_priority else "dedicated"),
                 ("USED", lambda q: q.used), ("LIMIT", lambda q: "no limit" if q.unlimited else q.limit),
                 ("FREE", lambda q: q.free), ("", _quota_note)])
    return 0


def _quota_note(q) -> str:
    if q.unlimited:
        return "no limit of its own: the region's low-priority total caps it" if q.kind == q.LOW_PRIORITY else ""
    if q.limit == 0:
        return "no quota: request an increase"
    if q.used > q.limit:
        return "over the limit"
    return "at the limit" if q.used == q.limit else "near limit" if q.ratio >= 0.8 else ""
