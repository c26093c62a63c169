"""A rollout in the console: the line the endpoints pane shows for the highlighted endpoint's
rollout, and `RolloutScreen` (key `o`), its whole view: the phase and step, the time to the next
step, the last analysis with its numbers, a chart of the candidate's and the stable's success rate
and p99 over the rollout, the history, and the keys that steer it (each asks first; read-only
offers none). The rollout runs outside the console (console/rollout_controller.py); this view
only reads it, every second, and sends a person's commands.
"""

from __future__ import annotations

from datetime import datetime, timezone
from functools import partial
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from console import format as fmt
from console.ui.panes.base import first_fit

if TYPE_CHECKING:
    from console.domain import Rollout

# The keys of the view: (key, verb, what a person reads in the footer and the confirm).
COMMANDS = (("p", "pause", "Pause", "hold traffic where it is"),
            ("r", "resume", "Resume", "apply the current step again and go on"),
            ("a", "approve", "Approve", "let the step that waits for a person go ahead"),
            ("P", "promote", "Promote", "skip the steps left: the candidate takes all live traffic now"),
            ("A", "abort", "Abort", "all live traffic back to the stable now, and end the rollout"),
            ("f", "fail", "Fail", "mark the candidate failed: all live traffic back to the stable now"))


def rollout_line(r: Rollout, now: datetime, width: int) -> str:
    """The endpoints pane's line for an endpoint's rollout, as much as fits `width`."""
    head = f"rollout of {r.candidate}"
    if r.ended:
        variants = [f"{head}: {r.phase}{': ' + r.reason if r.reason else ''}", f"{head}: {r.phase}"]
    elif r.phase == "Progressing":
        nxt = r.reason or fmt.rollout_next(r, now)  # a reason while progressing: what it waits for
        step = fmt.rollout_step(r)
        variants = [f"{head}: {step}, {nxt}; {fmt.rollout_analysis(r)}", f"{head}: {step}, {nxt}", f"{head}: {step}"]
    else:  # Paused or AwaitingApproval: why, and that `o` steers it
        at = f"{head} {r.phase.upper()} at {fmt.rollout_step(r)}"
        variants = [f"{at}: {r.reason} (o: the rollout)", f"{at} (o: the rollout)", f"{head} {r.phase.upper()}"]
    return first_fit(width, [f"{v}" for v in variants])


