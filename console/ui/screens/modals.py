"""The console's modal screens: confirm before anything changes, the traffic sliders, help, a
pick from a list, a line of text, a wait with a spinner and a long action's progress. What they
show of the user's or the workspace's text (overrides, lint findings) is shown as it reads,
never as markup."""

from __future__ import annotations

from collections.abc import Callable

from rich.markup import escape
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

BAR_WIDTH = 30


def split_change(before: dict[str, int], after: dict[str, int]) -> str:
    """`blue 100 → 90 %, green 0 → 10 %`: the deployments whose share changes; "no change"."""
    names = list(dict.fromkeys([*before, *after]))
    changed = [(n, before.get(n, 0), after.get(n, 0)) for n in names if before.get(n, 0) != after.get(n, 0)]
    return ", ".join(f"{n} {a} → {b} %" for n, a, b in changed) or "no change"


class ConfirmModal(ModalScreen[bool]):
    """Ask before a change: only y confirms; n, esc and enter refuse. "No" is the safe default,
    as k9s users asked for: an enter meant for the list underneath must never confirm."""

    BINDINGS = [Binding("y", "answer(True)", "Yes", id="confirm.yes"),
                Binding("n,escape,enter", "answer(False)", "No", id="confirm.no")]

    def __init__(self, question: str, detail: str = "", warning: str = "") -> None:
        """`warning`: what makes the change risky (the deployment rollback goes to is not
        ready), shown in bold red above the keys."""
        super().__init__()
        self.question, self.detail, self.warning = question, detail, warning

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(self.question, id="question", markup=False)
            if self.detail:
                yield Static(self.detail, id="detail", markup=False)
            if self.warning:
                yield Static(Text(f"⚠ {self.warning}", style="bold red"), id="warning")
            yield Static("[b]y[/b]: yes    [b]n[/b]/esc/enter: no", id="keys")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)


class TrafficModal(ModalScreen[dict[str, int] | None]):
    """One slider per deployment; the split always sums to 100 and is previewed. Enter applies
    nothing: it hands the new split on to be confirmed (the same "no"-by-default confirmation as
    every other write), so an enter meant for something else never moves traffic."""

    BINDINGS = [
        Binding("up", "move(-1)", "Previous", id="traffic.up", show=False),
        Binding("down", "move(1)", "Next", id="traffic.down", show=False),
        Binding("left", "nudge(-1)", "-1", id="traffic.minus"),
        Binding("right", "nudge(1)", "+1", id="traffic.plus"),
        Binding("shift+left", "nudge(-10)", "-10", id="traffic.minus10"),
        Binding("shift+right", "nudge(10)", "+10", id="traffic.plus10"),
        Binding("1", "preset(90)", "90/10", id="traffic.preset90"),
        Binding("2", "preset(50)", "50/50", id="traffic.preset50"),
        Binding("3", "preset(0)", "0/100", id="traffic.preset0"),
        Binding("enter", "review", "Review", id="traffic.apply"),
        Binding("escape", "cancel", "Cancel", id="traffic.cancel"),
    ]

    def __init__(self, endpoint: str, live: dict[str, int],
                 check: Callable[[dict[str, int]], str] | None = None) -> None:
        """`check(split)`: what the capacity check says of the deployments the split gives more
        traffic (the rollout controller's rule), shown under the preview."""
        super().__init__()
        self.endpoint = endpoint
        self.check = check
        self.before = dict(live)
        self.split = dict(live) if sum(live.values()) == 100 else {n: (100 if i == 0 else 0) for i, n in enumerate(live)}
        self.names = list(live)
        self.cursor = 0

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(f"Traffic of [b]{self.endpoint}[/b]", id="question")
            yield Static(id="sliders")
            yield Static(id="preview")
            yield Static("←/→ ±1   shift+←/→ ±10   ↑/↓ deployment   1: 90/10  2: 50/50  3: 0/100   "
                         "enter: review and confirm   esc: cancel", id="keys")

    def on_mount(self) -> None:
        self._draw()

    def _draw(self) -> None:
        lines = []
        for i, name in enumerate(self.names):
            share = self.split[name]
            filled = round(share * BAR_WIDTH / 100)
            marker = "▶" if i == self.cursor else " "
            lines.append(f"{marker} {name:<12} {'█' * filled}{'░' * (BAR_WIDTH - filled)} {share:>3} %")
        self.query_one("#sliders", Static).update("\n".join(lines))
        said = self.check(self.split) if self.check is not None else ""
        self.query_one("#preview", Static).update(Text(f"change: {split_change(self.before, self.split)}"
                                                       + (f"\n{said}" if said else "")))

    def action_move(self, step: int) -> None:
        self.cursor = (self.cursor + step) % len(self.names)
        self._draw()

    def action_nudge(self, delta: int) -> None:
        if len(self.names) < 2:
            return
        name = self.names[self.cursor]
        others = [n for n in self.names if n != name]
        new = max(0, min(100, self.split[name] + delta))
        delta = new - self.split[name]
        self.split[name] = new
        # Keep the sum at 100: take from (or give to) the other deployments, the next one first.
        for other in others[self.cursor % len(others):] + others[: self.cursor % len(others)]:
            room = self.split[other] if delta > 0 else 100 - self.split[other]
            step = min(abs(delta), room)
            self.split[other] += -step if delta > 0 else step
            delta += -step if delta > 0 else step
            if delta == 0:
                break
        self._draw()

    def action_preset(self, first: int) -> None:
        """Presets for a blue/green pair: the first deployment gets `first`, the second the rest."""
        if len(self.names) < 2:
            return
        self.split = {n: 0 for n in self.names}
        self.split[self.names[0]], self.split[self.names[1]] = first, 100 - first
        self._draw()

    def action_review(self) -> None:
        """The split to confirm, or None when it is the one the sliders started from."""
        self.dismiss(None if self.split == self.before else dict(self.split))

    def action_cancel(self) -> None:
        self.dismiss(None)


