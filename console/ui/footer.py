"""The console's footer: Textual's own, showing only the keys that fit whole, and saying so when
it had to leave some out.

Textual's Footer lays its keys out in binding order and cuts the last one that overflows
("s Submi"), which reads like a typo, and a key simply missing reads like a key that does not
exist. Here a key that does not fit whole is left out together with every key after it (the
app orders its bindings so what matters most comes first), and the footer then ends with
"… ? all keys" in place of the help key, so a cut footer says it is cut and where the rest are.
The command palette's key stays on the right.
"""

from __future__ import annotations

from rich.cells import cell_len
from textual.app import ComposeResult
from textual.widget import Widget
from textual.widgets import Footer, Static

CUT = "… ? all keys"


def _width(key: Widget) -> int:
    """The cells a FooterKey takes: its text (which carries its padding), border and margins."""
    styles = key.styles
    return cell_len(key.render().plain) + styles.border.spacing.width + styles.margin.width


class KeyFooter(Footer):
    """A Footer whose keys are shown whole or not at all, with a marker when some are not."""

    DEFAULT_CSS = """
    KeyFooter > .cut-marker { width: auto; height: 1; margin-right: 1; display: none; text-style: bold;
                              color: $footer-key-foreground; background: $footer-background; }
    KeyFooter > .cut-marker.-shown { display: block; }
    """

    def compose(self) -> ComposeResult:
        yield from super().compose()
        if self._bindings_ready:
            yield Static(CUT, classes="cut-marker", markup=False)

    async def recompose(self) -> None:  # the Footer recomposes whenever the bindings change
        await super().recompose()
        self._fit()

    def on_mount(self) -> None:
        self.call_after_refresh(self._fit)

    def on_resize(self) -> None:
        self._fit()

    @property
    def cut(self) -> bool:
        """Whether keys were left out (the marker shows)."""
        markers = self.query(".cut-marker")
        return bool(markers) and markers.first().has_class("-shown")

    def _fit(self) -> None:
        keys = [k for k in self.query("FooterKey") if not k.has_class("-command-palette")]
        markers = self.query(".cut-marker")
        if not markers:
            return
        marker = markers.first()
        room = self.size.width - sum(_width(k) for k in self.query("FooterKey") if k.has_class("-command-palette"))
        cut = sum(_width(k) for k in keys) > room
        if cut:  # the marker takes the help key's place, and the room it needs
            room -= cell_len(CUT) + marker.styles.margin.width
        used, fits = 0, True
        for key in keys:
            if cut and key.action == "help":
                key.display = False
                continue
            used += _width(key)
            fits = fits and used <= room  # the first key that does not fit hides every one after it
            key.display = fits
        marker.set_class(cut, "-shown")
