"""The quotas pane: vCPUs used against the limit per VM family, as figures and a text bar, the
families close to or at their limit coloured, and the families with no quota at all (a new
subscription's GPU families) kept visible but dim, since "0 quota" is what blocks a GPU job.
Narrow, the bar goes first and used/limit stays.
"""

from __future__ import annotations

import re
from typing import Any

from rich.text import Text
from textual.app import ComposeResult

from console.domain import QuotaUsage
from console.ui.panes.base import Pane
from console.ui.snapshot import Snapshot
from console.ui.table import Column, FitTable, cursor_key

# Fixed widths where the figures change under a key (cells are updated without re-measuring).
TABLE = (Column("FAMILY"), Column("vCPUs", 12, rank=3), Column("USED/LIMIT", 10, rank=1), Column("FREE", 4, rank=2))
COLUMNS = tuple(c.label for c in TABLE)
BAR_WIDTH = 12
WARN_RATIO = 0.8
STYLE_OK, STYLE_WARN, STYLE_FULL, STYLE_NONE = "green", "bold yellow", "bold red", "dim"


def bar(used: int, limit: int) -> str:
    """'█████░░░░░░░' for 10 of 24: filled in proportion, at least one cell once anything is used."""
    filled = min(BAR_WIDTH, round(BAR_WIDTH * used / limit)) if limit else BAR_WIDTH
    if used and not filled:
        filled = 1
    return "█" * filled + "░" * (BAR_WIDTH - filled)


def short_family(family: str) -> str:
    """`standardDSv2Family` as operators say it, `DSv2`: the pane is narrow, and every family
    carries the same prefix and suffix."""
    short = re.sub(r"Family$", "", re.sub(r"^standard", "", family, flags=re.IGNORECASE)).strip()
    return short or family


def style_of(usage: QuotaUsage) -> str:
    if usage.limit <= 0:
        return STYLE_FULL if usage.used else STYLE_NONE
    if usage.ratio >= 1:
        return STYLE_FULL
    return STYLE_WARN if usage.ratio >= WARN_RATIO else STYLE_OK


def order(usage: QuotaUsage) -> tuple[Any, ...]:
    """In use first (fullest on top), then families with quota, then zero-quota families."""
    name = usage.family.lower()
    if usage.used > 0:
        return (0, -usage.ratio, name)
    return (1 if usage.limit > 0 else 2, 0.0, name)


class QuotasPane(Pane):
    """vCPU quota per VM family in the workspace's region."""

    DEFAULT_CSS = """
    QuotasPane > FitTable { height: 1fr; }
    """

    title = "Quotas"
    area = "quotas"

    def body(self) -> ComposeResult:
        yield FitTable(TABLE, cursor_type="row", zebra_stripes=False)

    def show(self, snapshot: Snapshot) -> None:
        usages = sorted(snapshot.quotas or (), key=order)
        seen = {u.family for u in usages}
        twice = len(seen) < len(usages)  # one family in several regions: key it by region too
        rows: dict[str, tuple[Any, ...]] = {}
        key_of: dict[str, str] = {}  # the FAMILY cell's text -> the row key (the full family name)
        for usage in usages:
            key = f"{usage.family} ({usage.location})" if twice and usage.location else usage.family
            shown = short_family(usage.family) + (f" ({usage.location})" if twice and usage.location else "")
            key_of[shown] = key
            style = style_of(usage)
            figures = Text(f"{usage.used}/{usage.limit}", style=style, justify="right", end="")
            if usage.limit <= 0:
                gauge = Text("no quota", style=style, end="")
                free = Text("0", style=STYLE_NONE, justify="right", end="")
                name = Text(shown, style=STYLE_NONE, end="")
            else:
                gauge = Text(bar(usage.used, usage.limit), style=style, end="")
                free = Text(str(usage.free), style=style if style != STYLE_OK else "", justify="right", end="")
                name = Text(shown, style=style if style != STYLE_OK else "", end="")
            rows[key] = (name, gauge, figures, free)
        with self.app.batch_update():
            self.query_one(FitTable).sync(rows, sort_by=("FAMILY",),
                                          key_of=lambda cell: key_of[cell.plain if isinstance(cell, Text) else str(cell)])

    def selected_family(self) -> str | None:
        """The family of the highlighted row, if any."""
        return cursor_key(self.query_one(FitTable))