class HelpModal(ModalScreen[None]):
    """Every key of the current screen, from the bindings themselves: key, what it does, and the
    id that remaps it, in columns; the list scrolls when the terminal is short (80x24)."""

    DEFAULT_CSS = """
    HelpModal #help-keys { height: auto; max-height: 60vh; scrollbar-size-vertical: 1; }
    """

    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "Close", id="help.close")]

    def __init__(self, rows: list[tuple[str, str, str]]) -> None:
        super().__init__()
        self.rows = rows

    def compose(self) -> ComposeResult:
        from textual.containers import VerticalScroll

        key_width = max((len(k) for k, _, _ in self.rows), default=4)
        what_width = max((len(w) for _, w, _ in self.rows), default=4)
        text = "\n".join(f"[b]{escape(key).ljust(key_width)}[/b]  {escape(what).ljust(what_width)}  "
                         f"[dim]{binding_id}[/dim]" for key, what, binding_id in self.rows)
        with Vertical(id="dialog"):
            yield Static("Keys (remap any by its id in the config file's keymap)", id="question")
            with VerticalScroll(id="help-keys"):
                yield Static(text, id="detail")
            yield Static("↑/↓ scroll   esc: close", id="keys")

    def on_mount(self) -> None:
        self.query_one("#help-keys").focus()

    def action_dismiss(self) -> None:
        self.dismiss(None)


class PickModal(ModalScreen[str | None]):
    """Choose one of a few options (model versions, job specs, panes); esc cancels."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="pick.cancel")]

    def __init__(self, question: str, options: list[str], detail: str = "") -> None:
        super().__init__()
        self.question, self.options, self.detail = question, options, detail

    def compose(self) -> ComposeResult:
        from textual.widgets import OptionList

        with Vertical(id="dialog"):
            yield Static(self.question, id="question")
            yield OptionList(*self.options, id="options")
            yield Static(self.detail or "↑/↓ choose   enter: pick   esc: cancel", id="keys")

    def on_option_list_option_selected(self, event) -> None:
        self.dismiss(self.options[event.option_index])

    def action_cancel(self) -> None:
        self.dismiss(None)


class InputModal(ModalScreen[str | None]):
    """One line of text (a spec path, overrides, a filter); enter submits, esc cancels."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="input.cancel")]

    def __init__(self, question: str, value: str = "", placeholder: str = "", detail: str = "") -> None:
        super().__init__()
        self.question, self.value, self.placeholder, self.detail = question, value, placeholder, detail

    def compose(self) -> ComposeResult:
        from textual.widgets import Input

        with Vertical(id="dialog"):
            yield Static(self.question, id="question", markup=False)
            if self.detail:
                yield Static(self.detail, id="detail", markup=False)
            yield Input(value=self.value, placeholder=self.placeholder, id="answer")
            yield Static("enter: ok   esc: cancel", id="keys")

    def on_input_submitted(self, event) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)


class BusyModal(ModalScreen[None]):
    """A wait the next dialog depends on (the lint before submit, which imports azure-ai-ml the
    first time): a spinner and what it waits for, until its flow closes it. esc hides it; the
    flow goes on and its next dialog still comes."""

    DEFAULT_CSS = """
    BusyModal { align: center middle; }
    BusyModal #spinner { height: 1; }
    """

    BINDINGS = [Binding("escape", "close", "Hide", id="busy.close")]

    def __init__(self, title: str) -> None:
        super().__init__()
        self.title_text = title

    def compose(self) -> ComposeResult:
        from textual.widgets import LoadingIndicator

        with Vertical(id="dialog"):
            yield Static(self.title_text, id="question", markup=False)
            yield LoadingIndicator(id="spinner")
            yield Static("esc: hide (it keeps going)", id="keys")

    def close(self) -> None:
        """Closed by its flow: only if it is still the screen on top (esc may have hidden it)."""
        if self.is_attached and self.app.screen is self:
            self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)


class ProgressModal(ModalScreen[None]):
    """A long operation's steps as they happen (deploy green). Each `report` names a step and
    says where it is; a step reported again is updated in place. esc hides the modal: the work
    goes on, and its end is also notified."""

    BINDINGS = [Binding("escape,enter", "close", "Hide", id="progress.close")]

    def __init__(self, title: str) -> None:
        super().__init__()
        self.title_text = title
        self.steps: dict[str, str] = {}  # step -> its latest line, in the order steps began
        self.outcome: str | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(self.title_text, id="question")
            yield Static("starting…", id="detail")
            yield Static("esc: hide (it keeps going)", id="keys")

    def report(self, step: str, line: str) -> None:
        self.steps[step] = line
        self._draw()

    def finish(self, line: str, *, ok: bool) -> None:
        self.outcome = f"[green]✓ {escape(line)}[/green]" if ok else f"[red]✗ {escape(line)}[/red]"
        self.query_one("#keys", Static).update("esc/enter: close")
        self._draw()

    def _draw(self) -> None:
        lines = [f"• {escape(text)}" for text in self.steps.values()]
        if self.outcome:
            lines.append(self.outcome)
        self.query_one("#detail", Static).update("\n".join(lines))

    def action_close(self) -> None:
        self.dismiss(None)
