"""The console: five live panes over one workspace, and the keys that change it.

Every backend call runs in a thread worker; the refresh re-arms itself with `set_timer` only
after the previous one finished, so polls never overlap, and panes update by diffing keyed rows.
Each mutating action asks first (ConfirmModal or the traffic preview) and is refused outright in
read-only mode. Errors land in the header and the pane, never as a crash.
"""

from __future__ import annotations

import time
from pathlib import Path
from collections.abc import Callable
from typing import TYPE_CHECKING

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Grid
from textual.widgets import DataTable, Static
from textual.worker import Worker, WorkerState

from console.ui.footer import KeyFooter
from console.ui.screens.modals import ConfirmModal, HelpModal, InputModal, PickModal, ProgressModal, TrafficModal
from console.ui.table import FitTable

if TYPE_CHECKING:
    from console.workspace import Workspace
    from console.ui.snapshot import Snapshot

REFRESH_S = 2.0
PANES = ("jobs", "quotas", "compute", "endpoints", "drift")


def _pane_classes() -> dict[str, type]:
    """Imported after the first frame: the panes (and the records they show) cost a fifth of
    the start-up, and the header and grid can draw without them."""
    from console.ui.panes.compute import ComputePane
    from console.ui.panes.drift import DriftPane
    from console.ui.panes.endpoints import EndpointsPane
    from console.ui.panes.jobs import JobsPane
    from console.ui.panes.quotas import QuotasPane

    # Mounted in grid order: endpoints get the whole middle row (their traffic split and health
    # are what an operator watches), compute and drift share the bottom one.
    return {"jobs": JobsPane, "quotas": QuotasPane, "endpoints": EndpointsPane, "compute": ComputePane,
            "drift": DriftPane}
MUTATING = {"stop_idle", "traffic", "rollback", "cancel_job", "run_monitor", "submit", "deploy_green"}
# The command palette's (ctrl+p) entry for each action: its title and what it does.
PALETTE = {
    "submit": ("Submit job", "Submit a job YAML from specs/jobs or a path: lint, overrides, confirm"),
    "deploy_green": ("Deploy green", "Create green from a registered model version, at 0 % traffic"),
    "traffic": ("Traffic", "Move the traffic split of the selected endpoint (sliders, presets, preview)"),
    "rollback": ("Rollback", "All live traffic back to the stable deployment, mirroring off"),
    "stop_idle": ("Stop idle compute", "Stop the selected idle compute instance, or all of them"),
    "cancel_job": ("Cancel job", "Cancel the selected job"),
    "run_monitor": ("Run monitor", "Run the selected drift monitor now"),
    "refresh": ("Refresh", "Read the workspace again now"),
    "zoom": ("Zoom", "Show the focused pane full screen (esc comes back)"),
    "filter": ("Filter", "Keep the rows whose name contains a text (!text inverts)"),
    "jump": ("Jump to pane", "Jump to a pane by name"),
    "help": ("Help: keys", "Every key of the console, with the id that remaps it"),
}
GREEN_SPEC = Path("endpoints") / "green-deployment.yml"  # under the specs folder


class HeaderBar(Static):
    """Workspace, backend, time since the last refresh, connection state."""

    def show(self, ws: Workspace, last: float | None, error: str | None, read_only: bool) -> None:
        age = "never" if last is None else f"{time.monotonic() - last:.0f}s ago"
        state = f"[red]error: {error}[/red]" if error else ("[green]connected[/green]" if last else "connecting…")
        mode = "  [yellow]READ-ONLY[/yellow]" if read_only else ""
        where = f"  filter: {self.app.filter_text}" if getattr(self.app, "filter_text", "") else ""
        self.update(f"[b]amlops[/b]  {ws.name} ({ws.backend})  refreshed {age}  {state}{mode}{where}")


