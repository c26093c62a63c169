"""`amlops`: the console and its subcommands.

Importing this module is cheap on purpose: `amlops --help` must not pay for textual,
azure.ai.ml, mlflow, pandas or scikit-learn, so each subcommand imports what it needs inside
its handler. Errors are rendered here, in one place: `BadInput` exits 2, other failures exit 1.

Conventions every subcommand keeps: `--json` on list and show commands; exit 0 success,
1 the operation failed, 2 bad input; `--workspace-dir DIR` (or AMLOPS_WORKSPACE_DIR) picks a
local workspace folder; `--workspace azure|PROFILE` (or `"workspace"` in the config file)
selects an Azure workspace (console/azure/).
"""

from __future__ import annotations

import time

STARTED = time.perf_counter()  # the console reports its first frame against this

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402

from console import __version__  # noqa: E402

Handler = Callable[[argparse.Namespace], int]


class _Skip:
    """Stands in for the parsers of commands this run does not name: accepts every call. Safe
    because `_command_of` finds the command word as argparse will read it (else the whole tree
    is built), so nothing of this run is parsed by a stand-in."""

    def __getattr__(self, name: str):
        return lambda *args, **kwargs: self


class _OnlyCommand:
    """A subparsers action that builds only the command being run: argparse spends about a
    millisecond per parser here, and a full tree is fifty of them on every CLI call."""

    def __init__(self, sub: argparse._SubParsersAction, wanted: str) -> None:
        self.sub, self.wanted = sub, wanted

    def add_parser(self, name: str, **kwargs):
        return self.sub.add_parser(name, **kwargs) if name == self.wanted else _Skip()


# Words after which argparse reads the rest differently from `_command_of`: help lists every
# command, and `--` makes the next word positional whatever it looks like.
_WHOLE_TREE = ("-h", "--help", "--")


def _command_of(argv: Sequence[str] | None, parser: argparse.ArgumentParser) -> str | None:
    """The subcommand word argparse will read in argv: the first word that is neither one of
    `parser`'s options nor the value of one (None for `amlops`, and for `--help` and `--`, which
    need the whole tree)."""
    args = list(sys.argv[1:] if argv is None else argv)
    while args:
        word = args.pop(0)
        if word in _WHOLE_TREE:
            return None
        action = parser._option_string_actions.get(word.partition("=")[0])
        if action is not None:
            if action.nargs != 0 and "=" not in word:
                args = args[1:]
        elif not word.startswith("-"):
            return word
    return None


