"""`amlops model register|list`: registered models."""

from __future__ import annotations

import argparse

from console.commands.output import emit_json, table
from console.commands.selection import workspace



def register(sub: argparse._SubParsersAction) -> None:
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
