"""The drift pane: each monitor's verdict on its latest report, the features of the selected
monitor's report (drifted first) with their distance against the threshold, and on demand one
feature's baseline and production histograms drawn with plotext. Narrow, the verdict and each
feature's value and threshold stay; target, rows, window, type and notes go first. A report
that measured nothing (no rows, no column shared with the baseline, every value null) says
"no data", never a green ok.

The chart area waits for the app to hand a feature's bins (which monitor runs store in each
report) to `show_histograms`; nothing here invents data.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.message import Message
from textual.widgets import DataTable

from console.domain import DriftReport, FeatureDrift, Monitor
from console.ui.charts import BLUE, ORANGE, ChartView, legend, paired_bars
from console.ui.panes.base import Pane, styled, theme_colours
from console.ui.snapshot import Snapshot
from console.ui.table import Column, FitTable, cursor_key

# Fixed widths where values change under a key (cells are updated without re-measuring).
MONITORS = (Column("MONITOR"), Column("VERDICT", 13, rank=1), Column("DRIFTED", 12, rank=2),
            Column("TARGET", rank=3), Column("ROWS", 11, rank=4), Column("WINDOW", 11, rank=5))
# THRESHOLD says the rule with its metric ("W1 > 0.1"): in the overview the pane is 46 cells
# wide (30 at 80 columns), and a metric column of its own would push the threshold out.
FEATURES = (Column("FEATURE"), Column("VALUE", 6, rank=1), Column("THRESHOLD", 9, rank=2),
            Column("PSI", 6, rank=3), Column("NOTE", 12, rank=4, grow=True), Column("TYPE", 11, rank=5))
MONITOR_COLUMNS = tuple(c.label for c in MONITORS)
FEATURE_COLUMNS = tuple(c.label for c in FEATURES)

NONE = "-"
NO_REPORT = "no report yet"
NO_DATA = "no data"  # a report in which nothing was measured: no rows, no shared column, all null
NO_REPORTS = "unavailable"  # the workspace has no per-feature results to read (Azure)
PLACEHOLDER = "enter on a feature: its histograms"
METRIC_NAMES = {  # the drift engine's metric names (Azure's), as drift people write them
    "normalized_wasserstein_distance": "W1",
    "jensen_shannon_distance": "JS",
    "population_stability_index": "PSI",
    "psi": "PSI",
    "two_sample_kolmogorov_smirnov_test": "KS p",
    "pearsons_chi_squared_test": "χ² p",
}
# p-values breach below their threshold, the distances above it (Azure's monitor, likewise)
PSI_WARN, PSI_ALERT = 0.1, 0.25  # DESIGN.md, Drift: PSI beside both metrics
# The two series' colours (plotext codes), in the chart and in its legend line.
SERIES = (("baseline", BLUE), ("production", ORANGE))


def drifted_cell(report: DriftReport) -> str:
    """"3/11 (27%)": drifted over measured features, the report's own share."""
    measured = [f for f in report.features if f.value is not None]
    if not measured:
        return NONE
    drifted = sum(1 for f in measured if f.drifted)
    return f"{drifted}/{len(measured)} ({report.drifted_share:.0%})"


def _severity(feature: FeatureDrift) -> float:
    """How far past (or short of) its threshold a feature is: value over threshold for the
    distances, threshold over value for the p-values, so that metrics sort together."""
    value = feature.value or 0.0
    if feature.breaches_below:
        return feature.threshold / max(value, 1e-300)
    return value / feature.threshold if feature.threshold else value


