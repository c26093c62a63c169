"""The drift pane: each monitor's verdict on its latest report, the features of the selected
monitor's report (drifted first), and on demand one feature's baseline and production
histograms drawn with plotext.

Reports carry no histograms, so the chart area waits for the app to hand real bins to
`show_histograms`; nothing here invents data.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Span, Text
from textual.app import ComposeResult
from textual.coordinate import Coordinate
from textual.message import Message
from textual.widgets import DataTable, Static

from console.domain import DriftReport, FeatureDrift, Monitor
from console.ui.panes.base import Pane
from console.ui.panes.endpoints import theme_colours
from console.ui.snapshot import Snapshot
from console.ui.table import sync_table

MONITOR_COLUMNS = ("MONITOR", "TARGET", "VERDICT", "DRIFTED", "ROWS", "WINDOW")
MONITOR_WIDTHS = (None, None, 13, 12, 11, 11)  # fixed where values change under a key
FEATURE_COLUMNS = ("FEATURE", "TYPE", "METRIC", "VALUE", "THRESHOLD", "NOTE")
FEATURE_WIDTHS = (None, 11, 14, 8, 9, 40)

NONE = "-"
NO_REPORT = "no report yet"
PLACEHOLDER = "select a feature: histograms load on demand"
METRIC_NAMES = {  # console/drift.py's metric names, as the table shows them
    "normalized_wasserstein_distance": "wasserstein",
    "jensen_shannon_distance": "jensen-shannon",
}
# plotext colour codes of the two series, and the same colours for the legend line above them.
BASELINE_COLOUR, PRODUCTION_COLOUR = 12, 208
SERIES = (("baseline", BASELINE_COLOUR), ("production", PRODUCTION_COLOUR))


def _styled(text: str, style: str, justify: str | None = None) -> Text:
    # A span, not the base style, so that sync_table sees a colour change as a change.
    return Text(text, justify=justify, spans=[Span(0, len(text), style)] if style else None)


def drifted_cell(report: DriftReport) -> str:
    """"3/11 (27%)": drifted over measured features, the report's own share."""
    measured = [f for f in report.features if f.value is not None]
    if not measured:
        return NONE
    drifted = sum(1 for f in measured if f.drifted)
    return f"{drifted}/{len(measured)} ({report.drifted_share:.0%})"


def feature_order(features: Sequence[FeatureDrift]) -> list[FeatureDrift]:
    """Drifted first, then by distance (largest first), features without a value last."""
    return sorted(features, key=lambda f: (not f.drifted, f.value is None, -(f.value or 0.0), f.feature))


def render_histograms(feature: str, baseline: Sequence[float], production: Sequence[float],
                      labels: Sequence[str], width: int, height: int) -> Text:
    """Two bar series side by side per bin, `width` x `height` cells, legend line included."""
    import plotext as plt  # only when a chart is asked for

    x = list(range(1, len(labels) + 1))
    plot_height = max(height - 1, 4)
    if hasattr(plt, "clf"):  # plotext 5
        plt.clf()
        plt.limitsize(False, False)
        plt.plotsize(width, plot_height)
        plt.theme("clear")
        plt.multiple_bar(list(labels), [list(baseline), list(production)],
                         color=[BASELINE_COLOUR, PRODUCTION_COLOUR])
        chart = plt.build()
    else:  # plotext 6: the figure API
        figure = plt.figure
        figure.clear()
        plt.terminal.limit(False, False)
        figure.plot_size(width, plot_height)
        figure.theme("simple")
        for offset, values, colour in ((-0.2, baseline, BASELINE_COLOUR), (0.2, production, PRODUCTION_COLOUR)):
            figure.draw(figure.bar([i + offset for i in x], list(values), width=0.4,
                                   marker=plt.marker("full", pixel=colour)))
        figure.ruler("x").ticks(x, labels=[str(label) for label in labels])
        chart = figure.build().string()
    legend = Text.assemble((feature, "bold"), "   ",
                           *[part for name, colour in SERIES
                             for part in (("█ ", f"color({colour})"), (name, ""), "   ")])
    legend.rstrip()
    body = Text.from_ansi(chart.rstrip("\n"), no_wrap=True, overflow="crop", end="")
    return Text("\n", no_wrap=True, overflow="crop", end="").join([legend, body])


