"""One formatting for the CLI and the console: the same moment reads the same on both."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from console import format as fmt
from console.commands.output import _cell
from console.ui.panes.jobs import ago as pane_ago

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)


def test_90_seconds_is_one_minute_ago_everywhere():
    moment = NOW - timedelta(seconds=90)
    assert fmt.ago(moment, NOW) == pane_ago(moment, NOW) == "1m ago"


def test_ages_floor_to_whole_units_then_become_a_date():
    assert [fmt.ago(NOW - timedelta(seconds=s), NOW) for s in (0, 59, 60, 3599, 3600, 86399)] == [
        "0s ago", "59s ago", "1m ago", "59m ago", "1h ago", "23h ago"]
    old = NOW - timedelta(days=3)
    assert fmt.ago(old, NOW) == pane_ago(old, NOW) == old.astimezone().date().isoformat()
    assert fmt.ago(NOW + timedelta(seconds=5), NOW) == "0s ago"  # clock skew, not the future
    assert fmt.ago(None) == "-"


def test_spans_and_money():
    assert [fmt.span(s) for s in (None, 42, 65, 7380, 270000)] == ["-", "42s", "1m05s", "2h03m", "3d03h"]
    assert [fmt.span_minutes(m) for m in (None, 5, 123, 4560)] == ["-", "5m", "2h03m", "3d04h"]
    assert (fmt.money(1234.567), fmt.usd(0.293), fmt.money(None), fmt.usd(None)) == ("1,234.57", "$0.29", "-", "-")


def test_the_cli_tables_write_times_with_the_same_ago():
    assert _cell(datetime.now(timezone.utc) - timedelta(seconds=90)) == "1m ago"
