"""The quotas pane: vCPUs used against the limit in the workspace's region, as figures and a text
bar. On top, the region's totals ("Region" for dedicated vCPUs over every family, often the
first limit a job meets, and "Region LP" for low-priority); then each family's dedicated vCPUs,
and the families whose low-priority vCPUs are in use ("NC LP": Azure sets no limit per family
there, only the regional total caps them, so "no limit" goes where the bar would and the
figures read "18/∞"). Rows close to or at their limit are coloured; families with no quota at
all (a new subscription's GPU families) come right after the families in use, dim, since
"0 quota" is what blocks a GPU job, and the GPU ones are also named on the pane's bottom border,
in view however short the pane is. Narrow, the bar goes first and used/limit stays.
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
# Ten cells of USED/LIMIT leave room for the bar beside the local workspace's longest family
# (NDAMSv4_A100) at 120 columns, and for FREE beside a 10-cell family at 80.
TABLE = (Column("FAMILY"), Column("vCPUs", 12, rank=3), Column("USED/LIMIT", 10, rank=1), Column("FREE", 4, rank=2))
COLUMNS = tuple(c.label for c in TABLE)
BAR_WIDTH = 12
WARN_RATIO = 0.8
STYLE_OK, STYLE_WARN, STYLE_FULL, STYLE_NONE = "green", "bold yellow", "bold red", "dim"
REGION = {QuotaUsage.REGIONAL_DEDICATED: "Region", QuotaUsage.REGIONAL_LOW_PRIORITY: "Region LP"}
NO_LIMIT = "no limit"


def bar(used: int, limit: int) -> str:
    """'█████░░░░░░░' for 10 of 24: filled in proportion, at least one cell once anything is used;
    always BAR_WIDTH cells, whatever the figures."""
    filled = min(BAR_WIDTH, round(BAR_WIDTH * used / limit)) if limit > 0 else BAR_WIDTH
    filled = max(filled, 1 if used > 0 else 0)
    return "█" * filled + "░" * (BAR_WIDTH - filled)


def figures(usage: QuotaUsage) -> str:
    """'20/24', or '18/∞' where Azure sets no limit (the words "no limit" go where the bar does)."""
    return f"{usage.used}/∞" if usage.unlimited else f"{usage.used}/{usage.limit}"


def short_family(family: str) -> str:
    """`standardDSv2Family` (or Azure's "Standard NC Family") as operators say it, `DSv2`: the
    pane is narrow, and every family carries the same prefix and suffix."""
    short = re.sub(r"\s*Family$", "", re.sub(r"^standard\s*", "", family, flags=re.IGNORECASE)).strip()
    return short or family


def label(usage: QuotaUsage) -> str:
    """What the FAMILY column says: a regional total's name, `NC` or `NC LP`."""
    if usage.regional:
        return REGION[usage.kind]
    return short_family(usage.family) + (" LP" if usage.kind == QuotaUsage.LOW_PRIORITY else "")


def shown(usages: list[QuotaUsage]) -> list[QuotaUsage]:
    """The rows the pane shows: every total and family, and a family's low-priority row only while
    it is in use (they all read 0 of no limit otherwise)."""
    return [u for u in usages if u.kind != QuotaUsage.LOW_PRIORITY or u.used > 0]


def style_of(usage: QuotaUsage) -> str:
    if usage.unlimited:
        return ""
    if usage.limit <= 0:
        return STYLE_FULL if usage.used else STYLE_NONE
    if usage.ratio >= 1:
        return STYLE_FULL
    return STYLE_WARN if usage.ratio >= WARN_RATIO else STYLE_OK


def is_gpu(usage: QuotaUsage) -> bool:
    """A GPU family: Azure's N series (NC, ND, NV and their versions)."""
    return not usage.regional and short_family(usage.family).upper().startswith("N")


def no_quota(usage: QuotaUsage) -> bool:
    """A family whose limit is zero: no job or deployment of it can start."""
    return not usage.regional and not usage.unlimited and usage.limit <= 0


def order(usage: QuotaUsage) -> tuple[Any, ...]:
    """The region's totals on top; then families in use (fullest first), low-priority families in
    use, zero-quota families (GPU ones first: what blocks a GPU job, the pane's reason to be),
    and the families with quota left unused; by name within each."""
    name = label(usage).lower()
    if usage.regional:
        return (0, QuotaUsage.KINDS.index(usage.kind), name)
    if usage.kind == QuotaUsage.LOW_PRIORITY:
        return (2, -usage.used, name)
    if usage.used > 0:
        return (1, -usage.ratio, name)
    if no_quota(usage):
        return (3, not is_gpu(usage), name)
    return (4, 0.0, name)


def zero_gpu_note(usages: list[QuotaUsage]) -> str:
    """'no GPU quota: NC, NCSv3': the GPU families at zero quota, for the pane's bottom border."""
    names = sorted({short_family(u.family) for u in usages if is_gpu(u) and no_quota(u) and u.used == 0
                    and u.kind == QuotaUsage.DEDICATED})
    return f"no GPU quota: {', '.join(names)}" if names else ""


def key(usage: QuotaUsage) -> str:
    """A row's key: the family for its dedicated row (as the catalog spells it), Azure's name
    for a total, the family and "LowPriority" for its low-priority row."""
    return usage.family + (" LowPriority" if usage.kind == QuotaUsage.LOW_PRIORITY else "")


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
        every = shown(snapshot.quotas or [])
        usages = sorted((u for u in every if self.keeps(label(u), u.family)), key=order)
        twice = len({key(u) for u in usages}) < len(usages)  # one family in several regions: key it by region too
        rows: dict[str, tuple[Any, ...]] = {}
        key_of: dict[str, str] = {}  # the FAMILY cell's text -> the row key
        for usage in usages:
            where = f" ({usage.location})" if twice and usage.location else ""
            row_key, name_text = key(usage) + where, label(usage) + where
            key_of[name_text] = row_key
            style = style_of(usage)
            loud = style if style != STYLE_OK else ""
            total = " bold" if usage.regional else ""
            numbers = Text(figures(usage), style=style, justify="right", end="")
            if usage.unlimited:
                gauge = Text(NO_LIMIT, end="")
                free = Text("-", style=STYLE_NONE, justify="right", end="")
                name = Text(name_text, style=total.strip(), end="")
            elif usage.limit <= 0:
                gauge = Text("no quota", style=style, end="")
                free = Text("0", style=STYLE_NONE, justify="right", end="")
                name = Text(name_text, style=STYLE_NONE + total, end="")
            else:
                gauge = Text(bar(usage.used, usage.limit), style=style, end="")
                free = Text(str(usage.free), style=loud, justify="right", end="")
                name = Text(name_text, style=(loud + total).strip(), end="")
            rows[row_key] = (name, gauge, numbers, free)
        with self.app.batch_update():
            self.query_one(FitTable).sync(rows, sort_by=("FAMILY",),
                                          key_of=lambda cell: key_of[cell.plain if isinstance(cell, Text) else str(cell)])
            self.count_shown(len(usages), len(every), zero_gpu_note(every))

    def selected_family(self) -> str | None:
        """The key of the highlighted row (a dedicated row's key is its family), if any."""
        return cursor_key(self.query_one(FitTable))
