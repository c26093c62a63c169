"""plotext charts as Rich Text, and `ChartView`, the widget that redraws one at its own size.

plotext draws into one module-level figure, so charts are built on the UI thread, one at a time,
and only when a pane asks for one: importing plotext is left to the first chart.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rich.text import Text
from textual.widgets import Static

# plotext (xterm-256) colour codes, and the same colours for the legend lines above the charts.
BLUE, ORANGE, GREEN = 12, 208, 10
SERIES_COLOURS = (ORANGE, BLUE, GREEN)


def legend(title: str, entries: Sequence[tuple[str, int]]) -> Text:
    """`title   █ name   █ name`, each block in its series' colour."""
    line = Text.assemble((title, "bold"), "   ",
                         *[part for name, colour in entries for part in (("█ ", f"color({colour})"), (name, ""), "   ")])
    line.rstrip()
    return line


def _figure(width: int, height: int):
    import plotext as plt  # only when a chart is asked for

    figure = plt.figure
    figure.clear()
    plt.terminal.limit(False, False)
    figure.plot_size(width, height)
    figure.theme("simple")
    return plt, figure


def _as_text(figure) -> Text:
    chart = figure.build().string()
    return Text.from_ansi(chart.rstrip("\n"), no_wrap=True, overflow="crop", end="")


def paired_bars(labels: Sequence[str], first: Sequence[float], second: Sequence[float],
                colours: tuple[int, int], width: int, height: int) -> Text:
    """Two bars side by side per label (e.g. baseline and production shares of one bin)."""
    plt, figure = _figure(width, height)
    x = list(range(1, len(labels) + 1))
    for offset, values, colour in ((-0.2, first, colours[0]), (0.2, second, colours[1])):
        figure.draw(figure.bar([i + offset for i in x], list(values), width=0.4,
                               marker=plt.marker("full", pixel=colour)))
    figure.ruler("x").ticks(x, labels=[str(label) for label in labels])
    return _as_text(figure)


def line_chart(lines: Sequence[tuple[Sequence[float], Sequence[float], int]], width: int, height: int) -> Text:
    """One braille line per (x, y, colour) on shared axes."""
    plt, figure = _figure(width, height)
    for xs, ys, colour in lines:
        figure.draw(figure.signal(list(xs), list(ys), marker=plt.marker("braille", pixel=colour)))
    return _as_text(figure)


_BLOCKS = "▁▂▃▄▅▆▇█"


def trend(values: Sequence[float], width: int) -> str:
    """A one-line sparkline of `values` squeezed to `width` cells, scaled from their min to their
    max (a loss curve that falls from 0.57 to 0.49 must still show its shape)."""
    if not values or width <= 0:
        return ""
    if len(values) > width:  # the last value of each of `width` equal stretches
        values = [values[min(len(values) - 1, (i + 1) * len(values) // width - 1)] for i in range(width)]
    low, high = min(values), max(values)
    if high == low:
        return _BLOCKS[3] * len(values)
    return "".join(_BLOCKS[round((v - low) / (high - low) * 7)] for v in values)


class ChartView(Static):
    """A line of help until it is given a chart; then the chart, drawn again on every resize.

    `show(draw)` takes a function of (width, height) that returns the whole Text (legend
    included); a chart that fails to draw says so in place instead of taking the console down.
    """

    DEFAULT_CSS = """
    ChartView { height: 1; color: $text-muted; }
    ChartView.-chart { height: 1fr; min-height: 5; padding-right: 1; color: $foreground; }
    """

    def __init__(self, placeholder: str, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(placeholder, id=id, classes=classes)
        self.placeholder = placeholder
        self._draw_fn: Callable[[int, int], Text] | None = None

    @property
    def has_chart(self) -> bool:
        return self._draw_fn is not None

    def show(self, draw: Callable[[int, int], Text]) -> None:
        self._draw_fn = draw
        self.add_class("-chart")
        self._draw()

    def reset(self, placeholder: str | None = None) -> None:
        self._draw_fn = None
        self.remove_class("-chart")
        self.update(placeholder if placeholder is not None else self.placeholder)

    def on_resize(self) -> None:
        if self._draw_fn is not None:
            self._draw()

    def _draw(self) -> None:
        assert self._draw_fn is not None
        width, height = self.content_size
        # Before the first layout with the chart class the widget may still be one line tall;
        # on_resize draws again at the real size. Draw functions decide what fits a small size.
        width, height = max(width, 20), max(height, 1)
        try:
            chart = self._draw_fn(width, height)
        except Exception as err:
            chart = Text(f"could not draw the chart ({type(err).__name__}: {err})")
        self.update(chart)
