"""The console's footer: Textual's own, showing only the keys that fit whole.

Textual's Footer lays its keys out in binding order and cuts the last one that overflows
("s Submi"), which reads like a typo; here a key that does not fit whole is left out, and the
command palette's key stays on the right. The app orders its bindings so what matters most
comes first.
"""

from __future__ import annotations

from rich.cells import cell_len
from textual.widget import Widget
from textual.widgets import Footer


def _width(key: Widget) -> int:
    """The cells a FooterKey takes: its text (which carries its padding), border and margins."""
    styles = key.styles
    return cell_len(key.render().plain) + styles.border.spacing.width + styles.margin.width


class KeyFooter(Footer):
    """A Footer whose keys are shown whole or not at all."""

    async def recompose(self) -> None:  # the Footer recomposes whenever the bindings change
        await super().recompose()
        self._fit()

    def on_mount(self) -> None:
        self.call_after_refresh(self._fit)

    def on_resize(self) -> None:
        self._fit()

    def _fit(self) -> None:
        keys = list(self.query("FooterKey"))
        room = self.size.width - sum(_width(k) for k in keys if k.has_class("-command-palette"))
        used = 0
        for key in keys:
            if not key.has_class("-command-palette"):
                used += _width(key)
                key.display = used <= room
