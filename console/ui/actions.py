"""The console's seven flows that change the workspace (stop idle compute, traffic, rollback,
cancel a job, run a monitor, submit a job, deploy green) and the demo set-up.

Each flow is a few lines: gather what is selected on the UI thread, ask (`ask`: "no" is the
default), then `run` its work in a thread worker. What a question says comes from what the
screen last read (`host.snapshot`) and the workspace in use: the split before and after, the
deployment a rollback goes to and whether it is ready, what green costs and the quota it takes,
each backend's own words for a cancel and a monitor's window; a job that has ended is said to
have ended, without asking. The work calls the backend only, waits for the
Operation it gets back, and says what happened: `ActionDone.ok` only when the backend says the
change Succeeded, with the state the backend reports afterwards. Dependencies go one way: the
screen calls these flows; they know it only as the node their workers and modals hang off
(Textual's own `run_worker`, `post_message`, `notify`, `app.push_screen`) and report back with
messages (console/ui/messages.py): progress as `ActionStep`, a worker's finding that the flow
goes on from as `Linted` or `ModelsListed` (the screen hands it back to `linted`, `pick_green`).
A worker that raises reports nothing itself: the screen's `Worker.StateChanged` handler shows
the error, rendered by `console.errors.describe`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from console.ui.messages import ActionDone, ActionStarted, ActionStep, JobSubmitted, Linted, ModelsListed
from console.ui.screens.modals import BusyModal, ConfirmModal, InputModal, PickModal, TrafficModal, split_change

if TYPE_CHECKING:
    from textual.widget import Widget

    from console.domain import Compute, Endpoint, Job, Operation
    from console.ui.snapshot import Snapshot
    from console.workspace import Workspace

GREEN_SPEC = Path("endpoints") / "green-deployment.yml"  # under the specs folder
OTHER_PATH = "another path…"
Work = Callable[[], tuple[bool, str]]


def _split(split: dict[str, int]) -> str:
    return " ".join(f"{k}={v}" for k, v in split.items() if v) or "no live traffic"


def _ready(deployment) -> str:
    return f"{deployment.ready_instances} of {deployment.instance_count} instances ready"


def _plans_for(specs: Path | None, endpoint: str) -> dict[str, str]:
    """The rollout plans in specs/rollouts/ for `endpoint`: their paths (as shown) and what they
    do, read by the plan's own reader (a plan with a bad field says its first problem)."""
    import yaml

    from console import rollout_plan

    found: dict[str, str] = {}
    for path in sorted((specs / "rollouts").glob("*.y*ml")) if specs else []:
        try:
            data = yaml.safe_load(path.read_text())
        except (OSError, yaml.YAMLError):
            continue
        if not rollout_plan.is_plan(data) or data.get("endpoint") != endpoint:
            continue
        plan, problems = rollout_plan.problems(data, path.stem)
        found[str(path.relative_to(specs.parent))] = (
            f"{plan.candidate} replaces {plan.stable}: {' → '.join(f'{s.weight} %' for s in plan.steps)}, each step "
            "analysed; rolled back on failure" if plan else f"{problems[0].field}: {problems[0].message}")
    return found


def _failed(what: str, op: Operation) -> tuple[bool, str]:
    still = op.status == "InProgress"
    return False, f"{what}: {'still in progress when the wait ended' if still else op.status}" + \
        (f": {op.error}" if op.error else "")