class AmlopsApp(App[None]):
    CSS_PATH = Path(__file__).with_name("app.tcss")  # absolute: subclasses may live anywhere
    TITLE = "amlops"
    # The footer shows the bindings in this order and leaves out the keys that do not fit whole:
    # the actions first, help and quit early enough to fit 80 columns, then the rest (every
    # action key fits 120). The footer's label is short; help shows the tooltip.
    BINDINGS = [
        Binding("g", "deploy_green", "Deploy green", id="deploy_green",
                tooltip="Deploy a model version as green, at 0 %"),
        Binding("t", "traffic", "Traffic", id="traffic", tooltip="Move the selected endpoint's traffic"),
        Binding("b", "rollback", "Rollback", id="rollback", tooltip="All traffic back to stable, mirror off"),
        Binding("x", "stop_idle", "Stop idle", id="stop_idle", tooltip="Stop the selected (or every) idle instance"),
        Binding("question_mark", "help", "Help", id="help", tooltip="These keys, with the ids that remap them"),
        Binding("q", "quit", "Quit", id="quit", tooltip="Quit"),
        Binding("s", "submit", "Submit", id="submit", tooltip="Submit a job YAML: lint, overrides, confirm"),
        Binding("c", "cancel_job", "Cancel", id="cancel_job", tooltip="Cancel the selected job"),
        Binding("m", "run_monitor", "Monitor", id="run_monitor", tooltip="Run the selected drift monitor now"),
        Binding("z", "zoom", "Zoom", id="zoom", tooltip="Zoom the focused pane (esc comes back)"),
        Binding("slash", "filter", "Filter", id="filter", tooltip="Filter every pane's rows by name"),
        Binding("colon", "jump", "Pane", id="jump", tooltip="Jump to a pane by name"),
        Binding("r", "refresh", "Refresh", id="refresh", tooltip="Read the workspace again now"),
        Binding("escape", "back", "Back", id="back", show=False, tooltip="Back from the zoomed pane"),
        Binding("1", "focus_pane('jobs')", "Jobs", id="pane.jobs", show=False, tooltip="Go to the jobs pane"),
        Binding("2", "focus_pane('quotas')", "Quotas", id="pane.quotas", show=False, tooltip="Go to the quotas pane"),
        Binding("3", "focus_pane('compute')", "Compute", id="pane.compute", show=False,
                tooltip="Go to the compute pane"),
        Binding("4", "focus_pane('endpoints')", "Endpoints", id="pane.endpoints", show=False,
                tooltip="Go to the endpoints pane"),
        Binding("5", "focus_pane('drift')", "Drift", id="pane.drift", show=False, tooltip="Go to the drift pane"),
    ]

    def __init__(self, workspace: Workspace, *, read_only: bool = False, refresh_s: float = REFRESH_S,
                 started_at: float | None = None, specs: Path | None = None,
                 demo: Callable[..., int] | None = None) -> None:
        """`specs`: the project's specs folder (jobs to submit, green's deployment spec), which the
        CLI finds; `demo`: sets the demo project up (`out=` a file for its progress), offered on an
        empty workspace; None where there is no demo (it is the local workspace's)."""
        super().__init__()
        self.ws = workspace
        self.read_only = read_only or workspace.read_only
        self.specs = specs
        self.demo = demo
        self._missing: frozenset[str] | None = None
        self.refresh_s = refresh_s
        self.started_at = started_at
        self.snapshot: Snapshot | None = None
        self.last_refresh: float | None = None
        self.last_error: str | None = None
        self.zoomed: str | None = None
        self.first_frame_s: float | None = None
        self._offered = False
        self.filter_text = ""
        self.keymap: dict[str, str] = {}  # binding id -> key, from the config file
        self._detail_status: tuple[str, str] | None = None  # (job, status) the detail was last read for

    def compose(self) -> ComposeResult:
        yield HeaderBar(id="header")
        yield Grid(id="panes")
        yield KeyFooter(compact=True)  # compact: every key fits 120 columns

    def on_mount(self) -> None:
        self._show_header()
        self.set_interval(1.0, self._show_header)
        self.call_after_refresh(self._first_frame)
        self.call_after_refresh(self._mount_panes)

    async def _mount_panes(self) -> None:
        await self._main.query_one("#panes").mount_all(cls(id=name) for name, cls in _pane_classes().items())
        self.refresh_data()

    @property
    def _main(self):
        """The console's own screen: queries must not land on a modal that is up."""
        return self.screen_stack[0]

    def _first_frame(self) -> None:
        if self.started_at is not None:
            self.first_frame_s = time.perf_counter() - self.started_at
            self.log(f"first frame {self.first_frame_s * 1000:.0f} ms after start")

    # --- refresh -----------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="refresh", exit_on_error=False)
    def refresh_data(self) -> Snapshot:
        from console.ui.snapshot import fetch, unavailable

        if self._missing is None:
            self._missing = unavailable(self.ws)  # capabilities do not change: asked once
        return fetch(self.ws, missing=self._missing)

    @on(Worker.StateChanged)
    def _worker_done(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if worker.group == "refresh" and worker.state in (WorkerState.SUCCESS, WorkerState.ERROR):
            if worker.state == WorkerState.SUCCESS:
                self.apply(worker.result)
            else:
                self.last_error = str(worker.error)
                self._show_header()
            self.set_timer(self.refresh_s, self.refresh_data)  # re-armed only now: polls never overlap
        elif worker.group in ("action", "lint") and worker.state == WorkerState.ERROR:
            error = worker.error
            self.notify(getattr(error, "message", None) or str(error), title="failed", severity="error", timeout=8)
        elif worker.group == "action" and worker.state == WorkerState.SUCCESS and worker.result:
            self.notify(str(worker.result), title="done", timeout=5)
            self.refresh_data()

    def apply(self, snapshot: Snapshot) -> None:
        """Hand a snapshot to every pane (skipped while a modal is up: it would redraw under it)."""
        self.snapshot = snapshot
        self.last_refresh = time.monotonic()
        self.last_error = "; ".join(f"{area}: {msg}" for area, msg in snapshot.errors.items()) or None
        if len(self.screen_stack) == 1:
            shown = filtered(snapshot, self.filter_text)
            with self.batch_update():
                for pane in self._main.query("Pane"):
                    pane.apply(shown)
        self._show_header()
        self._offer_demo(snapshot)
        if len(self.screen_stack) == 1:
            self._follow_detail()

    def _offer_demo(self, snapshot: Snapshot) -> None:
        """An empty workspace: offer to set up the demo project, once."""
        if self._offered or self.read_only or snapshot.errors or self.demo is None:
            return
        self._offered = True
        if not (snapshot.jobs or snapshot.computes or snapshot.endpoints):
            self.push_screen(ConfirmModal("This workspace is empty. Set up the demo?",
                                          "compute, data and environment from specs/, the training job, the "
                                          "model registered and served on churn-ep as blue, the drift monitor"),
                             lambda yes: yes and self._set_up_demo())

    @work(thread=True, group="action", exit_on_error=False)
    def _set_up_demo(self) -> str:
        app = self

        class Progress:
            def write(self, text: str) -> None:
                if text.strip():
                    app.call_from_thread(app.notify, text.strip(), title="demo", timeout=6)

            def flush(self) -> None:
                pass

        self.demo(out=Progress())
        return "the demo is set up"

    def _show_header(self) -> None:
        for header in self._main.query(HeaderBar):  # none while the app is shutting down
            header.show(self.ws, self.last_refresh, self.last_error, self.read_only)

    # --- navigation --------------------------------------------------------------------------

    def action_focus_pane(self, name: str) -> None:
        pane = self._main.query_one(f"#{name}")
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
        self._main.query_one("#panes").add_class("-zoom")
        for other in self._main.query("Pane"):
            other.set_class(other is pane, "-zoomed")
        for table in pane.query(FitTable):
            table.fit_to_width(False)  # zoomed: every column, scrolling sideways if it must

    @on(DataTable.RowSelected)
    def _enter_zooms(self, event: DataTable.RowSelected) -> None:
        if self.zoomed is None:
            self.action_zoom()

    def action_back(self) -> None:
        if self.zoomed is not None:
            self.zoomed = None
            self._main.query_one("#panes").remove_class("-zoom")
            for pane in self._main.query("Pane"):
                pane.remove_class("-zoomed")
            for table in self._main.query(FitTable):
                table.fit_to_width(True)

    def action_refresh(self) -> None:
        self.refresh_data()

    def action_help(self) -> None:
        rows = [(self.shown_key(b), b.tooltip or b.description, b.id or "") for b in self.BINDINGS
                if b.id and (not self.read_only or b.action.split("(")[0] not in MUTATING)]
        self.push_screen(HelpModal(rows))

    def set_keymap(self, keymap: dict[str, str]) -> None:
        """Remap bindings by id (the config file's `keymap`), remembered for help and the palette."""
        self.keymap = dict(keymap)
        super().set_keymap(keymap)

    def key_of(self, binding: Binding) -> str:
        return self.keymap.get(binding.id or "", binding.key)

    def shown_key(self, binding: Binding) -> str:
        """The key in force as the footer writes it ("?", not "question_mark")."""
        return self.get_key_display(Binding(self.key_of(binding), binding.action))

    def get_system_commands(self, screen):
        """The command palette: Textual's own entries, then one per console action (read-only
        leaves out the ones that change something), each naming the key that does the same."""
        from textual.app import SystemCommand

        yield from super().get_system_commands(screen)
        for binding in self.BINDINGS:
            action = binding.action.split("(")[0]
            if action not in PALETTE or not self.check_action(action, ()):
                continue
            title, what = PALETTE[action]
            yield SystemCommand(title, f"{what}  (key {self.shown_key(binding)})",
                                lambda action=binding.action: self.run_action(action))
        for index, name in enumerate(PANES, start=1):
            yield SystemCommand(f"Go to {name}", f"Focus the {name} pane  [key {index}]",
                                lambda name=name: self.action_focus_pane(name), discover=False)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Read-only hides every mutating key from the footer and refuses it.
        return not (self.read_only and action in MUTATING)

    # --- actions -----------------------------------------------------------------------------

    def action_stop_idle(self) -> None:
        pane = self._main.query_one("#compute")
        if self.snapshot is None:
            return
        idle = pane.idle_instances(self.snapshot)
        selected = pane.selected_compute()
        targets = [c for c in idle if c.name == selected] or idle
        if not targets:
            self.notify("no idle compute instance is running", timeout=4)
            return
        from console import costs

        saved = sum(costs.hourly_cost(c.size) or 0.0 for c in targets)
        names = ", ".join(c.name for c in targets)
        self.push_screen(ConfirmModal(f"Stop {names}?", f"saves ${saved:.2f}/hour while stopped"),
                         lambda yes: yes and self._stop([c.name for c in targets]))

    @work(thread=True, group="action", exit_on_error=False)
    def _stop(self, names: list[str]) -> str:
        for name in names:
            op = self.ws.compute.stop(name)
            self.ws.operations.wait(op.id, timeout_s=60)
        return f"stopped {', '.join(names)}"

    def action_traffic(self) -> None:
        selected = self._main.query_one("#endpoints").selected()
        endpoint = self._endpoint(selected[0] if selected else None)
        if endpoint is None:
            return
        if not endpoint.deployments:
            self.notify(f"{endpoint.name} has no deployments", timeout=4)
            return
        live = {d.name: endpoint.traffic.live.get(d.name, 0) for d in endpoint.deployments}
        self.push_screen(TrafficModal(endpoint.name, live),
                         lambda split: split is not None and self._set_traffic(endpoint.name, split))

    @work(thread=True, group="action", exit_on_error=False)
    def _set_traffic(self, endpoint: str, split: dict[str, int]) -> str:
        self.ws.endpoints.set_traffic(endpoint, split)
        return f"{endpoint}: " + " ".join(f"{k}={v}" for k, v in split.items())

    def action_rollback(self) -> None:
        selected = self._main.query_one("#endpoints").selected()
        endpoint = self._endpoint(selected[0] if selected else None)
        if endpoint is None:
            return
        self.push_screen(ConfirmModal(f"Roll back {endpoint.name}?",
                                      "all live traffic to the stable deployment, mirroring off"),
                         lambda yes: yes and self._rollback(endpoint.name))

    @work(thread=True, group="action", exit_on_error=False)
    def _rollback(self, endpoint: str) -> str:
        self.ws.endpoints.rollback(endpoint)
        live = self.ws.endpoints.get(endpoint).traffic.live
        return f"{endpoint} rolled back: " + " ".join(f"{k}={v}" for k, v in live.items() if v)

    def action_cancel_job(self) -> None:
        name = self._main.query_one("#jobs").selected_job()
        if name is None:
            self.notify("select a job in the jobs pane first", timeout=4)
            return
        self.push_screen(ConfirmModal(f"Cancel job {name}?", "its whole process group is stopped"),
                         lambda yes: yes and self._cancel(name))

    @work(thread=True, group="action", exit_on_error=False)
    def _cancel(self, name: str) -> str:
        self.ws.jobs.cancel(name)
        return f"cancel requested for {name}"

    def action_run_monitor(self) -> None:
        pane = self._main.query_one("#drift")
        name = pane.selected_monitor() or next((m.name for m in (self.snapshot.monitors or [])), None) \
            if self.snapshot else None
        if name is None:
            self.notify("no monitor to run", timeout=4)
            return
        self.push_screen(ConfirmModal(f"Run monitor {name} now?", "over its lookback window, ending now"),
                         lambda yes: yes and self._run_monitor(name))

    @work(thread=True, group="action", exit_on_error=False)
    def _run_monitor(self, name: str) -> str:
        op = self.ws.operations.wait(self.ws.monitors.run(name).id, timeout_s=600)
        if op.status != "Succeeded":
            raise RuntimeError(f"monitor {name}: {op.error}")
        report = self.ws.monitors.latest(name)
        return f"{name}: {'ALERT' if report and report.alert else 'no alert'}"

    def action_filter(self) -> None:
        """k9s's filter: rows whose name contains the text; `!text` keeps the others; empty clears."""
        self.push_screen(InputModal("Filter (name contains; !text inverts; empty clears)", value=self.filter_text),
                         self._set_filter)

    def _set_filter(self, text: str | None) -> None:
        if text is None:
            return
        self.filter_text = text.strip()
        if self.snapshot is not None:
            self.apply(self.snapshot)

    def action_jump(self) -> None:
        self.push_screen(PickModal("Jump to", list(PANES)), lambda name: name and self.action_focus_pane(name))

    def action_submit(self) -> None:
        """Pick a job YAML from specs/jobs (or type a path), lint it, set overrides, confirm, submit."""
        found = sorted((self.specs / "jobs").glob("*.y*ml")) if self.specs else []
        choices = [str(p.relative_to(self.specs.parent)) for p in found]
        self.push_screen(PickModal("Submit which job?", [*choices, "another path…"]), self._submit_chosen)

    def _submit_chosen(self, choice: str | None) -> None:
        if choice is None:
            return
        if choice == "another path…":
            self.push_screen(InputModal("Job YAML path", placeholder="specs/jobs/train-job.yml"),
                             lambda path: path and self._lint_job(path))
        else:
            self._lint_job(str(self.specs.parent / choice))

    @work(thread=True, group="lint", exit_on_error=False)
    def _lint_job(self, path: str) -> None:
        from console.lint import lint

        result = lint([path])
        findings = "\n".join(f"{f.severity} {f.rule}: {f.message}" for f in result.findings) or "lint: clean"
        if result.exit_code == 2:
            self.call_from_thread(self.notify, findings, title=f"{path} is not valid", severity="error", timeout=10)
            return
        self.call_from_thread(self.push_screen, InputModal(
            f"Submit {Path(path).name}: overrides (KEY=VALUE, space separated; empty for none)",
            placeholder="inputs.reg_rate=0.1", detail=findings), lambda text: self._confirm_submit(path, text))

    def _confirm_submit(self, path: str, overrides: str | None) -> None:
        if overrides is None:
            return
        pairs = overrides.split()
        self.push_screen(ConfirmModal(f"Submit {Path(path).name}?", " ".join(pairs) or "no overrides"),
                         lambda yes: yes and self._submit(path, pairs))

    @work(thread=True, group="action", exit_on_error=False)
    def _submit(self, path: str, pairs: list[str]) -> str:
        from console.specs import parse_overrides

        job = self.ws.jobs.submit(path, parse_overrides(pairs))
        return f"submitted {job.name} to {job.compute or 'serverless'}"

    def action_deploy_green(self) -> None:
        """Pick a registered model version and create green from its spec at 0 % traffic."""
        self._pick_model()

    def _green_spec(self) -> Path | None:
        """green-deployment.yml under the specs folder; None (and said) when there is none."""
        spec = self.specs / GREEN_SPEC if self.specs else None
        if spec is None or not spec.is_file():
            where = f"{self.specs}" if self.specs else "no specs folder (run amlops from the project, or --specs DIR)"
            self.call_from_thread(self.notify, f"no {GREEN_SPEC} in {where}", severity="error", timeout=8)
            return None
        return spec

    @work(thread=True, group="lint", exit_on_error=False)
    def _pick_model(self) -> None:
        import yaml

        spec = self._green_spec()
        if spec is None:
            return
        endpoint = yaml.safe_load(spec.read_text())["endpoint_name"]
        versions = [f"{m.name}:{m.version}" for m in self.ws.models.list()]
        if not versions:
            self.call_from_thread(self.notify, "no registered model: train and register one first", timeout=6)
            return
        self.call_from_thread(self.push_screen, PickModal("Deploy which model version as green?", versions),
                              lambda ref: ref and self.push_screen(
                                  ConfirmModal(f"Deploy {ref} as green on {endpoint}?",
                                               "from specs/endpoints/green-deployment.yml, at 0 % traffic"),
                                  lambda yes: yes and self._start_green(endpoint, ref)))

    def _start_green(self, endpoint: str, ref: str) -> None:
        progress = ProgressModal(f"Deploying {ref} as green on {endpoint}")
        self.push_screen(progress)
        self._deploy_green(endpoint, ref, progress)

    @work(thread=True, group="action", exit_on_error=False)
    def _deploy_green(self, endpoint: str, ref: str, progress: ProgressModal) -> str:
        """Create green from its spec at 0 %, reporting each step until its instances are ready."""

        def report(step: str, line: str) -> None:
            if progress.is_attached:  # hidden with esc: the notification at the end still comes
                self.call_from_thread(progress.report, step, line)

        report("spec", f"specs/endpoints/green-deployment.yml with model {ref}")
        try:
            op = self.ws.endpoints.create_deployment(str(self.specs / GREEN_SPEC), {"model": f"azureml:{ref}"})
            report("op", f"operation {op.id}: {op.status}")
            while not op.done:
                op = self.ws.operations.wait(op.id, timeout_s=0.5)  # the poll interval, not a guess
                report("op", f"operation {op.id}: {op.status}")
                green = self._deployment(endpoint, "green")
                if green is not None:
                    report("instances", f"green {green.provisioning_state}: {green.ready_instances} of "
                           f"{green.instance_count} instances loaded the model and pass their readiness probe")
            if op.status != "Succeeded":
                raise RuntimeError(f"green: {op.error}")
        except Exception as err:
            if progress.is_attached:
                message = getattr(err, "message", None) or str(err)
                self.call_from_thread(progress.finish, message, ok=False)
            raise
        live = self.ws.endpoints.get(endpoint).traffic.live.get("green", 0)
        done = f"green ({ref}) is ready at {live} % traffic: press t to ramp it"
        if progress.is_attached:
            self.call_from_thread(progress.finish, done, ok=True)
        return done

    def _deployment(self, endpoint: str, name: str):
        found = self.ws.endpoints.get(endpoint)
        return next((d for d in found.deployments if d.name == name), None)

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
        """While the highlighted job runs, its log and metrics are read again on every refresh
        (and once more when it ends): the detail streams without a poll of its own."""
        panes = self._main.query("#jobs")
        pane = panes.first() if panes else None
        name = pane.selected_job() if pane else None
        job = pane.job(name) if name else None  # the record the pane was just given
        if job is None:
            return
        seen, self._detail_status = self._detail_status, (job.name, job.status)
        if not job.is_terminal or seen != (job.name, job.status):
            self._load_detail(job.name)

    @work(thread=True, exclusive=True, group="log", exit_on_error=False)
    def _load_detail(self, name: str) -> None:
        from console.ui.panes.jobs import LOG_TAIL_LINES

        lines = list(self.ws.jobs.logs(name))
        pane = self._main.query_one("#jobs")
        self.call_from_thread(pane.show_detail, "".join(lines[-LOG_TAIL_LINES:]), name)
        try:
            series, note = self.ws.jobs.metrics(name), None
        except Exception as err:  # the log is still worth showing without the chart
            series, note = [], getattr(err, "message", None) or f"{type(err).__name__}: {err}"
        self.call_from_thread(pane.show_metrics, name, series, note)

    def on_drift_pane_feature_chosen(self, event) -> None:  # DriftPane.FeatureChosen
        """Enter on a feature: its baseline and production shares per bin, from the report the
        snapshot already holds (monitor runs compute them), drawn in the drift pane."""
        report = self.snapshot.reports.get(event.monitor) if self.snapshot else None
        feature = next((f for f in report.features if f.feature == event.feature), None) if report else None
        pane = self._main.query_one("#drift")
        if feature is None or not feature.bins:
            pane.clear_histograms()
            self.notify(f"{event.feature}: this report has no histogram (too few rows, or made before "
                        "reports carried bins): run the monitor again with m", timeout=6)
            return
        pane.show_histograms(feature.feature, list(feature.baseline_share), list(feature.production_share),
                             list(feature.bins), monitor=event.monitor)

    def _endpoint(self, name: str | None):
        endpoints = (self.snapshot.endpoints if self.snapshot else None) or []
        found = next((e for e in endpoints if e.name == name), endpoints[0] if endpoints else None)
        if found is None:
            self.notify("no endpoint", timeout=4)
        return found


def filtered(snapshot: Snapshot, text: str) -> Snapshot:
    """The snapshot with only the jobs, computes, endpoints and monitors whose name matches."""
    if not text:
        return snapshot
    import dataclasses

    invert, needle = text.startswith("!"), text.lstrip("!").lower()

    def keep(items):
        if items is None:
            return None
        return [item for item in items if (needle in item.name.lower()) != invert]

    return dataclasses.replace(snapshot, jobs=keep(snapshot.jobs), computes=keep(snapshot.computes),
                               endpoints=keep(snapshot.endpoints), monitors=keep(snapshot.monitors))
