"""`amlops`: the console and its subcommands.

Importing this module is cheap on purpose: `amlops --help` must not pay for textual,
azure.ai.ml, mlflow, pandas or scikit-learn, so each subcommand imports what it needs inside
its handler. Errors are rendered here, in one place: `BadInput` exits 2, other failures exit 1.

Conventions every subcommand keeps: `--json` on list and show commands; exit 0 success,
1 the operation failed, 2 bad input; `--workspace-dir DIR` (or AMLOPS_WORKSPACE_DIR) picks a
local workspace folder.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence

from console import __version__

Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="amlops",
        description="A terminal operations console for Azure Machine Learning.",
        epilog="Run a subcommand with --help for its options.",
    )
    parser.add_argument("--version", action="version", version=f"amlops {__version__}")
    parser.add_argument("--workspace-dir", metavar="DIR",
                        help="local workspace folder (default: AMLOPS_WORKSPACE_DIR, "
                             "else $XDG_DATA_HOME/amlops/workspaces/default)")
    parser.add_argument("--read-only", action="store_true",
                        help="refuse every command that changes the workspace")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    lint = sub.add_parser("lint", help="validate Azure ML YAML and flag what hurts in production",
                          description="Load each spec with azure-ai-ml's own loader, then lint it. "
                                      "Exit 0 clean, 1 error findings, 2 unreadable or invalid input.")
    lint.add_argument("paths", nargs="*", default=["specs"], metavar="PATH",
                      help="YAML files or folders (default: specs)")
    lint.add_argument("--json", action="store_true", help="print findings as JSON")
    lint.add_argument("--workspace", action="store_true",
                      help="also check against the selected workspace: GPU quota, existing deployments")
    lint.set_defaults(handler=_lint)

    demo = sub.add_parser("demo", help="set up the demo project on the local workspace",
                          description="Lint specs/, create its compute, environment and data, train the "
                                      "churn model as a job and register it. A set-up workspace is left alone.")
    demo.set_defaults(handler=_demo)

    from console.commands import endpoints, local, monitors

    local.register(sub)
    endpoints.register(sub)
    monitors.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        print("\nThe live console (the TUI) is not built yet; `amlops demo` sets up the demo workspace.")
        return 0
    from console.errors import AmlopsError

    try:
        return handler(args)
    except AmlopsError as err:
        print(f"amlops: error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        return 130


# --- handlers --------------------------------------------------------------------------------


def _lint(args: argparse.Namespace) -> int:
    from console.lint import LintContext, lint

    context = None
    if getattr(args, "workspace", False):
        from console.commands.local import workspace

        ws = workspace(args)
        context = LintContext(quota_limits={q.family: q.limit for q in ws.quotas.usage()},
                              sizes={s.name: s for s in ws.compute.sizes()},
                              existing_deployments={e.name: frozenset(d.name for d in e.deployments)
                                                    for e in ws.endpoints.list()},
                              region=f"the {ws.backend} workspace {ws.name}")
    result = lint(args.paths, context)
    if args.json:
        print(json.dumps({"files": result.files, "exit_code": result.exit_code,
                          "findings": [f.to_dict() for f in result.findings]}, indent=2))
        return result.exit_code
    for finding in result.findings:
        print(finding.format())
    errors = sum(f.severity == "error" for f in result.findings)
    warnings = sum(f.severity == "warning" for f in result.findings)
    print(f"{result.files} files, {errors} errors, {warnings} warnings", file=sys.stderr)
    return result.exit_code


def _demo(args: argparse.Namespace) -> int:
    from console.commands.local import workspace
    from console.demo import SPECS, set_up

    print(f"linting {SPECS} ...", flush=True)
    code = _lint(argparse.Namespace(paths=[str(SPECS)], json=False))
    if code != 0:
        print("amlops: error: the specs do not lint clean; fix them first", file=sys.stderr)
        return code
    ws = workspace(args)
    print(f"workspace {ws.folder.root} (local)", flush=True)
    return set_up(ws)


if __name__ == "__main__":
    sys.exit(main())
