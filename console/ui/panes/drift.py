"""The drift pane: each monitor's verdict on its latest report, the features of the selected
monitor's report (drifted first), and on demand one feature's baseline and production
histograms drawn with plotext.

The chart area waits for the app to hand a feature's bins (which monitor runs store in each
report) to `show_histograms`; nothing here invents data.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Span, Text
from textual.app import ComposeResult
from textual.message import Message
from textual.widgets import DataTable

from console.domain import DriftReport, FeatureDrift, Monitor
from console.ui.panes.base import Pane
from console.ui.charts import BLUE, ORANGE, ChartView, legend, paired_bars
from console.ui.panes.endpoints import theme_colours
from console.ui.snapshot import Snapshot
from console.ui.table import cursor_key, sync_in_order

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
# The two series' colours (plotext codes), in the chart and in its legend line.
SERIES = (("baseline", BLUE), ("production", ORANGE))


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
    bars = paired_bars(labels, baseline, production, (BLUE, ORANGE), max(width, 30), max(height - 1, 4))
    return Text("\n", no_wrap=True, overflow="crop", end="").join([legend(feature, SERIES), bars])


class HistogramView(ChartView):
    """One feature's baseline and production shares per bin."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(PLACEHOLDER, id=id)
        self.feature: str | None = None

    def plot(self, feature: str, baseline: Sequence[float], production: Sequence[float],
             labels: Sequence[str]) -> None:
        if not (len(baseline) == len(production) == len(labels)):
            raise ValueError(f"histograms of {feature!r}: {len(labels)} labels, {len(baseline)} baseline "
                             f"and {len(production)} production bins")
        self.feature = feature
        if not labels:
            self.reset(f"{feature}: no bins in this window")
            self.feature = feature
            return
        bins = (list(baseline), list(production), [str(label) for label in labels])
        self.show(lambda width, height: render_histograms(feature, bins[0], bins[1], bins[2], width, height))

    def reset(self, placeholder: str | None = None) -> None:
        self.feature = None
        super().reset(placeholder)


class DriftPane(Pane):
    """Monitors keyed by name, the selected monitor's features keyed by feature name."""

    DEFAULT_CSS = """
    DriftPane > #drift-monitors { height: auto; max-height: 50%; min-height: 3; }
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
        return cursor_key(self.monitors_table)

    def selected_feature(self) -> str | None:
        return cursor_key(self.features_table)

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
            sync_in_order(self.monitors_table, MONITOR_COLUMNS, rows)
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
        sync_in_order(self.features_table, FEATURE_COLUMNS, rows)

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