def feature_order(features: Sequence[FeatureDrift]) -> list[FeatureDrift]:
    """Drifted first, then by how far past its threshold (furthest first), features without a
    value last."""
    return sorted(features, key=lambda f: (not f.drifted, f.value is None, -_severity(f), f.feature))


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
    DriftPane > #drift-histograms.-chart { height: 2fr; min-height: 6; }
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
        yield FitTable(MONITORS, id="drift-monitors", cursor_type="row", fixed_columns=1)
        yield FitTable(FEATURES, id="drift-features", cursor_type="row", fixed_columns=1)
        yield HistogramView(id="drift-histograms")

    @property
    def monitors_table(self) -> FitTable:
        return self.query_one("#drift-monitors", FitTable)

    @property
    def features_table(self) -> FitTable:
        return self.query_one("#drift-features", FitTable)

    @property
    def histograms(self) -> HistogramView:
        return self.query_one("#drift-histograms", HistogramView)

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
        missing = NO_REPORTS if "reports" in snapshot.unavailable else NO_REPORT
        monitors = snapshot.monitors or []
        for monitor in monitors:
            if self.keeps(monitor.name, monitor.endpoint_name, monitor.deployment):
                rows[monitor.name] = _monitor_row(monitor, reports.get(monitor.name), palette, missing)
        self._reports = dict(reports)
        with self.app.batch_update():
            self.monitors_table.sync(rows)
            self.count_shown(len(rows), len(monitors))
            self._show_features()

    # --- the features of the selected monitor ------------------------------------------------

    def _show_features(self) -> None:
        monitor = self.selected_monitor()
        if monitor != self._features_of:
            self._features_of = monitor
            if self._chart_of is not None and self._chart_of != monitor:
                self.clear_histograms()
        report = self._reports.get(monitor) if monitor is not None else None
        palette = theme_colours(self.app, "error", "warning")
        rows = {f.feature: _feature_row(f, palette) for f in feature_order(report.features)} if report else {}
        self.features_table.sync(rows)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "drift-monitors" and self.selected_monitor() != self._features_of:
            self._show_features()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter walks down the pane, as k9s's does: on a monitor, into its features (the most
        drifted first, under the cursor); on a feature, its histograms. Not a zoom (z zooms)."""
        event.stop()
        if event.data_table.id == "drift-monitors":
            if self.selected_monitor() != self._features_of:
                self._show_features()
            features = self.features_table
            if features.row_count:
                features.move_cursor(row=0, animate=False)
            features.focus()
        elif event.data_table.id == "drift-features":
            monitor = self.selected_monitor()
            if monitor is not None and event.row_key.value is not None:
                self.post_message(self.FeatureChosen(monitor, event.row_key.value))


def _monitor_row(monitor: Monitor, report: DriftReport | None, palette: tuple[str, str],
                 missing: str = NO_REPORT) -> list:
    error, success = palette
    if monitor.endpoint_name:
        target = monitor.endpoint_name + (f"/{monitor.deployment}" if monitor.deployment else "")
    else:
        target = NONE
    # A disabled schedule runs nothing until it is enabled again: said beside its name.
    name = monitor.name if monitor.enabled else styled(f"{monitor.name} (disabled)", "dim")
    if report is None:
        return [name, styled(missing, "dim"), NONE, Text(target), NONE, NONE]
    if report.alert:
        verdict = styled("ALERT", f"bold {error}")
    elif not report.measured:  # nothing was compared: not a green ok
        verdict = styled(NO_DATA, "dim")
    else:
        verdict = styled("ok", success)
    drifted = drifted_cell(report)
    end = report.window_end
    window = (end.astimezone() if end.tzinfo else end).strftime("%m-%d %H:%M")
    return [name, verdict,
            styled(drifted, error if report.dataset_drift else "", "right"),
            Text(target), Text(f"{report.production_rows:,}", justify="right"), window]


def threshold_cell(feature: FeatureDrift) -> str:
    """'W1 > 0.1', 'KS p < 0.05': when the feature counts as drifted, its metric by its short name."""
    direction = "<" if feature.breaches_below else ">"
    return f"{METRIC_NAMES.get(feature.metric, feature.metric)} {direction} {feature.threshold:g}"


def _psi_cell(psi: float | None, palette: tuple[str, str]) -> Text:
    if psi is None:
        return Text(NONE, justify="right")
    error, warning = palette
    style = error if psi >= PSI_ALERT else warning if psi >= PSI_WARN else ""
    return styled(f"{psi:.3f}", style, "right")


def _feature_row(feature: FeatureDrift, palette: tuple[str, str]) -> list:
    error = palette[0]
    style = error if feature.drifted else ""
    return [styled(feature.feature, f"bold {error}" if feature.drifted else ""),
            styled(NONE if feature.value is None else f"{feature.value:.4f}", style, "right"),
            Text(threshold_cell(feature), justify="right"),
            _psi_cell(feature.psi, palette),
            Text(feature.note or "", style="dim"),
            feature.type]