class HistogramView(Static):
    """One line of help until it has bins; then a chart redrawn to its size on every resize."""

    DEFAULT_CSS = """
    HistogramView { height: 1; color: $text-muted; }
    HistogramView.-chart { height: 1fr; min-height: 5; padding-right: 1; color: $foreground; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(PLACEHOLDER, id=id)
        self.feature: str | None = None
        self._bins: tuple[list[float], list[float], list[str]] | None = None

    def plot(self, feature: str, baseline: Sequence[float], production: Sequence[float],
             labels: Sequence[str]) -> None:
        if not (len(baseline) == len(production) == len(labels)):
            raise ValueError(f"histograms of {feature!r}: {len(labels)} labels, {len(baseline)} baseline "
                             f"and {len(production)} production bins")
        self.feature = feature
        self._bins = (list(baseline), list(production), [str(label) for label in labels])
        self.add_class("-chart")
        self._draw()

    def reset(self) -> None:
        self.feature = None
        self._bins = None
        self.remove_class("-chart")
        self.update(PLACEHOLDER)

    def on_resize(self) -> None:
        if self._bins is not None:
            self._draw()

    def _draw(self) -> None:
        assert self._bins is not None and self.feature is not None
        baseline, production, labels = self._bins
        if not labels:
            self.update(Text(f"{self.feature}: no bins in this window"))
            return
        width, height = self.content_size
        # Before the first layout with the chart class the widget is still one line tall;
        # on_resize draws again at the real size.
        width, height = max(width, 40), max(height, 6)
        try:
            chart = render_histograms(self.feature, baseline, production, labels, width, height)
        except Exception as err:  # a bad bin must not take the console down
            chart = Text(f"{self.feature}: could not draw the histograms ({type(err).__name__}: {err})")
        self.update(chart)


class DriftPane(Pane):
    """Monitors keyed by name, the selected monitor's features keyed by feature name."""

    DEFAULT_CSS = """
    DriftPane > #drift-monitors { height: auto; max-height: 40%; min-height: 2; }
    DriftPane > #drift-features { height: 1fr; min-height: 2; }
    """

    title = "Drift"
    area = "monitors"

    class FeatureChosen(Message):
        """Enter on a feature: the app may load its histograms and call `show_histograms`."""

        def __init__(self, monitor: str, feature: str) -> None:
            super().__init__()
            self.monitor = monitor
            self.feature = feature

        def __repr__(self) -> str:
            return f"DriftPane.FeatureChosen({self.monitor!r}, {self.feature!r})"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._reports: dict[str, DriftReport] = {}
        self._features_of: str | None = None  # the monitor whose features the table shows
        self._chart_of: str | None = None  # the monitor whose feature the chart shows

    def body(self) -> ComposeResult:
        yield DataTable(id="drift-monitors", cursor_type="row", fixed_columns=1)
        yield DataTable(id="drift-features", cursor_type="row", fixed_columns=1)
        yield HistogramView(id="drift-histograms")

    @property
    def monitors_table(self) -> DataTable:
        return self.query_one("#drift-monitors", DataTable)

    @property
    def features_table(self) -> DataTable:
        return self.query_one("#drift-features", DataTable)

    @property
    def histograms(self) -> HistogramView:
        return self.query_one("#drift-histograms", HistogramView)

    def on_mount(self) -> None:
        for table, columns, widths in ((self.monitors_table, MONITOR_COLUMNS, MONITOR_WIDTHS),
                                       (self.features_table, FEATURE_COLUMNS, FEATURE_WIDTHS)):
            for label, width in zip(columns, widths):
                table.add_column(label, key=label, width=width)

    # --- the public surface ------------------------------------------------------------------

    def selected_monitor(self) -> str | None:
        return _cursor_key(self.monitors_table)

    def selected_feature(self) -> str | None:
        return _cursor_key(self.features_table)

    def show_histograms(self, feature: str, baseline: list[float], production: list[float],
                        labels: list[str], *, monitor: str | None = None) -> bool:
        """Draw `feature`'s baseline and production bins (one value per label, e.g. shares).
        With `monitor`, a late answer for a monitor no longer selected is dropped (False)."""
        if monitor is not None and monitor != self.selected_monitor():
            return False
        self._chart_of = self.selected_monitor()
        self.histograms.plot(feature, baseline, production, labels)
        return True

    def clear_histograms(self) -> None:
        self._chart_of = None
        self.histograms.reset()

    def show(self, snapshot: Snapshot) -> None:
        reports = snapshot.reports
        palette = theme_colours(self.app, "error", "success")
        rows: dict[str, list] = {}
        for monitor in snapshot.monitors or []:
            rows[monitor.name] = _monitor_row(monitor, reports.get(monitor.name), palette)
        self._reports = dict(reports)
        with self.app.batch_update():
            _sync_in_order(self.monitors_table, MONITOR_COLUMNS, rows)
            self._show_features()

    # --- the features of the selected monitor ------------------------------------------------

    def _show_features(self) -> None:
        monitor = self.selected_monitor()
        if monitor != self._features_of:
            self._features_of = monitor
            if self._chart_of is not None and self._chart_of != monitor:
                self.clear_histograms()
        report = self._reports.get(monitor) if monitor is not None else None
        (error,) = theme_colours(self.app, "error")
        rows = {f.feature: _feature_row(f, error) for f in feature_order(report.features)} if report else {}
        _sync_in_order(self.features_table, FEATURE_COLUMNS, rows)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "drift-monitors" and self.selected_monitor() != self._features_of:
            self._show_features()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id == "drift-features":
            monitor = self.selected_monitor()
            if monitor is not None and event.row_key.value is not None:
                self.post_message(self.FeatureChosen(monitor, event.row_key.value))


