"""`amlops create -f` (compute, data, environments, endpoints, deployments, monitors, as
`az ml X create -f`) and `amlops data|environment list`: the versioned assets."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from typing import TYPE_CHECKING

from console.commands.output import emit_json, table
from console.commands.selection import overrides, workspace
from console.format import ago

if TYPE_CHECKING:
    from console.domain import Created, Record
    from console.workspace import Workspace


def register(sub: argparse._SubParsersAction) -> None:
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


def _create(args: argparse.Namespace) -> int:
    given = overrides(args.set)
    # Names and --set inputs are checked by specs.load in the backend, with file:line: there a
    # refusal is audited (the daemon's audit keeps who tried what), as every refused write is.
    ws = workspace(args)
    created = ws.assets.create(args.file, given, endpoint_name=args.endpoint_name)
    op = created.operation
    if created.kind == "online_deployment" and op is not None and not args.no_wait and not op.done:
        print(f"creating deployment {created.endpoint_name}/{created.name} (waiting until its "
              "instances are ready; --no-wait to return at once)", file=sys.stderr, flush=True)
        op = ws.operations.wait(op.id, timeout_s=600)
        created = dataclasses.replace(created, operation=op)
    record = _record_of(ws, created)
    if args.json:
        emit_json({**created.to_dict(), **(record.to_dict() if record is not None else {})})
    elif created.kind == "online_endpoint":
        print(f"endpoint {record.name}: {record.provisioning_state}, scoring uri {record.scoring_uri}")
    elif created.kind == "online_deployment":
        print(f"deployment {created.endpoint_name}/{created.name}: {op.status}"
              + (f" ({op.error})" if op.error else "") + " at 0 % traffic")
        return 0 if op.status in ("Succeeded", "InProgress") else 1
    elif created.kind == "schedule":
        print(f"monitor {record.name}: watches {record.endpoint_name}/{record.deployment}, runs {record.trigger}")
    elif created.kind == "compute":
        print(f"compute {record.name}: {record.type} {record.size}, {record.state}")
    else:
        print(f"{created.kind} {created.name}:{created.version}"
              + (f" -> {record.path}" if record is not None and record.path else "")
              + (f"\n  note: {created.note}" if created.note else ""))
    return 0


def _record_of(ws: Workspace, created: Created) -> Record | None:
    """The record of what was created, for the summary and `--json`: its kind's own `get`."""
    if created.kind == "compute":
        return ws.compute.get(created.name)
    if created.kind == "online_endpoint":
        return ws.endpoints.get(created.name)
    if created.kind == "schedule":
        return next((m for m in ws.monitors.list() if m.name == created.name), None)
    if created.kind in ("data", "environment"):
        return next((a for a in ws.assets.list(created.kind)
                     if (a.name, a.version) == (created.name, created.version)), None)
    return None


def _asset_list(args: argparse.Namespace) -> int:
    rows = workspace(args).assets.list(args.kind)
    if args.json:
        emit_json(rows)
        return 0
    columns = [("NAME", lambda a: a.name), ("VERSION", lambda a: a.version), ("CREATED", lambda a: ago(a.created_at))]
    columns.append(("PATH", lambda a: a.path) if args.kind == "data" else ("IMAGE", lambda a: a.image or "-"))
    if any(a.note for a in rows):  # what the workspace did not do with it: locally, no image is built
        columns.append(("NOTE", lambda a: a.note))
    table(rows, columns, empty=f"no {args.kind} assets")
    return 0
