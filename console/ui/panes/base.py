"""What every pane shares: a title, a body, a status line that says when it is stale, and
`Summary`, the footer of figures a pane writes for its width (compute's and endpoints' costs);
and the cell helpers more than one pane uses (`cell`, `styled`, `theme_colours`, `first_fit`),
kept here so that no pane imports another."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rich.cells import cell_len
from rich.errors import StyleSyntaxError
from rich.style import Style
from rich.text import Span, Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.markup import escape
from textual.widgets import Static

from console.ui.panes import PANES, number
from console.ui.snapshot import Snapshot


class Pane(Vertical, can_focus=False):
    """One area of the workspace. Subclasses set `title` and `area` and implement `show`."""

    DEFAULT_CSS = """
    Pane { border: round $primary-darken-2; height: 1fr; }
    Pane:focus-within { border: round $accent; }
    Pane > .pane-status { height: 1; color: $warning; display: none; }
    Pane > .pane-status.-shown { display: block; }
    """

    title = "pane"
    area = "jobs"  # the Snapshot area whose errors make this pane stale
    also = ()  # other areas it shows figures of: a read of any of them redraws it
    loaded = False  # set once the pane has shown its area's data
    filter_text = ""  # k9s's filter, set by the screen: rows are filtered, totals never are

    @property
    def areas(self) -> tuple[str, ...]:
        return (self.area, *self.also)

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        # Numbered as k9s numbers its views: the key that focuses it (1-5, in screen order).
        self.border_title = f"<{number(id)}> {self.title}" if id in PANES else self.title

    def compose(self) -> ComposeResult:
        yield Static("", classes="pane-status", markup=False)  # an error's text, never markup
        yield from self.body()

    def body(self) -> ComposeResult:
        yield from ()

    def apply(self, snapshot: Snapshot) -> None:
        """Show a new snapshot; on a failed read keep the last data and say it is stale; an area
        the workspace cannot read at all says so, and nothing else."""
        status = self.query_one(".pane-status", Static)
        if self.area in snapshot.unavailable:
            status.update(f"not available on the {snapshot.backend or 'selected'} workspace")
            status.add_class("-shown")
            return
        error = snapshot.errors.get(self.area)
        if error:
            # A pane that never showed data is not "stale": it could not be read at all.
            status.update(f"{'stale' if self.loaded else 'cannot read'}: {error}")
            status.add_class("-shown")
            if getattr(snapshot, self.area, None) is None:
                return
        else:
            status.remove_class("-shown")
        self.show(snapshot)
        # Loaded once its own area's data was shown (a redraw for another area's read is not it).
        self.loaded = self.loaded or getattr(snapshot, self.area, None) is not None

    def show(self, snapshot: Snapshot) -> None:
        raise NotImplementedError

    def keeps(self, *names: str | None) -> bool:
        """Whether a row showing `names` passes the filter: one of them contains the text
        (`!text`: none does). A pane passes every name its row shows (endpoint and deployment,
        job name, display name and experiment), and computes its totals from the whole snapshot."""
        text = self.filter_text
        if not text:
            return True
        invert, needle = text.startswith("!"), text.lstrip("!").lower()
        return any(needle in name.lower() for name in names if name) != invert

    def count_shown(self, shown: int, total: int, note: str = "") -> None:
        """Say on the pane's bottom border how many of its rows the filter left (what its footer
        totals is the whole workspace; the rows are not), after `note`, a pane's own word that
        must stay in view whatever the rows scroll to."""
        counted = f"filter {escape(self.filter_text)}: {shown} of {total} shown" if self.filter_text else ""
        self.border_subtitle = "  ".join(part for part in (escape(note), counted) if part)


def cell(value: str | None) -> str | Text:
    """A plain cell. DataTable reads str cells as markup, so a '[' goes in a Text instead."""
    if not value:
        return "-"
    return Text(value, end="") if "[" in value else value


def styled(text: str, style: str, justify: str | None = None) -> Text:
    """A cell in `style`. The style goes in a span, not the base style: Text equality ignores the
    base style, and sync_table must see a colour change as a change."""
    return Text(text, justify=justify, spans=[Span(0, len(text), style)] if style else None)


def theme_colours(app, *names: str) -> tuple[str, ...]:
    """The theme's `text-<name>` colours as Rich colour strings, e.g. ("#D17E92", ...); the ANSI
    themes name them "ansi_red", which Rich spells "red"."""
    variables = app.theme_variables
    colours = []
    for name in names:
        value = variables.get(f"text-{name}", "")
        value = value[5:] if value.startswith("ansi_") else value
        try:
            Style.parse(value)
        except StyleSyntaxError:
            value = _FALLBACK[name]
        colours.append(value)
    return tuple(colours)


_FALLBACK = {"error": "red", "warning": "yellow", "success": "green"}


def first_fit(width: int, variants: Sequence[str]) -> str:
    """The first of `variants` (most detailed first) that fits in `width` cells, else the last."""
    return next((v for v in variants if cell_len(v) <= width), variants[-1])


class Summary(Static):
    """A footer of figures, written for its width: `show` takes a function of the width that
    returns the text, called again on every resize (the overview at 80 columns gets the short
    form, zoomed the long one)."""

    def __init__(self, *, classes: str | None = None) -> None:
        super().__init__("", classes=classes, markup=False)
        self._text_for: Callable[[int], str] | None = None

    def show(self, text_for: Callable[[int], str]) -> None:
        self._text_for = text_for
        self._draw()

    def on_resize(self) -> None:
        if self._text_for is not None:
            # After this layout pass: a height change asked for in the middle of it is lost.
            self.call_after_refresh(self._draw)

    def _draw(self) -> None:
        assert self._text_for is not None
        width = self.content_size.width
        self.update(self._text_for(width if width > 0 else 80))  # 80 until the first layout
