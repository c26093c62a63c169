"""The console's main screen: the header, the five panes in a grid, the footer, and their keys.

It owns the refresh: each area of the workspace (`snapshot.AREAS`) is read in a thread worker
on its own cadence and re-armed only once its read is in, so reads of one area never overlap and
quotas are not read every 2 s. A read comes back as an `AreaRead` message, is merged into the
snapshot, and goes to the panes that show that area (skipped while a modal is up, then caught
up when it closes), whole, with the filter: each pane filters its own rows and totals the whole
workspace. It also follows the highlighted job's detail (and a job submitted from here), draws a
drift feature's histograms, runs k9s's `:` prompt in the header, sizes the endpoints row to
its rows, and hands the keys that change things to `console/ui/actions.py`, which it calls
and which answers with messages only. Every worker's failure reaches the screen through one
`Worker.StateChanged` handler, rendered by `console.errors.describe`: no key does nothing.
"""

from __future__ import annotations

import time
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING

from rich.markup import escape
from textual import events, on
from textual.app import ComposeResult
from textual.containers import Grid
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import DataTable, Static
from textual.worker import Worker, WorkerState

from console.errors import describe
from console.ui import modules
from console.ui.bindings import KEYS, MUTATING
from console.ui.footer import KeyFooter
from console.ui.messages import (ActionDone, ActionStarted, ActionStep, AreaRead, JobDetail, JobSubmitted, Linted,
                                 ModelsListed)
from console.ui.panes import COMPUTE, DRIFT, ENDPOINTS, JOBS, PANES, QUOTAS, matching, number
from console.workspace import DEFAULT_CADENCE

if TYPE_CHECKING:
    from console.ui.actions import Actions
    from console.ui.screens.modals import ProgressModal
    from console.ui.snapshot import Snapshot

# Each area is read on the workspace's `cadence`; `refresh_s` scales all of them by its ratio to
# this, the fastest default (tests and benchmarks read faster or slower).
REFRESH_S = min(DEFAULT_CADENCE.values())
# What a failed worker of each action is called in its notification: the footer's label.
# ("Green" in the footer, where room is short, is "Deploy green" in what it says.)
ACTION_LABELS = {k.name: k.label for k in KEYS} | {"demo": "Demo set-up", "rollout_start": "Rollout start",
                                                 "deploy_green": "Deploy green"}
REFRESH_SAID_S = 0.5  # "refreshing…" stays in the header at least this long after `r`


def _pane_classes() -> dict[str, type]:
    """Imported after the first frame: the panes (and the records they show) cost a fifth of
    the start-up, and the header and grid can draw without them."""
    from console.ui.panes.compute import ComputePane
    from console.ui.panes.drift import DriftPane
    from console.ui.panes.endpoints import EndpointsPane
    from console.ui.panes.jobs import JobsPane
    from console.ui.panes.quotas import QuotasPane

    # Mounted in PANES order, the grid's: endpoints get the whole middle row (their traffic split
    # and health are what an operator watches), compute and drift share the bottom one.
    classes = {JOBS: JobsPane, QUOTAS: QuotasPane, ENDPOINTS: EndpointsPane, COMPUTE: ComputePane, DRIFT: DriftPane}
    return {name: classes[name] for name in PANES}


class HeaderBar(Static):
    """Workspace, backend, time since the last refresh (or that one asked for with `r` is under
    way), connection state, mode and filter."""

    def show(self, name: str, backend: str, age_s: float | None, error: str | None, read_only: bool,
             filter_text: str, throttled_s: float | None = None, refreshing: bool = False) -> None:
        age = "never" if age_s is None else f"{max(age_s, 0):.0f}s ago"
        age = f"[b]refreshing…[/b] (last {age})" if refreshing else f"refreshed {age}"
        error = escape(error) if error else error  # an error's text is shown as it is, never as markup
        state = f"[red]error: {error}[/red]" if error else ("[green]connected[/green]" if age_s is not None
                                                            else "connecting…")
        if throttled_s:  # every area waits it out: say so, and count it down
            state = f"[yellow]throttled by Azure: reads resume in {throttled_s:.0f}s[/yellow]" + (
                f"  [red]{error}[/red]" if error else "")
        mode = "  [yellow]READ-ONLY[/yellow]" if read_only else ""
        where = f"  filter: {escape(filter_text)}" if filter_text else ""
        self.update(f"[b]amlops[/b]  {name} ({backend})  {age}  {state}{mode}{where}")

    def ask(self, typed: str, found: list[str]) -> None:
        """The `:` prompt: what is typed, the pane it would go to, and every pane by number."""
        if not typed.strip():
            hint = "[dim]a pane: its name, a prefix, an alias or its number[/dim]"
        elif len(found) == 1:
            hint = f"[green]→ {found[0]}[/green]"
        else:
            hint = f"[yellow]{' or '.join(found)}?[/yellow]" if found else "[red]no such pane[/red]"
        panes = "  ".join(f"{number(name)} {name}" for name in PANES)
        self.update(f"[b reverse]:{escape(typed)}▏[/b reverse]  {hint}   [dim]{panes}   "
                    "tab: complete  enter: go  esc: cancel[/dim]")


