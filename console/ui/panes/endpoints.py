"""The endpoints pane: one row per (endpoint, deployment) with its live and mirror traffic,
readiness, the serving figures of a short window (rps, success, p99), a latency sparkline of the
longer trend, and what the deployment costs (its instances bill around the clock, traffic or not):
per hour and since midnight UTC, with the highlighted endpoint's total and all endpoints' in the
footer.

Metrics are only ever the ones the snapshot read; a deployment without them shows "-". The window
the figures cover, and how old it is, are the backend's (`DeploymentMetrics.window_s`, `age_s`:
the local router's last 10 s, Azure Monitor's newest complete minute) and are said under the pane.
The filter keeps the rows whose endpoint or deployment name matches; the footer's totals are
always every endpoint's.
Narrow, the columns that matter least go first: traffic, success and p99 stay.
The screen drives traffic, rollback and deploy-green from `selected()`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from rich.text import Span, Text
from textual.app import ComposeResult
from textual.widgets import DataTable

from console import costs
from console import format as fmt
from console.domain import Deployment, DeploymentMetrics, Endpoint, Rollout
from console.format import usd
from console.ui.panes.base import Pane, Summary, first_fit, styled, theme_colours
from console.ui.snapshot import Snapshot
from console.ui.table import Column, FitTable, cursor_key

# Fixed widths: `sync_table` updates cells without re-measuring, so a column sized to "-" would
# crop the figures that arrive later. None: sized to the names (which never change per key).
# Ranks: what an operator watching a rollout reads first stays longest when the pane is narrow.
TABLE = (Column("ENDPOINT"), Column("DEPLOYMENT"), Column("TRAFFIC", 15, rank=1), Column("MIRROR", 6, rank=7),
         Column("READY", 8, rank=4), Column("RPS", 6, rank=5), Column("SUCCESS", 7, rank=2),
         Column("P99", 7, rank=3), Column("LATENCY", 12, rank=9), Column("$/HOUR", 7, rank=6),
         Column("$ TODAY", 8, rank=8))
COLUMNS = tuple(c.label for c in TABLE)

BAR_WIDTH = 10
SPARK_POINTS = 12
SUCCESS_FLOOR = 0.99  # DESIGN.md, Rollout: the success rate a deployment must hold
P99_WARN_MS = 500.0  # DESIGN.md, Rollout: the p99 ceiling of the canary analysis
NONE = "-"
CACHE_MAX = 20_000  # distinct figure cells kept between refreshes

_EIGHTHS = "▏▎▍▌▋▊▉"
_TRACK = "░"
_BLOCKS = "▁▂▃▄▅▆▇█"


def traffic_bar(percent: int, width: int = BAR_WIDTH) -> str:
    """`██▌░░░░░░░  25%`: a bar `width` cells wide in eighths, then the percentage."""
    eighths = round(min(max(percent, 0), 100) * width * 8 / 100)
    full, part = divmod(eighths, 8)
    bar = "█" * full + (_EIGHTHS[part - 1] if part else "")
    return f"{bar.ljust(width, _TRACK)} {percent:>3}%"


def sparkline(series: Sequence[float], points: int = SPARK_POINTS) -> str:
    """The last `points` values as ▁..█, scaled to their maximum; "-" for no values."""
    tail = series[-points:]
    if not tail:
        return NONE
    top = max(tail)
    if top <= 0:
        return _BLOCKS[0] * len(tail)
    # Block k is (k+1)/8 tall: each value gets the shortest block that reaches it.
    return "".join(_BLOCKS[min(7, max(0, math.ceil(v / top * 8) - 1))] for v in tail)


def format_rps(rps: float) -> str:
    if rps < 10:
        return f"{rps:.1f}"
    if rps < 10_000:
        return f"{rps:.0f}"
    return f"{rps / 1000:.0f}k"


def format_success(rate: float) -> str:
    """Floored to 0.1 %, so a deployment that failed anything never reads 100 %."""
    if rate >= 1:
        return "100%"
    return f"{math.floor(rate * 1000) / 10:.1f}%"


def format_ms(ms: float) -> str:
    if ms < 10:
        return f"{ms:.1f} ms"
    if ms < 10_000:
        return f"{ms:.0f} ms"
    return f"{ms / 1000:.1f} s"


def _span(seconds: float) -> str:
    return f"{seconds / 60:g}m" if seconds >= 60 and seconds % 60 == 0 else f"{seconds:g}s"


def _age(seconds: float) -> str:
    return f"{int(seconds)}s" if seconds < 60 else f"{int(seconds // 60)}m"


def window_text(metrics: Iterable[DeploymentMetrics]) -> str:
    """What the RPS, SUCCESS and P99 figures cover, as the backends said: "last 10s" for a window
    that ends at the read; "1m, 2m ago" (or "1m, 2m-4m ago" across endpoints) for one that ended
    before it (Azure Monitor's newest complete minute); "" without figures."""
    windows, ages = set(), set()
    for m in metrics:
        windows.add(m.window_s)
        ages.add(m.age_s)
    if not windows:
        return ""
    span = "/".join(_span(w) for w in sorted(windows))
    young, old = min(ages), max(ages)
    if old < 1:
        return f"RPS SUCCESS P99: last {span}"
    ago = _age(old) if _age(young) == _age(old) else f"{_age(young)}-{_age(old)}"
    return f"RPS SUCCESS P99: {span}, {ago} ago"


def cost_text(endpoints: Sequence[Endpoint], selected: str | None, width: int) -> str:
    """The footer: the highlighted endpoint's deployments together, per hour and today, then (with
    several endpoints) all of them, as detailed as `width` allows. Always every endpoint's figures:
    a filter that hides rows changes no total (and with every row hidden, nothing is highlighted:
    then the total alone)."""
    if not endpoints:
        return "no online endpoints: nothing billed"
    deployments = [d for e in endpoints for d in e.deployments]
    unpriced = sum(1 for d in deployments if d.cost_per_hour is None)
    note = (f"; {unpriced} deployment{'s' if unpriced > 1 else ''} without a known price, not counted",
            f" (+{unpriced} unpriced)") if unpriced else ("",)
    endpoint = next((e for e in endpoints if e.name == selected), endpoints[0] if len(endpoints) == 1 else None)
    if len(endpoints) == 1:
        hour, today = endpoint.cost_per_hour, _today(endpoint.cost_today)
        day = None if hour is None else hour * 24
        variants = [f"{endpoint.name}: {usd(hour)}/hour ({usd(day)}/day){today}: every instance "
                    "bills around the clock, traffic or not",
                    f"{endpoint.name}: {usd(hour)}/hour ({usd(day)}/day){today}",
                    f"{endpoint.name}: {usd(hour)}/hour{today}"]
        return first_fit(width, [line + n for line in variants for n in note])
    total_hour = costs.known_sum(e.cost_per_hour for e in endpoints)
    total_today = _today(costs.known_sum(e.cost_today for e in endpoints))
    total_day = None if total_hour is None else total_hour * 24
    everyone = f"all {len(endpoints)} endpoints: {usd(total_hour)}/hour"
    variants = [f"{everyone} ({usd(total_day)}/day){total_today}", f"{everyone}{total_today}"]
    if endpoint is not None:
        mine = f"{endpoint.name}: {usd(endpoint.cost_per_hour)}/hour{_today(endpoint.cost_today)}"
        variants = [f"{mine}; {everyone} ({usd(total_day)}/day){total_today}", f"{mine}; {everyone}{total_today}",
                    *variants]
    return first_fit(width, [line + n for line in variants for n in note])


def _today(value: float | None) -> str:
    """", $1.23 today", or nothing where the backend does not know it (Azure: Cost Management)."""
    return "" if value is None else f", {usd(value)} today"


def _right(text: str, style: str = "") -> Text:
    return styled(text, style, "right")


class EndpointsPane(Pane):
    """Endpoints and their deployments, keyed `endpoint/deployment` (an endpoint without
    deployments is keyed by its name)."""

    DEFAULT_CSS = """
    EndpointsPane > FitTable { height: 1fr; }
    EndpointsPane > .endpoints-footer { height: 1; padding: 0 1; color: $text-muted; }
    EndpointsPane > .rollout-line { height: 1; padding: 0 1; display: none; }
    EndpointsPane > .rollout-line.-shown { display: block; }
    """

    title = "Endpoints"
    area = "endpoints"
    also = ("rollouts",)  # the highlighted endpoint's rollout, on a line of its own

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._targets: dict[str, tuple[str, str | None]] = {}  # row key -> (endpoint, deployment)
        self._announced: tuple[str, str | None] | None = None
        self._cells: _Cells | None = None
        self._endpoints: list[Endpoint] = []
        self._rollouts: dict[str, Rollout] = {}

    def body(self) -> ComposeResult:
        # Names stay in view when a zoomed table is still too narrow and scrolls sideways.
        yield FitTable(TABLE, id="endpoints-table", cursor_type="row", fixed_columns=2)
        yield Summary(classes="rollout-line")
        yield Summary(classes="endpoints-footer")

    @property
    def table(self) -> FitTable:
        return self.query_one("#endpoints-table", FitTable)

    # --- the public surface ------------------------------------------------------------------

    def selected(self) -> tuple[str, str | None] | None:
        """(endpoint, deployment) of the highlighted row; None when the table is empty."""
        key = cursor_key(self.table)
        return self._targets.get(key) if key is not None else None

    def show(self, snapshot: Snapshot) -> None:
        palette = theme_colours(self.app, "error", "warning", "success")
        if self._cells is None or self._cells.palette != palette:
            self._cells = _Cells(palette)
        cells = self._cells
        figures_before, figures = cells.figures, {}
        rows: dict[str, list] = {}
        targets: dict[str, tuple[str, str | None]] = {}
        row_key_of: dict[tuple[str, str], str] = {}  # the (ENDPOINT, DEPLOYMENT) cells -> row key
        keeps, total = self.keeps, 0
        for endpoint in snapshot.endpoints or []:
            name = endpoint.name
            if not endpoint.deployments:
                total += 1
                if not keeps(name):
                    continue
                rows[name] = [name, NONE, NONE, NONE, cells.state(endpoint.provisioning_state), *cells.no_figures,
                              *cells.no_costs]
                targets[name] = (name, None)
                row_key_of[(name, NONE)] = name
                continue
            live, mirror = endpoint.traffic.live, endpoint.traffic.mirror
            by_deployment = {m.deployment: m for m in snapshot.metrics.get(name, ())}
            total += len(endpoint.deployments)
            for deployment in endpoint.deployments:
                if not keeps(name, deployment.name):  # `/blue` keeps churn-ep/blue
                    continue
                key = f"{name}/{deployment.name}"
                metrics = by_deployment.get(deployment.name)
                if metrics is None:
                    shown = cells.no_figures
                else:
                    cached = figures_before.get(key)
                    shown = cached[1] if cached is not None and cached[0] == metrics else cells.figures_of(metrics)
                    figures[key] = (metrics, shown)
                share = mirror.get(deployment.name, 0)
                rows[key] = [name, deployment.name, cells.traffic(live.get(deployment.name, 0)),
                             f"{share}%" if share else NONE,
                             # No request reaches a deployment of an endpoint whose router is down.
                             cells.router_down if endpoint.healthy is False else cells.ready(deployment), *shown,
                             cells.money(deployment.cost_per_hour), cells.money(deployment.cost_today)]
                targets[key] = (name, deployment.name)
                row_key_of[(name, deployment.name)] = key
        cells.figures = figures
        self._endpoints = list(snapshot.endpoints or [])  # the footer totals all of them, shown or not
        self._rollouts = {r.endpoint: r for r in snapshot.rollouts or []}
        with self.app.batch_update():
            # New rows are appended at the end: the sort puts them beside their endpoint.
            self.table.sync(rows, sort_by=("ENDPOINT", "DEPLOYMENT"),
                            key_of=lambda names: row_key_of[(str(names[0]), str(names[1]))])
            self._targets = targets
            self._show_costs()
            self._show_rollout()
            self.count_shown(len(rows), total)
            window = window_text(m for ms in snapshot.metrics.values() for m in ms)
            subtitle = "; ".join(part for part in (self.border_subtitle, window) if part)
            if subtitle != self.border_subtitle:
                self.border_subtitle = subtitle
        self._announce()

    def _show_costs(self) -> None:
        endpoints, current = self._endpoints, self.selected()
        self.query_one(".endpoints-footer", Summary).show(
            lambda width: cost_text(endpoints, current[0] if current else None, width))

    # --- selection ---------------------------------------------------------------------------

    def rollout(self) -> Rollout | None:
        """The highlighted endpoint's latest rollout, else the one under way when only one is."""
        current = self.selected()
        if current is not None and current[0] in self._rollouts:
            return self._rollouts[current[0]]
        going = [r for r in self._rollouts.values() if not r.ended]
        return going[0] if len(going) == 1 else None

    def _show_rollout(self) -> None:
        from datetime import datetime, timezone

        from console.ui.rollout_view import rollout_line

        line = self.query_one(".rollout-line", Summary)
        found = self.rollout()
        line.set_class(found is not None, "-shown")
        if found is not None:
            line.show(lambda width: rollout_line(found, datetime.now(timezone.utc), width))

    def _announce(self) -> None:
        current = self.selected()
        if current != self._announced:
            if self._announced is None or current is None or current[0] != self._announced[0]:
                self._show_costs()  # the footer totals the highlighted endpoint
                self._show_rollout()
            self._announced = current

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "endpoints-table":
            self._announce()


class _Cells:
    """Cells built once and shared between rows and refreshes, for one theme's colours: a refresh
    of 1,000 deployments formats only the figures that changed."""

    def __init__(self, palette: tuple[str, str, str]) -> None:
        self.palette = palette
        self.error, self.warning, self.success = palette
        dash = _right(NONE)
        self.no_figures = (dash, dash, dash, NONE)  # RPS, SUCCESS, P99, LATENCY
        self.no_costs = (dash, dash)  # $/HOUR, $ TODAY
        self.router_down = styled("router down", self.error)  # READY while the endpoint's router is down
        self.figures: dict[str, tuple[DeploymentMetrics, tuple]] = {}  # row key -> (metrics, cells)
        self._traffic: dict[int, Text] = {}
        self._ready: dict[tuple[str, int, int], str | Text] = {}
        # Figures repeat across deployments and refreshes ("100%", "12", "48 ms", a flat latency
        # line): each distinct one is built once. Bounded: cleared when it grows past CACHE_MAX.
        self._figures: dict[tuple[str, str], Text] = {}
        self._sparks: dict[tuple[float, ...], str] = {}

    def traffic(self, live: int) -> Text:
        found = self._traffic.get(live)
        if found is None:
            bar = traffic_bar(live)
            found = self._traffic[live] = Text(bar, spans=[Span(0, BAR_WIDTH, self.success if live > 0 else "dim")])
        return found

    def state(self, state: str) -> str | Text:
        """A provisioning state other than Succeeded, in the warning (or error) colour."""
        if state == "Succeeded":
            return NONE
        return styled(state, self.error if state == "Failed" else self.warning)

    def ready(self, deployment: Deployment) -> str | Text:
        key = (deployment.provisioning_state, deployment.ready_instances, deployment.instance_count)
        found = self._ready.get(key)
        if found is None:
            state, ready, count = key
            if state != "Succeeded":
                found = self.state(state)
            else:
                found = styled(f"{ready}/{count}", self.warning if ready < count else "")
            if len(self._ready) < 4096:
                self._ready[key] = found
        return found

    def figures_of(self, metrics: DeploymentMetrics) -> tuple:
        rate, p99 = metrics.success_rate, metrics.p99_ms
        return (
            self._figure(format_rps(metrics.rps)),
            self._figure(NONE) if rate is None else
            self._figure(format_success(rate), self.error if rate < SUCCESS_FLOOR else ""),
            self._figure(NONE) if p99 is None else
            self._figure(format_ms(p99), self.warning if p99 > P99_WARN_MS else ""),
            self._sparkline(metrics.latency_series_ms[-SPARK_POINTS:]),
        )

    def money(self, value: float | None) -> Text:
        return self._figure(fmt.money(value))

    def _figure(self, text: str, style: str = "") -> Text:
        found = self._figures.get((text, style))
        if found is None:
            if len(self._figures) >= CACHE_MAX:
                self._figures.clear()
            found = self._figures[(text, style)] = _right(text, style)
        return found

    def _sparkline(self, tail: tuple[float, ...]) -> str:
        found = self._sparks.get(tail)
        if found is None:
            if len(self._sparks) >= CACHE_MAX:
                self._sparks.clear()
            found = self._sparks[tail] = sparkline(tail)
        return found