class Actions:
    def __init__(self, host: Widget) -> None:
        """`host`: the node (the console's screen) that runs the workers and gets the messages."""
        self.host = host
        self._busy: BusyModal | None = None  # the lint's spinner, until its findings are in

    @property
    def ws(self) -> Workspace:
        return self.host.app.ws

    @property
    def snapshot(self) -> Snapshot | None:
        """What the screen last read (None before the first read)."""
        return getattr(self.host, "snapshot", None)

    def _endpoint(self, name: str) -> Endpoint | None:
        return next((e for e in (self.snapshot.endpoints if self.snapshot else None) or [] if e.name == name), None)

    def _job(self, name: str) -> Job | None:
        return next((j for j in (self.snapshot.jobs if self.snapshot else None) or [] if j.name == name), None)

    # --- the one helper --------------------------------------------------------------------

    def ask(self, action: str, question: str, detail: str, work: Work, progress: str | None = None,
            warning: str = "") -> None:
        """Confirm first (only y says yes), then run the work."""
        self.host.app.push_screen(ConfirmModal(question, detail, warning),
                                  lambda yes: yes and self.run(action, work, progress))

    def run(self, action: str, work: Work, progress: str | None = None) -> None:
        """Run `work` in a thread worker named `action`; with `progress`, its steps are shown in a
        progress modal of that title until it ends."""
        if progress is not None:
            self.host.post_message(ActionStarted(action, progress))
        self.in_thread(action, partial(self._run, action, work), group="action")

    def in_thread(self, action: str, work: Callable[[], None], group: str) -> None:
        """A worker of `action`'s; what it raises reaches the screen, named after the action."""
        self.host.run_worker(work, thread=True, group=group, name=action, exit_on_error=False)

    def _run(self, action: str, work: Work) -> None:
        ok, message = work()
        self.host.post_message(ActionDone(action, ok, message))

    def step(self, action: str, step: str, line: str) -> None:
        self.host.post_message(ActionStep(action, step, line))

    # --- compute ---------------------------------------------------------------------------

    def stop_idle(self, targets: list[Compute]) -> None:
        from console import costs
        from console.format import usd

        if not targets:
            self.host.notify("no idle compute instance is running", timeout=4)
            return
        saved = costs.known_sum(costs.cost_per_hour(c) for c in targets)
        names = [c.name for c in targets]
        self.ask("stop_idle", f"Stop {', '.join(names)}?", f"saves {usd(saved)}/hour while stopped",
                 partial(self._stop, names))

    def _stop(self, names: list[str]) -> tuple[bool, str]:
        stopped, problems = [], []
        for name in names:
            op = self.ws.operations.wait(self.ws.compute.stop(name).id, timeout_s=60)
            if op.status == "Succeeded":
                stopped.append(name)
            else:
                problems.append(_failed(name, op)[1])
        said = [f"stopped {', '.join(stopped)}"] if stopped else []
        return not problems, "; ".join(said + problems)

    # --- endpoints -------------------------------------------------------------------------

    def traffic(self, endpoint: str, live: dict[str, int]) -> None:
        """The sliders, then the same confirmation as every write, with the split before → after."""
        def chosen(split: dict[str, int] | None) -> None:
            if split is not None:
                self.ask("traffic", f"Set the traffic of {endpoint}?", f"live traffic: {split_change(live, split)}",
                         partial(self._set_traffic, endpoint, split, live),
                         warning=self._unready(endpoint, [n for n, share in split.items() if share > live.get(n, 0)]))

        self.host.app.push_screen(TrafficModal(endpoint, live, partial(self._capacity, endpoint, live)), chosen)

    def _capacity(self, endpoint: str, live: dict[str, int], split: dict[str, int]) -> str:
        """The sliders' preview of the capacity check the rollout controller makes before a step:
        each deployment the split gives more traffic, against what its instances admit."""
        from console import canary

        record = self._endpoint(endpoint)
        metrics = (self.snapshot.metrics.get(endpoint) if self.snapshot else None) or ()
        if record is None:
            return ""
        checks = canary.capacity_of_split(record.deployments, metrics, split, before=live)
        return "\n".join(("⚠ " if c.fits is False else "") + c.reason for c in checks.values())

    def _unready(self, endpoint: str, names: list[str]) -> str:
        """What to say of deployments about to take traffic that are not all ready ("" if none)."""
        record = self._endpoint(endpoint)
        said = [f"{d.name} has {_ready(d)}" for d in (record.deployments if record else ()) if d.name in names
                and d.ready_instances < d.instance_count]
        return "; ".join(said) + (": a deployment serves only from its ready instances" if said else "")

    def _set_traffic(self, endpoint: str, split: dict[str, int], read: dict[str, int]) -> tuple[bool, str]:
        # `read`: the split the sliders started from; if someone changed it meanwhile, refused.
        return self._split_update(endpoint, "traffic", self.ws.endpoints.set_traffic(endpoint, split, expected=read))

    def _split_update(self, endpoint: str, what: str, op: Operation) -> tuple[bool, str]:
        """Wait for a traffic update (Azure applies them eventually), then say the split the
        endpoint reports: what it is, not what was asked for."""
        op = self.ws.operations.wait(op.id, timeout_s=60)
        if op.status != "Succeeded":
            return _failed(f"{endpoint} {what}", op)
        said = f"{endpoint} rolled back: " if what == "rollback" else f"{endpoint}: "
        return True, said + _split(dict(self.ws.endpoints.get(endpoint).traffic.live))

    def rollback(self, endpoint: str, live: dict[str, int]) -> None:
        """Name where traffic goes, by the rule the backends' rollback follows
        (`rollout.rollback_split` over the deployments the endpoint has seen at 100 %), with its
        readiness; nothing to go back to is said at once, without asking."""
        from console import rollout
        from console.errors import TrafficRuleError

        record = self._endpoint(endpoint)
        history = getattr(record, "full_history", None)  # None: the backend does not say
        if record is None or history is None:  # the backend still picks it, and says where it went
            self.ask("rollback", f"Roll back {endpoint}?", "all live traffic to the stable deployment, mirroring off",
                     partial(self._rollback, endpoint, live))
            return
        try:
            split = rollout.rollback_split([d.name for d in record.deployments], list(history), live)
        except TrafficRuleError as err:
            self.host.notify(f"{endpoint}: {err}", title="nothing to roll back", severity="warning", timeout=8,
                             markup=False)
            return
        target = next(d for d in record.deployments if split.get(d.name) == 100)
        mirror = {k: v for k, v in record.traffic.mirror.items() if v}
        mirroring = "mirroring off" + (f" (now {rollout.describe(mirror)})" if mirror else "")
        warning = ""
        if target.ready_instances == 0:
            warning = (f"{target.name} HAS NO READY INSTANCE ({_ready(target)}): after the rollback the endpoint "
                       "has nothing to serve from")
        elif target.ready_instances < target.instance_count:
            warning = f"{target.name} is not fully ready ({_ready(target)}): it serves with less capacity"
        self.ask("rollback", f"Roll back {endpoint} to {target.name}?",
                 f"all live traffic to {target.name} ({_ready(target)}), {mirroring}\n"
                 f"live traffic: {split_change(live, split)}", partial(self._rollback, endpoint, live), warning=warning)

    def _rollback(self, endpoint: str, read: dict[str, int]) -> tuple[bool, str]:
        return self._split_update(endpoint, "rollback", self.ws.endpoints.rollback(endpoint, expected=read))

    def start_rollout(self, specs: Path | None, endpoint: str) -> None:
        """No rollout of `endpoint` yet: pick one of its plans in specs/rollouts/, confirm, start it
        (the daemon, or `amlops rollout run` on Azure, drives it), then show it."""
        from console.workspace import refuse_if_read_only

        plans = _plans_for(specs, endpoint)
        if not plans:
            where = specs / "rollouts" if specs else "specs/rollouts"
            self.host.notify(f"no rollout of {endpoint}, and no plan for it in {where}", timeout=6, markup=False)
            return
        if self.ws.read_only:
            refuse_if_read_only(self.ws, "rollout start")

        def picked(choice: str | None) -> None:
            if choice:
                self.ask("rollout_start", f"Start the rollout {choice} on {endpoint}?", plans[choice],
                         partial(self._start_rollout, str(specs.parent / choice) if specs else choice, endpoint))

        self.host.app.push_screen(PickModal("Start which rollout plan?", list(plans)), picked)

    def _start_rollout(self, path: str, endpoint: str) -> tuple[bool, str]:
        started = self.ws.rollouts.start(path)
        self.host.app.call_from_thread(self._show_rollout, endpoint)
        host = "the daemon drives it" if self.ws.backend == "local" else "`amlops rollout run` drives it"
        return True, f"started the rollout of {started.candidate} on {endpoint} ({host}): o shows it"

    def _show_rollout(self, endpoint: str) -> None:
        from console.ui.rollout_view import RolloutScreen

        self.host.app.push_screen(RolloutScreen(endpoint))

    # --- jobs and monitors -----------------------------------------------------------------

    def cancel_job(self, name: str) -> None:
        job = self._job(name)
        if job is not None and job.is_terminal:  # Azure refuses it too: say so without asking
            self.host.notify(f"job {name} already {job.status}: nothing to cancel", timeout=5, markup=False)
            return
        how = ("its whole process group is stopped" if self.ws.backend == "local"
               else "Azure cancels the run: it reads CancelRequested, then Canceled once its nodes stop")
        self.ask("cancel_job", f"Cancel job {name}?", how, partial(self._cancel, name))

    def _cancel(self, name: str) -> tuple[bool, str]:
        op = self.ws.operations.wait(self.ws.jobs.cancel(name).id, timeout_s=30)
        if op.status == "InProgress":
            return True, f"cancel requested for {name}: {self.ws.jobs.get(name).status}"
        if op.status != "Succeeded":
            return _failed(f"cancel {name}", op)
        return True, f"{name}: {self.ws.jobs.get(name).status}"

    def run_monitor(self, name: str) -> None:
        if self.ws.backend == "local":  # the daemon's default window: one period of the schedule
            monitor = next((m for m in (self.snapshot.monitors if self.snapshot else None) or [] if m.name == name), None)
            schedule = f" ({monitor.trigger})" if monitor is not None and monitor.trigger else ""
            window = f"over one period of its schedule{schedule}, ending now"
        else:
            window = "over the serving data collected in the last hour, ending now"
        self.ask("run_monitor", f"Run monitor {name} now?", window, partial(self._run_monitor, name))

    def _run_monitor(self, name: str) -> tuple[bool, str]:
        op = self.ws.operations.wait(self.ws.monitors.run(name).id, timeout_s=600)
        if op.status != "Succeeded":
            return _failed(f"monitor {name}", op)
        report = self.ws.monitors.latest(name)
        return True, f"{name}: {'ALERT' if report and report.alert else 'no alert'}"

    # --- submit ----------------------------------------------------------------------------

    def submit(self, specs: Path | None) -> None:
        """Pick a job YAML from specs/jobs (or type a path), lint it, set overrides, confirm, submit."""
        found = sorted((specs / "jobs").glob("*.y*ml")) if specs else []
        choices = [str(p.relative_to(specs.parent)) for p in found]

        def chosen(choice: str | None) -> None:
            if choice == OTHER_PATH:
                self.host.app.push_screen(InputModal("Job YAML path", placeholder="specs/jobs/train-job.yml"),
                                          lambda path: path and self._lint(path, path))
            elif choice is not None:
                self._lint(str(specs.parent / choice), choice)

        self.host.app.push_screen(PickModal("Submit which job?", [*choices, OTHER_PATH]), chosen)

    def _lint(self, path: str, shown: str) -> None:
        """Lint in a worker (the first lint imports azure-ai-ml: seconds), a spinner meanwhile."""
        self._close_busy()
        self._busy = busy = BusyModal(f"Linting {shown}…")
        self.host.app.push_screen(busy)
        self.in_thread("submit", partial(self._lint_in_thread, path, busy), group="lint")

    def _lint_in_thread(self, path: str, busy: BusyModal) -> None:
        from console.lint import lint

        try:
            result = lint([path])
        except BaseException:  # the screen shows the error: the spinner must not stay
            self.host.app.call_from_thread(busy.close)
            raise
        findings = "\n".join(f.format() for f in result.findings) or "lint: clean"
        self.host.post_message(Linted(path, findings, valid=result.exit_code != 2))

    def _close_busy(self) -> None:
        if self._busy is not None:
            self._busy.close()
            self._busy = None

    def linted(self, path: str, findings: str, valid: bool) -> None:
        """The lint of `path` is in: say why it cannot be submitted, or ask for overrides."""
        self._close_busy()
        if not valid:
            self.host.notify(findings, title=f"{path} is not valid", severity="error", timeout=10, markup=False)
            return
        self.host.app.push_screen(InputModal(
            f"Submit {Path(path).name}: overrides (KEY=VALUE, space separated; empty for none)",
            placeholder="inputs.reg_rate=0.1", detail=findings), partial(self._confirm_submit, path))

    def _confirm_submit(self, path: str, overrides: str | None) -> None:
        if overrides is None:
            return
        pairs = overrides.split()
        self.ask("submit", f"Submit {Path(path).name}?", " ".join(pairs) or "no overrides",
                 partial(self._submit, path, pairs))

    def _submit(self, path: str, pairs: list[str]) -> tuple[bool, str]:
        from console.specs import parse_overrides

        job = self.ws.jobs.submit(path, parse_overrides(pairs))
        self.host.post_message(JobSubmitted(job.name))  # the jobs pane's cursor follows it
        return True, f"submitted {job.name} to {job.compute or 'serverless'}"

    # --- deploy green ----------------------------------------------------------------------

    def deploy_green(self, specs: Path | None) -> None:
        """Pick a registered model version and create green from its spec at 0 % traffic."""
        spec = specs / GREEN_SPEC if specs else None
        if spec is None or not spec.is_file():
            where = specs or "no specs folder (run amlops from the project, or --specs DIR)"
            self.host.notify(f"no {GREEN_SPEC} in {where}", severity="error", timeout=8, markup=False)
            return
        self.in_thread("deploy_green", partial(self._list_models, spec), group="lint")

    def _list_models(self, spec: Path) -> None:
        import yaml

        endpoint = yaml.safe_load(spec.read_text())["endpoint_name"]
        versions = [f"{m.name}:{m.version}" for m in self.ws.models.list()]
        self.host.post_message(ModelsListed(spec, endpoint, versions))

    def pick_green(self, spec: Path, endpoint: str, versions: list[str]) -> None:
        """The registered versions are in: pick one, confirm, then deploy it as green."""
        if not versions:
            self.host.notify("no registered model: train and register one first", timeout=6)
            return

        def picked(ref: str | None) -> None:
            if ref:  # its steps show until the instances are ready (esc hides them)
                cost, warning = self._green_cost(spec)
                self.ask("deploy_green", f"Deploy {ref} as green on {endpoint}?",
                         f"from {GREEN_SPEC}, at 0 % traffic\n{cost}", partial(self._green, spec, endpoint, ref),
                         progress=f"Deploying {ref} as green on {endpoint}", warning=warning)

        self.host.app.push_screen(PickModal("Deploy which model version as green?", versions), picked)

    def _green_cost(self, spec: Path) -> tuple[str, str]:
        """What green adds to the bill and the quota it takes, from its spec's instance_type and
        instance_count, the VM catalog and the quotas the screen last read (with Azure's 20 %
        upgrade reserve, as the backends check it); what is not known says "unknown". Returns
        (the line, a warning when it would not fit)."""
        import yaml

        from console import costs
        from console.domain import QuotaUsage
        from console.format import usd

        try:
            data = yaml.safe_load(spec.read_text())
        except (OSError, yaml.YAMLError) as err:
            return f"cost and quota unknown: {spec} cannot be read ({err})", ""
        data = data if isinstance(data, dict) else {}
        size_name, count = str(data.get("instance_type") or ""), data.get("instance_count", 1)
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:  # the create says why
            return f"cost and quota unknown (instance_count {count!r} is not a whole number of instances)", ""
        hourly = costs.hourly_cost(size_name, count)
        money = f"adds {usd(hourly)}/hour" if hourly is not None else "adds unknown $/hour (no price for the size)"
        what = f"{count} × {size_name or 'no instance_type'}"
        size = costs.size(size_name)
        if size is None:
            return f"{money}; quota unknown ({what}: not a size the catalog knows)", ""
        need = costs.vcpus_needed(size.name, count, costs.online_reserve(size.name))
        reserve = " with the 20 % upgrade reserve" if costs.online_reserve(size.name) > 1 else ""
        usage = next((q for q in (self.snapshot.quotas if self.snapshot else None) or []
                      if q.kind == QuotaUsage.DEDICATED and costs.family_key(q.family) == costs.family_key(size.family)),
                     None)
        if usage is None:
            return f"{money} ({what}); takes {need} vCPUs of {size.family} quota{reserve} (usage unknown)", ""
        after = usage.used + need
        limit = " vCPUs (no limit)" if usage.unlimited else f" of {usage.limit} vCPUs"
        line = f"{money} ({what}); {size.family} quota {usage.used} → {after}{limit}{reserve}"
        over = not usage.unlimited and after > (usage.limit or 0)
        return line, (f"{size.family} would need {after} of {usage.limit} vCPUs: the workspace refuses the create "
                      "unless quota is freed or raised") if over else ""

    def _green(self, spec: Path, endpoint: str, ref: str) -> tuple[bool, str]:
        """Create green at 0 %, reporting each step until its instances are ready."""
        self.step("deploy_green", "spec", f"{spec} with model {ref}")
        op = self.ws.endpoints.create_deployment(str(spec), {"model": f"azureml:{ref}"})
        self.step("deploy_green", "op", f"operation {op.id}: {op.status}")
        while not op.done:
            op = self.ws.operations.wait(op.id, timeout_s=0.5)  # the poll interval, not a guess
            self.step("deploy_green", "op", f"operation {op.id}: {op.status}")
            green = next((d for d in self.ws.endpoints.get(endpoint).deployments if d.name == "green"), None)
            if green is not None:
                self.step("deploy_green", "instances", f"green {green.provisioning_state}: {green.ready_instances} "
                          f"of {green.instance_count} instances loaded the model and pass their readiness probe")
        if op.status != "Succeeded":
            return _failed("green", op)
        live = self.ws.endpoints.get(endpoint).traffic.live.get("green", 0)
        return True, f"green ({ref}) is ready at {live} % traffic: press t to ramp it"

    # --- the demo --------------------------------------------------------------------------

    def set_up_demo(self, demo: Callable[..., int]) -> None:
        actions = self

        class Progress:  # what the demo prints, as steps
            def write(self, text: str) -> None:
                if text.strip():
                    actions.step("demo", "demo", text.strip())

            def flush(self) -> None:
                pass

        def work() -> tuple[bool, str]:
            code = demo(out=Progress())
            return code == 0, "the demo is set up" if code == 0 else f"the demo set-up ended with exit status {code}"

        self.run("demo", work)
