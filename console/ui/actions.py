"""The console's seven flows that change the workspace (stop idle compute, traffic, rollback,
cancel a job, run a monitor, submit a job, deploy green) and the demo set-up.

Each flow is a few lines: gather what is selected on the UI thread, ask (`ask`: "no" is the
default), then `run` its work in a thread worker. The work calls the backend only, waits for the
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

from console.ui.messages import ActionDone, ActionStarted, ActionStep, Linted, ModelsListed
from console.ui.screens.modals import ConfirmModal, InputModal, PickModal, TrafficModal

if TYPE_CHECKING:
    from textual.widget import Widget

    from console.domain import Compute, Operation
    from console.workspace import Workspace

GREEN_SPEC = Path("endpoints") / "green-deployment.yml"  # under the specs folder
OTHER_PATH = "another path…"
Work = Callable[[], tuple[bool, str]]


def _split(split: dict[str, int]) -> str:
    return " ".join(f"{k}={v}" for k, v in split.items() if v) or "no live traffic"


def _failed(what: str, op: Operation) -> tuple[bool, str]:
    still = op.status == "InProgress"
    return False, f"{what}: {'still in progress when the wait ended' if still else op.status}" + \
        (f": {op.error}" if op.error else "")


class Actions:
    def __init__(self, host: Widget) -> None:
        """`host`: the node (the console's screen) that runs the workers and gets the messages."""
        self.host = host

    @property
    def ws(self) -> Workspace:
        return self.host.app.ws

    # --- the one helper --------------------------------------------------------------------

    def ask(self, action: str, question: str, detail: str, work: Work, progress: str | None = None) -> None:
        """Confirm first (only y says yes), then run the work."""
        self.host.app.push_screen(ConfirmModal(question, detail),
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
        self.host.app.push_screen(TrafficModal(endpoint, live),
                                  lambda split: split is not None and self.run(
                                      "traffic", partial(self._set_traffic, endpoint, split, live)))

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
        self.ask("rollback", f"Roll back {endpoint}?", "all live traffic to the stable deployment, mirroring off",
                 partial(self._rollback, endpoint, live))

    def _rollback(self, endpoint: str, read: dict[str, int]) -> tuple[bool, str]:
        return self._split_update(endpoint, "rollback", self.ws.endpoints.rollback(endpoint, expected=read))

    # --- jobs and monitors -----------------------------------------------------------------

    def cancel_job(self, name: str) -> None:
        self.ask("cancel_job", f"Cancel job {name}?", "its whole process group is stopped", partial(self._cancel, name))

    def _cancel(self, name: str) -> tuple[bool, str]:
        op = self.ws.operations.wait(self.ws.jobs.cancel(name).id, timeout_s=30)
        if op.status == "InProgress":
            return True, f"cancel requested for {name}: {self.ws.jobs.get(name).status}"
        if op.status != "Succeeded":
            return _failed(f"cancel {name}", op)
        return True, f"{name}: {self.ws.jobs.get(name).status}"

    def run_monitor(self, name: str) -> None:
        self.ask("run_monitor", f"Run monitor {name} now?", "over its default window (local: its lookback; azure: the last hour collected), ending now",
                 partial(self._run_monitor, name))

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
                                          lambda path: path and self._lint(path))
            elif choice is not None:
                self._lint(str(specs.parent / choice))

        self.host.app.push_screen(PickModal("Submit which job?", [*choices, OTHER_PATH]), chosen)

    def _lint(self, path: str) -> None:
        self.in_thread("submit", partial(self._lint_in_thread, path), group="lint")

    def _lint_in_thread(self, path: str) -> None:
        from console.lint import lint

        result = lint([path])
        findings = "\n".join(f.format() for f in result.findings) or "lint: clean"
        self.host.post_message(Linted(path, findings, valid=result.exit_code != 2))

    def linted(self, path: str, findings: str, valid: bool) -> None:
        """The lint of `path` is in: say why it cannot be submitted, or ask for overrides."""
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
                self.ask("deploy_green", f"Deploy {ref} as green on {endpoint}?", f"from {GREEN_SPEC}, at 0 % traffic",
                         partial(self._green, spec, endpoint, ref), progress=f"Deploying {ref} as green on {endpoint}")

        self.host.app.push_screen(PickModal("Deploy which model version as green?", versions), picked)

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