def chart(r: Rollout, width: int, height: int) -> Text:
    """The candidate's and the stable's success rate (%) and p99 (ms) at each analysis, one
    chart each, stacked; x is seconds since the rollout began."""
    from console.ui import charts

    points = [h for h in r.history if h.get("event") == "analysis" and h.get("figures")]
    if not points:
        return Text("no analysis yet: the chart draws each one's success rate and p99")
    start = r.started_at.timestamp() if r.started_at else points[0]["at"]
    half = max(3, (height - 2) // 2)
    out = Text()
    for title, key, scale in (("success rate % (x: seconds into the rollout)", "success_rate", 100.0),
                              ("p99 ms", "p99_ms", 1.0)):
        lines = []
        entries = []
        for role, name, colour in (("candidate", r.candidate, charts.GREEN), ("stable", r.stable, charts.BLUE)):
            known = [h for h in points if (h["figures"].get(role) or {}).get(key) is not None]
            xs = [h["at"] - start for h in known]
            ys = [h["figures"][role][key] * scale for h in known]
            if xs:
                lines.append((xs, ys, colour))
                entries.append((name, colour))
        out.append_text(charts.legend(title, entries))
        out.append("\n")
        if lines:
            out.append_text(charts.line_chart(lines, width, half))
            out.append("\n")
    out.rstrip()
    return out


class RolloutScreen(ModalScreen[None]):
    """One endpoint's rollout, read every second while it is open."""

    DEFAULT_CSS = """
    RolloutScreen { align: center middle; }
    RolloutScreen > Vertical { width: 95%; height: 90%; border: thick $accent; background: $surface; padding: 0 1; }
    RolloutScreen #rollout-head { height: auto; }
    RolloutScreen #rollout-chart { height: 1fr; min-height: 8; }
    RolloutScreen #rollout-history { height: 1fr; }
    RolloutScreen #rollout-keys { height: 1; color: $text-muted; }
    """
    BINDINGS = [Binding("escape,q,o", "dismiss", "Close", id="rollout.close"),
                *(Binding(key, f"command('{verb}')", label, id=f"rollout.{verb}") for key, verb, label, _ in COMMANDS)]

    def __init__(self, endpoint: str) -> None:
        super().__init__()
        self.endpoint = endpoint
        self.rollout: Rollout | None = None

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(f"rollout of {self.endpoint}: reading…", id="rollout-head", markup=False)
            yield Static("", id="rollout-chart")
            yield DataTable(id="rollout-history", cursor_type="row", zebra_stripes=True)
            yield Static(self._keys_text(), id="rollout-keys", markup=False)

    def on_mount(self) -> None:
        table = self.query_one("#rollout-history", DataTable)
        table.add_columns("AT", "STEP", "EVENT", "DETAIL")
        self._read()
        self.set_interval(1.0, self._read)

    def _keys_text(self) -> str:
        if self.app.read_only:
            return "esc: close (read-only: the rollout's commands are off)"
        return "  ".join(f"{key}: {label.lower()}" for key, _, label, _ in COMMANDS) + "  esc: close"

    # --- reading --------------------------------------------------------------------------

    def _read(self) -> None:
        self.run_worker(self._read_in_thread, thread=True, group="rollout.read", exclusive=True, exit_on_error=False)

    def _read_in_thread(self) -> None:
        from console.errors import describe

        try:
            found: Any = self.app.ws.rollouts.get(self.endpoint)
        except Exception as err:  # said in place: the view stays open
            found = describe(err)
        self.app.call_from_thread(self.show, found)

    def show(self, found: Rollout | str) -> None:
        head = self.query_one("#rollout-head", Static)
        if isinstance(found, str):
            head.update(f"rollout of {self.endpoint}: {found}")
            return
        self.rollout = r = found
        now = datetime.now(timezone.utc)
        steps = "  ".join(f"[{w} %]" if i == r.step else f"{w} %" for i, w in enumerate(r.weights))
        lines = [f"{r.endpoint}: {r.candidate} replacing {r.stable} — {r.phase}"
                 + (f" ({fmt.rollout_next(r, now)})" if fmt.rollout_next(r, now) else ""),
                 f"steps: {'[mirror]  ' if r.step < 0 else ''}{steps}",
                 f"last analysis: {fmt.rollout_analysis(r)}"]
        if r.reason:
            lines.append(f"why: {r.reason}")
        head.update("\n".join(lines))
        drawn = self.query_one("#rollout-chart", Static)
        width, height = drawn.content_size
        drawn.update(chart(r, max(width, 30), max(height, 8)))
        table = self.query_one("#rollout-history", DataTable)
        if table.row_count != len(r.history):
            table.clear()
            for h in r.history:
                table.add_row(f"{datetime.fromtimestamp(h['at'], timezone.utc):%H:%M:%S}",
                              "mirror" if h["step"] < 0 else str(h["step"] + 1), h["event"], Text(h["detail"]))
            table.move_cursor(row=table.row_count - 1)

    # --- steering ---------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return not (action == "command" and self.app.read_only)

    def action_command(self, verb: str) -> None:
        from console.ui.screens.modals import ConfirmModal

        what = next(text for _, v, _, text in COMMANDS if v == verb)
        self.app.push_screen(ConfirmModal(f"{verb.capitalize()} the rollout of {self.endpoint}?", what),
                             lambda yes: yes and self._send(verb))

    def _send(self, verb: str) -> None:
        self.run_worker(partial(self._send_in_thread, verb), thread=True, group="rollout.command",
                        exit_on_error=False)

    def _send_in_thread(self, verb: str) -> None:
        from console.errors import describe

        try:
            after = self.app.ws.rollouts.command(self.endpoint, verb)
        except Exception as err:
            self.app.call_from_thread(self.notify, describe(err), title=f"rollout {verb} refused", severity="error",
                                      timeout=8, markup=False)
            return
        said = after.history[-1]["detail"] if after.history else after.phase
        self.app.call_from_thread(self.notify, said, title=f"rollout: {after.phase}", timeout=6, markup=False)
        self.app.call_from_thread(self.show, after)