class ConsoleScreen(Screen):
    BINDINGS = [k.binding() for k in KEYS]

    def __init__(self, *, refresh_s: float = REFRESH_S, autorefresh: bool = True) -> None:
        super().__init__()
        self.scale = refresh_s / REFRESH_S
        self.autorefresh = autorefresh
        self._actions: Actions | None = None
        self.snapshot: Snapshot | None = None
        self.missing: frozenset[str] | None = None
        self.last_refresh: datetime | None = None  # the app's clock (snapshot tests fix it)
        self.zoomed: str | None = None
        self.filter_text = ""
        self._next_read: dict[str, Timer] = {}
        self._reading: set[str] = set()
        self._read_once: set[str] = set()
        self._behind: set[str] = set()  # areas read while a modal was up: the panes catch up on resume
        self._offered = False
        self._detail_status: tuple[str, str] | None = None  # (job, status) the detail was last read for
        self._progress: dict[str, ProgressModal] = {}
        self._endpoint_lines: int | None = None  # the endpoints row's height, as last set
        self._refreshing: set[str] = set()  # the areas `r` asked for that are not in yet
        self._refresh_said_until = 0.0
        self._follow_job: str | None = None  # a job submitted from here: the cursor goes to it once listed
        self.prompt: str | None = None  # what is typed after `:`; None: no prompt

    @property
    def actions(self) -> Actions:
        """The flows that change things, imported on the first key that needs them."""
        if self._actions is None:
            from console.ui.actions import Actions

            self._actions = Actions(self)
        return self._actions

    def compose(self) -> ComposeResult:
        yield HeaderBar(id="header")
        yield Grid(id="panes")
        yield KeyFooter(compact=True)  # compact: every key fits 120 columns

    def on_mount(self) -> None:
        self._show_header()
        self.set_interval(1.0, self._show_header)
        self.call_after_refresh(self._mount_panes)

    async def _mount_panes(self) -> None:
        from console.ui.snapshot import empty

        await self.query_one("#panes").mount_all(cls(id=name) for name, cls in _pane_classes().items())
        self.snapshot = empty(self.app.ws)
        self.missing = self.snapshot.unavailable  # capabilities do not change: asked once
        if self.autorefresh:
            self.refresh_all()

    # --- refresh -----------------------------------------------------------------------------

    def refresh_all(self) -> None:
        """Read every area now (those already being read just finish)."""
        from console.ui.snapshot import AREAS

        for area in AREAS:
            self.read(area.name)

    def read(self, area: str) -> None:
        if area in self._reading or self.missing is None:
            return
        timer = self._next_read.pop(area, None)
        if timer is not None:
            timer.stop()
        wait = self.app.ws.throttled_for()
        if wait:  # the backend asked for quiet: this area's read waits it out
            self._next_read[area] = self.set_timer(wait, partial(self.read, area))
            return
        self._reading.add(area)
        self.run_worker(partial(self._read_in_thread, area), thread=True, group=f"refresh.{area}",
                        name=f"read {area}", exit_on_error=False)

    def _read_in_thread(self, area: str) -> None:
        from console.ui.snapshot import read_area

        values, error = read_area(self.app.ws, area, self.missing or frozenset())
        self.post_message(AreaRead(area, values, error))

    @on(AreaRead)
    def _area_read(self, message: AreaRead) -> None:
        self._reading.discard(message.area)
        self._refreshing.discard(message.area)
        self._read_once.add(message.area)
        self.last_refresh = self.app.now()
        self.snapshot = self.snapshot.merge(message.area, message.values, message.error, self.last_refresh)
        if self.app.screen is self:
            self._apply(self.snapshot, {message.area})
            if message.area == "jobs":
                self._select_submitted()
                self._follow_detail()
        else:
            self._behind.add(message.area)
        self._show_header()
        self._offer_demo()
        default = DEFAULT_CADENCE[message.area]
        every = max(self.app.ws.cadence.get(message.area, default) * self.scale, self.app.ws.throttled_for() or 0)
        if self.autorefresh and self.is_mounted:  # re-armed only now: reads of an area never overlap
            self._next_read[message.area] = self.set_timer(every, partial(self.read, message.area))

    def on_screen_resume(self) -> None:
        if self._behind and self.snapshot is not None:
            behind, self._behind = self._behind, set()
            self._apply(self.snapshot, behind)

    def apply(self, snapshot: Snapshot) -> None:
        """Show a whole snapshot in every pane (what `fetch` read; the benchmark's way in)."""
        self.snapshot = snapshot
        self._apply(snapshot, None)

    def _apply(self, snapshot: Snapshot, areas: set[str] | None) -> None:
        # Every pane gets the whole snapshot and the filter: it filters its own rows (by every
        # name a row shows) and totals the whole workspace, so a filter never changes a bill.
        with self.app.batch_update():
            for pane in self.query("Pane"):
                if areas is None or areas & set(pane.areas):
                    pane.filter_text = self.filter_text
                    pane.apply(snapshot)
        if areas is None or "endpoints" in areas:
            self.call_after_refresh(self._fit_endpoints_row)  # once the rows are laid out

    def on_resize(self) -> None:
        self.call_after_refresh(self._fit_endpoints_row)

    def _fit_endpoints_row(self) -> None:
        """The endpoints row as tall as its table's rows and what is under them (its footer), at
        least 6 lines and at most 40 % of the screen (more rows scroll): two deployments do
        not take a third of the screen from the jobs' log or the drift histogram."""
        grids, panes = self.query("#panes"), self.query(f"#{ENDPOINTS}")
        if not grids or not panes:
            return
        pane = panes.first()
        tables = pane.query(DataTable)
        if not tables:
            return
        table = tables.first()
        below = sum(child.outer_size.height or 1 for child in pane.children if child.display and child is not table)
        wanted = getattr(table, "rows_given", table.row_count) + 1 + below + pane.styles.border.spacing.height + table.styles.scrollbar_size_horizontal
        lines = min(max(wanted, 6), max(6, self.size.height * 2 // 5))
        # Set only when it changes: setting the grid's rows lays the screen out again, which
        # resizes it, which fits again (headless, that loop never let the first frame out).
        if lines != self._endpoint_lines:
            self._endpoint_lines = lines
            grids.first().styles.grid_rows = self._rows_for(lines)

    @staticmethod
    def _rows_for(lines: int) -> str:
        return f"1fr {lines} 1fr"

    def _show_header(self) -> None:
        from console.errors import Throttled

        throttled = self.app.ws.throttled_for()
        errors = self.snapshot.errors if self.snapshot else {}
        if throttled:  # the header says it once, with the seconds left, not once per area
            errors = {area: msg for area, msg in errors.items() if not msg.startswith(Throttled.PREFIX)}
        error = said_once(errors)
        age = None if self.last_refresh is None else (self.app.now() - self.last_refresh).total_seconds()
        for header in self.query(HeaderBar):  # none while the app is shutting down
            if self.prompt is not None:
                header.ask(self.prompt, matching(self.prompt))
                continue
            header.show(self.app.ws.name, self.app.ws.backend, age, error, self.app.read_only, self.filter_text,
                        throttled, refreshing=bool(self._refreshing) or time.monotonic() < self._refresh_said_until)

    def _offer_demo(self) -> None:
        """An empty workspace: offer to set up the demo project, once."""
        snapshot = self.snapshot
        if self._offered or self.app.read_only or self.app.demo is None or snapshot is None:
            return
        if not {"jobs", "computes", "endpoints"} <= self._read_once or snapshot.errors:
            return
        self._offered = True
        if not (snapshot.jobs or snapshot.computes or snapshot.endpoints):
            self.app.push_screen(modules.modals.ConfirmModal("This workspace is empty. Set up the demo?",
                                              "compute, data and environment from specs/, the training job, the "
                                              "model registered and served on churn-ep as blue, the drift monitor"),
                                 lambda yes: yes and self.actions.set_up_demo(self.app.demo))

    # --- what workers and actions report -------------------------------------------------------

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        """The one place a worker's failure is shown: a read's in its pane and the header (and
        the area is read again on its cadence), an action's as the action failing, any other's
        as a notification naming what failed."""
        worker = event.worker
        if event.state != WorkerState.ERROR:
            return
        error = describe(worker.error)
        if worker.group.startswith("refresh."):
            self._area_read(AreaRead(worker.group.removeprefix("refresh."), {}, error))
        elif worker.group == "action":
            self._action_done(ActionDone(worker.name, False, error))
        else:
            label = ACTION_LABELS.get(worker.name, worker.name or "a worker")
            self.notify(error, title=f"{label} failed", severity="error", timeout=8, markup=False)

    @on(ActionStarted)
    def _action_started(self, message: ActionStarted) -> None:
        modal = modules.modals.ProgressModal(message.title)
        self._progress[message.action] = modal
        self.app.push_screen(modal)

    @on(Linted)
    def _linted(self, message: Linted) -> None:
        self.actions.linted(message.path, message.findings, message.valid)

    @on(ModelsListed)
    def _models_listed(self, message: ModelsListed) -> None:
        self.actions.pick_green(message.spec, message.endpoint, message.versions)

    @on(ActionStep)
    def _action_step(self, message: ActionStep) -> None:
        modal = self._progress.get(message.action)
        if modal is not None and modal.is_attached:  # hidden with esc: the end is still notified
            modal.report(message.step, message.line)
        elif message.action == "demo":
            self.notify(message.line, title="demo", timeout=6, markup=False)

    @on(ActionDone)
    def _action_done(self, message: ActionDone) -> None:
        modal = self._progress.pop(message.action, None)
        if modal is not None and modal.is_attached:
            modal.finish(message.message, ok=message.ok)
        label = ACTION_LABELS.get(message.action, message.action)
        self.notify(message.message, title=f"{label}: done" if message.ok else f"{label} failed",
                    severity="information" if message.ok else "error", timeout=5 if message.ok else 8, markup=False)
        self.refresh_all()

    # --- navigation --------------------------------------------------------------------------

    def action_focus_pane(self, name: str) -> None:
        pane = self.query_one(f"#{name}")
        tables = pane.query(DataTable)
        (tables.first() if tables else pane).focus()

    def _current_pane(self):
        node = self.focused
        while node is not None and getattr(node.parent, "id", None) != "panes":
            node = node.parent
        return node

    def action_zoom(self) -> None:
        pane = self._current_pane()
        if pane is None:
            return
        self.zoomed = pane.id
        self.query_one("#panes").add_class("-zoom")
        for other in self.query("Pane"):
            other.set_class(other is pane, "-zoomed")
        for table in pane.query(modules.table.FitTable):
            table.fit_to_width(False)  # zoomed: every column, scrolling sideways if it must

    @on(DataTable.RowSelected)
    def _enter_zooms(self, event: DataTable.RowSelected) -> None:
        if self.zoomed is None:
            self.action_zoom()

    def action_back(self) -> None:
        """esc: out of the zoomed pane; in the drift pane's features, back to its monitors."""
        if self.zoomed is None and getattr(self.focused, "id", None) == "drift-features":
            self.query_one("#drift-monitors").focus()
            return
        if self.zoomed is not None:
            self.zoomed = None
            self.query_one("#panes").remove_class("-zoom")
            for pane in self.query("Pane"):
                pane.remove_class("-zoomed")
            for table in self.query(modules.table.FitTable):
                table.fit_to_width(True)

    def action_refresh(self) -> None:
        """`r`: every area read now; the header says "refreshing…" until they are all in."""
        self.refresh_all()
        self._refreshing = set(self._reading)
        # Said for a moment at least: a local workspace reads in milliseconds, and a word that
        # flashes for one frame is no answer to a key.
        self._refresh_said_until = time.monotonic() + REFRESH_SAID_S
        self.set_timer(REFRESH_SAID_S, self._show_header)
        self._show_header()

    def action_help(self) -> None:
        rows = [(self.app.shown_key(k), k.help, k.id) for k in KEYS if not (self.app.read_only and k.mutates)]
        self.app.push_screen(modules.modals.HelpModal(rows))

    def action_filter(self) -> None:
        """k9s's filter: rows whose name contains the text; `!text` keeps the others; empty clears."""
        self.app.push_screen(modules.modals.InputModal(
            "Filter (name contains; !text inverts; empty clears)", value=self.filter_text,
            detail="Rows whose job, display name, experiment, compute, endpoint, deployment, monitor or "
                   "family name contains it; the totals stay the whole workspace's."), self._set_filter)

    def _set_filter(self, text: str | None) -> None:
        if text is None:
            return
        self.filter_text = text.strip()
        self._show_header()
        if self.snapshot is not None:
            self._apply(self.snapshot, None)

    def action_jump(self) -> None:
        """k9s's `:` prompt, in the header line: a prefix of a pane's name (or alias, or its
        number), tab completes, enter jumps, esc cancels."""
        self.prompt = ""
        self._show_header()

    def _jump_keys(self) -> set[str]:
        return set(self.app.keymap.get("jump", "colon").split(","))

    def on_key(self, event: events.Key) -> None:
        """The prompt takes the keys typed after `:` here, in the order they bubble up, rather
        than in a dialog that has them only once it has focus: `:dr` typed in one burst (a fast
        typist, a slow link) loses no letter, and no key meanwhile reaches a binding."""
        if self.prompt is None:
            if event.key in self._jump_keys():  # here, not as the binding: in order with what follows
                event.stop()
                event.prevent_default()
                self.action_jump()
            return
        event.stop()
        event.prevent_default()
        key, typed = event.key, self.prompt
        if key in ("escape", "ctrl+c"):
            self.prompt = None
        elif key == "enter":
            self.prompt = None
            self._jump(typed)
        elif key == "backspace":
            self.prompt = typed[:-1]
        elif key == "tab":
            found = matching(typed)
            self.prompt = found[0] if found else typed
        elif event.is_printable and event.character:
            self.prompt = typed + event.character
        self._show_header()

    def _jump(self, text: str | None) -> None:
        if not text or not text.strip():
            return
        found = matching(text)
        if len(found) == 1:
            self.action_focus_pane(found[0])
            return
        said = text.strip()
        if found:
            self.notify(f":{said} could be {' or '.join(found)}: type more of it", severity="warning",
                        timeout=5, markup=False)
        else:
            self.notify(f"no pane is called {said!r}: " + ", ".join(PANES), title=f":{said}", severity="warning",
                        timeout=5, markup=False)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Read-only hides every mutating key from the footer and refuses it.
        return not (self.app.read_only and action in MUTATING)

    # --- the keys that change things ----------------------------------------------------------

    def action_stop_idle(self) -> None:
        if self.snapshot is None:
            return
        pane = self.query_one(f"#{COMPUTE}")
        idle, selected = pane.idle_instances(self.snapshot), pane.selected_compute()
        self.actions.stop_idle([c for c in idle if c.name == selected] or idle)

    def action_traffic(self) -> None:
        endpoint = self._selected_endpoint()
        if endpoint is None:
            return
        if not endpoint.deployments:
            self.notify(f"{endpoint.name} has no deployments", timeout=4)
            return
        self.actions.traffic(endpoint.name, {d.name: endpoint.traffic.live.get(d.name, 0) for d in endpoint.deployments})

    def action_rollout(self) -> None:
        """The selected endpoint's rollout; with none, offer its plans in specs/rollouts/."""
        endpoint = self._selected_endpoint()
        if endpoint is None:
            return
        if any(r.endpoint == endpoint.name for r in (self.snapshot.rollouts if self.snapshot else None) or []):
            from console.ui.rollout_view import RolloutScreen

            self.app.push_screen(RolloutScreen(endpoint.name))
            return
        self.actions.start_rollout(self.app.specs, endpoint.name)

    def action_rollback(self) -> None:
        endpoint = self._selected_endpoint()
        if endpoint is not None:
            self.actions.rollback(endpoint.name, dict(endpoint.traffic.live))

    def action_cancel_job(self) -> None:
        name = self.query_one(f"#{JOBS}").selected_job()
        if name is None:
            self.notify("select a job in the jobs pane first", timeout=4)
            return
        self.actions.cancel_job(name)

    def action_run_monitor(self) -> None:
        monitors = (self.snapshot.monitors if self.snapshot else None) or []
        name = self.query_one(f"#{DRIFT}").selected_monitor() or next((m.name for m in monitors), None)
        if name is None:
            self.notify("no monitor to run", timeout=4)
            return
        self.actions.run_monitor(name)

    def action_submit(self) -> None:
        self.actions.submit(self.app.specs)

    def action_deploy_green(self) -> None:
        self.actions.deploy_green(self.app.specs)

    def _selected_endpoint(self):
        selected = self.query_one(f"#{ENDPOINTS}").selected()
        endpoints = (self.snapshot.endpoints if self.snapshot else None) or []
        name = selected[0] if selected else None
        found = next((e for e in endpoints if e.name == name), endpoints[0] if endpoints else None)
        if found is None:
            self.notify("no endpoint", timeout=4)
        return found

    # --- the highlighted job's detail: log tail and MLflow metrics ------------------------------

    def on_jobs_pane_selected(self, event) -> None:  # JobsPane.Selected
        if event.name is None:
            self._detail_status = None
            event.pane.clear_detail()
        elif self._detail_status is None or self._detail_status[0] != event.name:
            # Not when the refresh that highlighted it has already asked for this job's detail.
            job = event.pane.job(event.name)
            self._detail_status = (event.name, job.status if job else "")
            self._load_detail(event.name)

    def _follow_detail(self) -> None:
        """While the highlighted job runs, its log and metrics are read again on every jobs
        refresh (and once more when it ends): the detail streams without a poll of its own."""
        panes = self.query(f"#{JOBS}")
        pane = panes.first() if panes else None
        name = pane.selected_job() if pane else None
        job = pane.job(name) if name else None  # the record the pane was just given
        if job is None:
            return
        seen, self._detail_status = self._detail_status, (job.name, job.status)
        if not job.is_terminal or seen != (job.name, job.status):
            self._load_detail(job.name)

    def _load_detail(self, name: str) -> None:
        self.run_worker(partial(self._detail_in_thread, name), thread=True, group="detail", name="job detail",
                        exclusive=True, exit_on_error=False)

    def _detail_in_thread(self, name: str) -> None:
        from console.ui.panes.jobs import LOG_TAIL_LINES

        ws = self.app.ws
        try:
            log = "".join(list(ws.jobs.logs(name))[-LOG_TAIL_LINES:])
        except Exception as err:  # said in the log's place: the worker must not die silently
            log = f"the log cannot be read: {describe(err)}\n"
        try:
            series, note = ws.jobs.metrics(name), None
        except Exception as err:  # the log is still worth showing without the chart
            series, note = [], describe(err)
        self.post_message(JobDetail(name, log, series, note))

    @on(JobSubmitted)
    def _job_submitted(self, message: JobSubmitted) -> None:
        """A job submitted from the console: the jobs cursor goes to it (its log and chart load)
        as soon as the jobs pane lists it; the jobs area is read now rather than on its cadence."""
        self._follow_job = message.name
        if self._select_submitted():
            self._follow_detail()
        elif self._follow_job is not None:
            self.read("jobs")

    def _select_submitted(self) -> bool:
        """The cursor onto the job submitted from here, once the jobs pane lists it (the caller
        loads its detail)."""
        name = self._follow_job
        panes = self.query(f"#{JOBS}")
        if name is None or not panes:
            return False
        pane = panes.first()
        if pane.select_job(name):
            self._follow_job = None
            pane.query_one(DataTable).focus()
            return True
        if self.snapshot is not None and any(job.name == name for job in self.snapshot.jobs or ()):
            self._follow_job = None  # listed, but the filter hides it: say so rather than wait
            self.notify(f"{name} is submitted; the filter {self.filter_text!r} hides it", timeout=6, markup=False)
        return False

    @on(JobDetail)
    def _job_detail(self, message: JobDetail) -> None:
        pane = self.query_one(f"#{JOBS}")
        pane.show_detail(message.log, message.name)
        pane.show_metrics(message.name, message.series, message.note)

    def on_drift_pane_feature_chosen(self, event) -> None:  # DriftPane.FeatureChosen
        """Enter on a feature: its baseline and production shares per bin, from the report the
        snapshot already holds (monitor runs compute them), drawn in the drift pane."""
        report = self.snapshot.reports.get(event.monitor) if self.snapshot else None
        feature = next((f for f in report.features if f.feature == event.feature), None) if report else None
        pane = self.query_one(f"#{DRIFT}")
        if feature is None or not feature.bins:
            pane.clear_histograms()
            self.notify(f"{event.feature}: this report has no histogram (too few rows, or made before "
                        "reports carried bins): run the monitor again with m", timeout=6)
            return
        pane.show_histograms(feature.feature, list(feature.baseline_share), list(feature.production_share),
                             list(feature.bins), monitor=event.monitor)


def said_once(errors: dict[str, str]) -> str | None:
    """The header's error text: areas that failed for one reason (no credential, the daemon
    down) share it, said once, and first words carry the meaning."""
    by_message: dict[str, list[str]] = {}
    for area, message in errors.items():
        by_message.setdefault(message, []).append(area)
    if len(by_message) == 1 and len(errors) > 1:
        return next(iter(by_message))
    return "; ".join(f"{', '.join(areas)}: {message}" for message, areas in by_message.items()) or None
