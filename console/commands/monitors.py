"""`amlops monitor ...` and `amlops drift ENDPOINT`: model monitors and their drift reports."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from console.commands.selection import workspace
from console.commands.output import details, emit_json, table

if TYPE_CHECKING:
    from console.workspace import Workspace

FEATURE_HELP = "also print this feature's histogram: baseline and production share per bin"


def register(sub: argparse._SubParsersAction) -> None:
    monitor = sub.add_parser("monitor", help="model monitors: list, run, show")
    mon = monitor.add_subparsers(dest="monitor_command", metavar="ACTION", required=True)
    listing = mon.add_parser("list", help="monitor schedules and what they watch")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=_list)
    run = mon.add_parser("run", help="run a monitor now and print its report")
    run.add_argument("name")
    run.add_argument("--window-start", help="ISO 8601 (default: one trigger period before the end)")
    run.add_argument("--window-end", help="ISO 8601 (default: now)")
    run.add_argument("--json", action="store_true")
    run.add_argument("--feature", metavar="NAME", help=FEATURE_HELP)
    run.set_defaults(handler=_run)
    show = mon.add_parser("show", help="a monitor's latest report")
    show.add_argument("name")
    show.add_argument("--json", action="store_true")
    show.add_argument("--feature", metavar="NAME", help=FEATURE_HELP)
    show.set_defaults(handler=_show)

    drift = sub.add_parser("drift", help="data drift of an endpoint's deployment: run its monitor now")
    drift.add_argument("endpoint")
    drift.add_argument("--deployment", help="the deployment (default: the one its monitor watches)")
    drift.add_argument("--window-start", help="ISO 8601 (default: the monitor's lookback)")
    drift.add_argument("--window-end", help="ISO 8601 (default: now)")
    drift.add_argument("--json", action="store_true")
    drift.add_argument("--feature", metavar="NAME", help=FEATURE_HELP)
    drift.set_defaults(handler=_drift)


def _list(args: argparse.Namespace) -> int:
    ws = workspace(args)
    monitors = ws.monitors.list()
    unreadable = getattr(ws.monitors, "unreadable", ())  # Azure: schedules azure-ai-ml cannot translate
    if unreadable:
        print(f"not shown: {len(unreadable)} schedule(s) azure-ai-ml cannot read (not model monitors, e.g. a "
              f"batch endpoint's): {', '.join(unreadable)}", file=sys.stderr)
    if args.json:
        emit_json(monitors)
        return 0
    table(monitors, [("NAME", lambda m: m.name), ("ENDPOINT", lambda m: m.endpoint_name),
                     ("DEPLOYMENT", lambda m: m.deployment), ("SIGNALS", lambda m: ", ".join(m.signals)),
                     ("TRIGGER", lambda m: m.trigger if m.enabled else f"disabled ({m.trigger or 'no trigger'})"),
                     ("LAST RUN", lambda m: m.last_run_at),
                     ("STATUS", lambda m: m.last_run_status)],
          empty="no monitors: amlops create -f specs/monitoring/churn-drift.yml")
    return 0


def _time(text: str | None) -> datetime | None:
    if not text:
        return None
    from console.errors import InvalidField

    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidField("window", f"{text!r} is not an ISO 8601 time") from None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def _run_and_report(ws: Workspace, name: str, args: argparse.Namespace) -> int:
    from console.errors import OperationFailed

    op = ws.monitors.run(name, window_start=_time(args.window_start), window_end=_time(args.window_end))
    op = ws.operations.wait(op.id, timeout_s=600)
    if op.status != "Succeeded":
        raise OperationFailed(f"monitor {name} failed: {op.error}")
    report = ws.monitors.latest(name)
    print_report(report, args.json, args.feature)
    return 0


def _run(args: argparse.Namespace) -> int:
    return _run_and_report(workspace(args), args.name, args)


def _show(args: argparse.Namespace) -> int:
    report = workspace(args).monitors.latest(args.name)
    if report is None:
        print(f"monitor {args.name} has not run yet: amlops monitor run {args.name}", file=sys.stderr)
        return 1
    print_report(report, args.json, args.feature)
    return 0


def _drift(args: argparse.Namespace) -> int:
    from console.errors import NotFound

    ws = workspace(args)
    ws.endpoints.get(args.endpoint)  # NotFound for a missing endpoint, before anything else
    monitors = ws.monitors.for_endpoint(args.endpoint, args.deployment)
    if not monitors:
        target = f"{args.endpoint}/{args.deployment}" if args.deployment else args.endpoint
        raise NotFound("monitor watching", f"{target} (create one: amlops create -f specs/monitoring/churn-drift.yml)")
    return _run_and_report(ws, monitors[0].name, args)


def print_report(report, as_json: bool, feature: str | None = None) -> None:
    chosen = _feature(report, feature) if feature else None
    if as_json:
        emit_json(report)
        return
    table(report.features, [
        ("FEATURE", lambda f: f.feature), ("TYPE", lambda f: f.type), ("METRIC", lambda f: f.metric),
        ("VALUE", lambda f: "-" if f.value is None else f"{f.value:.4f}"),
        ("THRESHOLD", lambda f: f"{'<' if f.breaches_below else '>'} {f.threshold:g}"),
        ("DRIFTED", lambda f: "yes" if f.drifted else "no"),
        ("PSI", lambda f: "-" if f.psi is None else f"{f.psi:.3f}"),
        ("P-VALUE", lambda f: "-" if f.p_value is None else f"{f.p_value:.3g}"),
        ("NULL RATE", lambda f: f"{f.null_rate * 100:.1f} %"), ("NOTE", lambda f: f.note or "")],
        empty="no features compared")
    print()
    verdict = "ALERT" if report.alert else ("no alert" if report.measured else "no data: nothing was measured")
    drifted = sum(f.drifted for f in report.features)
    details([("monitor", report.monitor), ("target", f"{report.endpoint_name}/{report.deployment}"),
             ("window", f"{report.window_start:%Y-%m-%d %H:%M:%S} to {report.window_end:%Y-%m-%d %H:%M:%S} UTC"),
             ("rows", f"{report.production_rows:,} production against {report.baseline_rows:,} baseline"),
             ("drifted", f"{drifted} of {len(report.features)} features ({report.drifted_share * 100:.0f} %)"),
             ("verdict", verdict + ("; dataset drift" if report.dataset_drift else ""))])
    if chosen is not None:
        print()
        print_histogram(chosen)


def _feature(report, name: str):
    from console.errors import InvalidField

    found = next((f for f in report.features if f.feature == name), None)
    if found is None:
        known = ", ".join(f.feature for f in report.features) or "none"
        raise InvalidField("--feature", f"{name!r} is not in monitor {report.monitor}'s report (features: {known})")
    return found


def print_histogram(feature) -> None:
    """One feature's bins: label, baseline share, production share."""
    rows = list(zip(feature.bins, feature.baseline_share, feature.production_share))
    table(rows, [(feature.feature.upper(), lambda r: r[0]), ("BASELINE", lambda r: f"{r[1] * 100:.1f} %"),
                 ("PRODUCTION", lambda r: f"{r[2] * 100:.1f} %")],
          empty=f"{feature.feature}: no histogram in this window ({feature.note or 'no bins'})")