def build_parser(argv: Sequence[str] | None = None, *, full: bool = True) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="amlops",
        description="A terminal operations console for Azure Machine Learning.",
        epilog="Run a subcommand with --help for its options.",
        allow_abbrev=False,  # `--workspace` must never be read as a prefix of `--workspace-dir`
    )
    parser.add_argument("--version", action="version", version=f"amlops {__version__}")
    parser.add_argument("--workspace-dir", metavar="DIR",
                        help="local workspace folder (default: AMLOPS_WORKSPACE_DIR, "
                             "else $XDG_DATA_HOME/amlops/workspaces/default)")
    from console.azure.target import CREDENTIAL_HELP, CREDENTIALS
    from console.config import config_file

    parser.add_argument("--workspace", dest="backend", default=None, metavar="local|azure|PROFILE",
                        help="which workspace: local (the default), azure (the one whose Azure ML "
                             "config.json is found upward from here) or a profile of the config file's "
                             f"`profiles`; also `workspace` in {config_file()}")
    # The profile's "credential" key, for this run: device_code signs in with no `az` installed.
    parser.add_argument("--credential", choices=CREDENTIALS, default=None,
                        help="how an Azure workspace signs in, instead of its profile's \"credential\" key "
                             "(default: the profile's, else default): "
                             + "; ".join(f"{name}: {CREDENTIAL_HELP[name]}" for name in CREDENTIALS))
    parser.add_argument("--read-only", action="store_true",
                        help="refuse every command that changes the workspace")
    parser.add_argument("--specs", metavar="DIR",
                        help="the project's specs folder, for the console's submit and deploy-green "
                             "(default: `specs` in the config file, else ./specs)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    lint = sub.add_parser("lint", help="validate Azure ML YAML and flag what hurts in production",
                          description="Load each spec with azure-ai-ml's own loader, then lint it. "
                                      "Exit 0 clean, 1 error findings, 2 unreadable or invalid input.")
    lint.add_argument("paths", nargs="*", default=["specs"], metavar="PATH",
                      help="YAML files or folders (default: specs)")
    lint.add_argument("--json", action="store_true", help="print findings as JSON")
    lint.add_argument("--workspace", action="store_true",
                      help="also check against the selected workspace: GPU quota, existing deployments")
    lint.add_argument("--endpoint-name", metavar="NAME",
                      help="the endpoint of every deployment spec, as `az ml online-deployment create "
                           "--endpoint-name` gives it (for specs that leave it out, as the docs do)")
    lint.add_argument("--set", dest="overrides", nargs="+", action="extend", default=[], metavar="KEY=VALUE",
                      type=_key_value,
                      help="set a field of every spec, as `az ml ... create --set` does (e.g. compute=cpu-cluster "
                           "for a batch deployment that leaves it to the command line); put PATHs before it")
    lint.set_defaults(handler=_lint)

    demo = sub.add_parser("demo", help="set up the demo project on the local workspace",
                          description="Lint specs/, create its compute, environment and data, train the "
                                      "churn model as a job and register it. A set-up workspace is left alone.")
    demo.set_defaults(handler=_demo)

    from console.commands import assets, audit, compute, endpoints, jobs, local, models, monitors, rollouts

    wanted = None if full else _command_of(argv, parser)
    target = _OnlyCommand(sub, wanted) if wanted and wanted not in sub.choices else sub
    for module in (local, assets, jobs, compute, models, endpoints, rollouts, monitors, audit):
        module.register(target)
    if wanted and wanted not in sub.choices:
        return build_parser(argv)  # an unknown command: the full tree, for argparse's message
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        try:
            return _main(argv)
        finally:
            sys.stdout.flush()  # here, not at exit, so a closed pipe is met inside the try
    except BrokenPipeError:
        if not _stdout_closed():
            raise  # a socket's, not the reader's: not ours to hide
        # The reader went away (`amlops job list | head -1`): as Python's docs advise under
        # "Note on SIGPIPE", point stdout at devnull so the exit's own flush cannot fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def _stdout_closed() -> bool:
    """Whether stdout is a pipe or socket whose reader has gone (poll reports an error on it)."""
    import select

    try:
        poll = select.poll()
        poll.register(sys.stdout.fileno(), select.POLLOUT)
    except (OSError, ValueError):  # a stdout with no file descriptor (a test's captured stream)
        return False
    return any(events & (select.POLLERR | select.POLLHUP) for _, events in poll.poll(0))


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser(argv, full=False)
    args = parser.parse_args(argv)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        handler = _console
    from console.errors import AmlopsError, describe

    try:
        return handler(args)
    except AmlopsError as err:
        print(f"amlops: error: {describe(err)}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        return 130


# --- handlers --------------------------------------------------------------------------------


def _key_value(text: str) -> str:
    """A `--set` argument: KEY=VALUE (argparse's message when it is not names the PATH it took)."""
    if "=" not in text or not text.partition("=")[0].strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got '{text}' (put PATHs before --set)")
    return text


def _lint(args: argparse.Namespace) -> int:
    from console.lint import LintContext, lint

    context = None
    if getattr(args, "workspace", False):
        from console.commands.selection import workspace

        ws = workspace(args)
        # Families' dedicated limits only: a family's low-priority row (no limit) and the
        # regional totals are not what a size's family is checked against.
        context = LintContext(quota_limits={q.family: q.limit for q in ws.quotas.usage()
                                            if q.kind == q.DEDICATED and q.limit is not None},
                              sizes={s.name: s for s in ws.compute.sizes()},
                              existing_deployments={e.name: frozenset(d.name for d in e.deployments)
                                                    for e in ws.endpoints.list()},
                              region=f"the {ws.backend} workspace {ws.name}", how_to_raise=ws.quotas.how_to_raise)
    from console.specs import parse_overrides

    result = lint(args.paths, context, endpoint_name=getattr(args, "endpoint_name", None),
                  overrides=parse_overrides(getattr(args, "overrides", None) or []))
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


def _console(args: argparse.Namespace) -> int:
    """The live console on the selected workspace (the local one unless told otherwise)."""
    if not sys.stdout.isatty():
        print("amlops: the console needs a terminal; see `amlops --help` for the commands", file=sys.stderr)
        return 2
    from pathlib import Path

    from console.commands.selection import backend_of, local_workspace, workspace
    from console.config import user_config
    from console.ui.app import AmlopsApp

    config = user_config()
    specs = Path(args.specs or config.get("specs") or "specs").expanduser()
    demo = None
    if backend_of(args) == "local":  # the demo is the local workspace's own
        from functools import partial

        from console.demo import set_up

        ws = local_workspace(args, "the console's demo")
        demo = partial(set_up, ws)
    else:
        ws = workspace(args)
        session = getattr(ws, "session", None)  # Azure's: a device code is asked for before the screen hides it
        if session is not None:
            session.sign_in()
    app = AmlopsApp(ws, read_only=args.read_only or bool(config.get("read_only")), started_at=STARTED,
                    specs=specs.resolve() if specs.is_dir() else None, demo=demo)
    if config.get("keymap"):
        app.set_keymap({str(k): str(v) for k, v in config["keymap"].items()})
    try:
        app.run()
    finally:
        ws.close()  # connections only: jobs and endpoints keep running
    return 0


def _demo(args: argparse.Namespace) -> int:
    from console.commands.selection import local_workspace
    from console.demo import SPECS, set_up

    ws = local_workspace(args, "amlops demo")
    if ws.read_only:  # before linting: it creates the demo and starts its load
        from console.errors import ReadOnlyError

        raise ReadOnlyError("demo")
    print(f"linting {SPECS} ...", flush=True)
    code = _lint(argparse.Namespace(paths=[str(SPECS)], json=False))
    if code != 0:
        print("amlops: error: the specs do not lint clean; fix them first", file=sys.stderr)
        return code
    print(f"workspace {ws.location} (local)", flush=True)
    return set_up(ws)


if __name__ == "__main__":
    sys.exit(main())