def _monitor_row(monitor: Monitor, report: DriftReport | None, palette: tuple[str, str]) -> list:
    error, success = palette
    if monitor.endpoint_name:
        target = monitor.endpoint_name + (f"/{monitor.deployment}" if monitor.deployment else "")
    else:
        target = NONE
    if report is None:
        return [monitor.name, Text(target), _styled(NO_REPORT, "dim"), NONE, NONE, NONE]
    verdict = _styled("ALERT", f"bold {error}") if report.alert else _styled("ok", success)
    drifted = drifted_cell(report)
    end = report.window_end
    window = (end.astimezone() if end.tzinfo else end).strftime("%m-%d %H:%M")
    return [monitor.name, Text(target), verdict,
            _styled(drifted, error if report.dataset_drift else "", "right"),
            Text(f"{report.production_rows:,}", justify="right"), window]


def _feature_row(feature: FeatureDrift, error: str) -> list:
    style = error if feature.drifted else ""
    value = NONE if feature.value is None else f"{feature.value:.4f}"
    return [_styled(feature.feature, f"bold {error}" if feature.drifted else ""),
            feature.type,
            METRIC_NAMES.get(feature.metric, feature.metric),
            _styled(value, style, "right"),
            Text(f"{feature.threshold:g}", justify="right"),
            Text(feature.note or "", style="dim")]


def _cursor_key(table: DataTable) -> str | None:
    if not table.row_count:
        return None
    row = min(table.cursor_row, table.row_count - 1)
    return table.coordinate_to_cell_key(Coordinate(row, 0)).row_key.value


def _sync_in_order(table: DataTable, columns: Sequence[str], rows: dict[str, list]) -> None:
    """sync_table, then the rows in `rows`' order with the cursor kept on its row."""
    before = _cursor_key(table)
    sync_table(table, columns, rows)
    if [row.key.value for row in table.ordered_rows] != list(rows):
        rank = {key: index for index, key in enumerate(rows)}
        # The first column holds the key's own text (a monitor or feature name).
        table.sort(columns[0], key=lambda cell: rank[str(cell)])
    if before is not None and before in rows:
        index = table.get_row_index(before)
        if index != table.cursor_row:
            table.move_cursor(row=index, animate=False)
