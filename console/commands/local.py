"""`amlops local up|down|status`: the local workspace's daemon and every process it runs.
Only the local workspace has these, so they take it explicitly (`local_workspace`)."""

from __future__ import annotations

import argparse

from console.commands.output import emit_json
from console.commands.selection import local_workspace
from console.format import span



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
    status = local_sub.add_parser("status", help="is the daemon running, and where; every process the workspace runs "
                                                 "(jobs, routers, scoring instances, the demo load)")
    status.add_argument("--json", action="store_true")
    status.set_defaults(handler=_local_status)


def _local_up(args: argparse.Namespace) -> int:
    from console.local.client import daemon_pid, start_daemon

    ws = local_workspace(args, "local")
    pid = daemon_pid(ws.folder)
    if pid:
        print(f"already running: pid {pid}, {ws.folder.root}")
        return 0
    print(f"started: pid {start_daemon(ws.folder)}, {ws.folder.root}")
    return 0


def _local_down(args: argparse.Namespace) -> int:
    from console.demo import stop_load
    from console.local.client import DaemonConnection, daemon_pid, stop_all, stop_daemon
    from console.workspace import refuse_if_read_only

    ws = local_workspace(args, "local")
    # Stopping the daemon and the demo load changes what the workspace runs.
    refuse_if_read_only(ws, "local down --all" if args.all else "local down")
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
    from console.demo import load_what, running_load
    from console.errors import BackendUnavailable
    from console.local.client import DaemonConnection

    ws = local_workspace(args, "local")
    try:
        status = DaemonConnection(ws.folder, autostart=False).call("daemon.status")
    except BackendUnavailable:
        status = None
    # The demo load is the CLI's process, not the daemon's (it outlives the command that started
    # it and ends when the daemon does): its pid file says whether it runs.
    load = running_load(ws.folder)
    load_text = load_what()
    if args.json:
        emit_json({"running": status is not None, "workspace": str(ws.folder.root), **(status or {}),
                   "demo_load": {"pid": load, "what": load_text} if load else None})
    elif status:
        print(f"running: pid {status['pid']}, up {span(status['uptime_s'])}, "
              f"{status['jobs_running']} jobs running, {status['rss_kb'] // 1024} MiB, {ws.folder.root}")
        for what in _by_name(status.get("processes") or []):
            print(f"  {what}")
    else:
        print(f"not running: {ws.folder.root}")
    if load:
        print(f"  demo load (pid {load}): {load_text}")
    return 0 if status else 1
