"""The quotas pane on Azure's real Usages list (Microsoft's example, served by the fake ARM as it
is, the real azure-ai-ml in between), read off the screen at 120x40 and 80x24: the region's
dedicated and low-priority totals on top, each family's dedicated vCPUs, the low-priority family
in use with "no limit" (and ∞) where Azure says -1, and every row's figures in view. The cell-level
checks on hand-built records are below them."""

from __future__ import annotations

import asyncio
import io
import re

import pytest
from rich.console import Console
from textual.app import App, ComposeResult
from textual.widgets import DataTable

from console.domain import QuotaUsage
from console.ui.app import AmlopsApp
from console.ui.panes.quotas import BAR_WIDTH, QuotasPane, bar
from console.ui.snapshot import Snapshot

from fakes.azure import azure_workspace, fake, offline  # noqa: F401 (fixtures)
from helpers import REPO, until

# (FAMILY, USED/LIMIT, FREE) of every row, top to bottom, as the example and ws-demo add up.
ROWS = [("Region", "34/24", "0"), ("Region LP", "18/50", "32"), ("DSv2", "22/24", "2"), ("NC", "12/24", "12"),
        ("NC LP", "18/∞", "-"), ("NCSv3", "0/0", "0"), ("NCv2", "0/0", "0"), ("NCv3", "0/0", "0"), ("ND", "0/0", "0"),
        ("NDv2", "0/0", "0"), ("D", "0/48", "48"), ("Dv2", "0/24", "24"), ("ESv3", "0/24", "24"),
        ("FSv2", "0/24", "24"), ("NV", "0/24", "24")]


def pane_lines(app: App) -> list[str]:
    """The quotas pane's table as on screen, one string per row, the header first."""
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), force_terminal=True, record=True,
                      legacy_windows=False, safe_box=False)
    console.print(app.screen._compositor.render_update(full=True))
    screen = console.export_text(styles=False).splitlines()
    region = app.screen.query_one("#quotas").query_one(DataTable).region
    return [line[region.x:region.right].rstrip() for line in screen[region.y:region.bottom]]


def row_pattern(name: str, figures: str, free: str) -> re.Pattern[str]:
    """A whole row: its name, maybe a bar or a word where the bar goes, its figures, what is free."""
    return re.compile(rf"^ {re.escape(name)}\s+(?:[█░]{{{BAR_WIDTH}}}\s+|no quota\s+|no limit\s+)?"
                      rf"{re.escape(figures)}\s+{re.escape(free)}$")


@pytest.mark.parametrize("size", [(120, 40), (80, 24)], ids=["120x40", "80x24"])
async def test_the_pane_shows_the_regional_totals_first_and_every_figure_whole(fake, tmp_path, monkeypatch, size):
    app = AmlopsApp(azure_workspace(fake, tmp_path, monkeypatch), specs=REPO / "specs", refresh_s=3600)
    async with app.run_test(size=size) as pilot:
        await until(pilot, lambda: any(line.startswith(" Region LP ") for line in pane_lines(app)), 30,
                    "the regional totals")
        header, *rows = [line for line in pane_lines(app) if line.strip()]
        assert header.split()[-2:] == ["USED/LIMIT", "FREE"]
        assert len(rows) >= 4
        for line, expected in zip(rows, ROWS):  # as many as the overview has room for
            assert row_pattern(*expected).match(line), (line, expected)

        await pilot.press("2", "z")  # zoomed: every row
        await until(pilot, lambda: len([line for line in pane_lines(app) if line.strip()]) == len(ROWS) + 1, 10,
                    "every row, zoomed")
        header, *rows = [line for line in pane_lines(app) if line.strip()]
        assert header.split() == ["FAMILY", "vCPUs", "USED/LIMIT", "FREE"]
        for line, expected in zip(rows, ROWS, strict=True):
            assert row_pattern(*expected).match(line), (line, expected)
        assert "no limit" in rows[4] and "-1" not in "".join(rows)


# --- cells, on hand-built records -----------------------------------------------------------------


class PaneApp(App):
    def __init__(self, pane: QuotasPane) -> None:
        super().__init__()
        self.pane = pane

    def compose(self) -> ComposeResult:
        yield self.pane


def test_a_bar_is_always_its_width_whatever_azure_says():
    for used, limit in ((18, -1), (0, -1), (34, 24), (0, 0), (5, 0), (1, 1000), (24, 24)):
        assert len(bar(used, limit)) == BAR_WIDTH, (used, limit)


def test_low_priority_families_show_while_in_use_and_keys_keep_kinds_apart():
    usages = [
        QuotaUsage("Total Cluster Dedicated Regional vCPUs", 30, 100, kind=QuotaUsage.REGIONAL_DEDICATED),
        QuotaUsage("Total Cluster LowPriority Regional vCPUs", 12, 50, kind=QuotaUsage.REGIONAL_LOW_PRIORITY),
        QuotaUsage("standardDSv2Family", 24, 24),
        QuotaUsage("standardDSv2Family", 12, None, kind=QuotaUsage.LOW_PRIORITY),
        QuotaUsage("standardNCSv3Family", 0, 0),
        QuotaUsage("standardNCSv3Family", 0, None, kind=QuotaUsage.LOW_PRIORITY),  # not in use: not shown
        QuotaUsage("standardFSv2Family", 6, -1),  # a -1 as Azure spells it, on a dedicated row too
    ]
    pane = QuotasPane()

    async def main() -> None:
        async with PaneApp(pane).run_test(size=(100, 20)) as pilot:
            pane.apply(Snapshot(taken_at=None, quotas=usages))
            await pilot.pause()
            table = pane.query_one(DataTable)
            cells = {row.key.value: [c.plain for c in table.get_row(row.key)] for row in table.ordered_rows}
            assert list(cells) == ["Total Cluster Dedicated Regional vCPUs", "Total Cluster LowPriority Regional vCPUs",
                                   "standardDSv2Family", "standardFSv2Family", "standardDSv2Family LowPriority",
                                   "standardNCSv3Family"]
            assert cells["standardDSv2Family LowPriority"] == ["DSv2 LP", "no limit", "12/∞", "-"]
            assert cells["standardFSv2Family"] == ["FSv2", "no limit", "6/∞", "-"]
            assert cells["Total Cluster LowPriority Regional vCPUs"] == ["Region LP", "█" * 3 + "░" * 9, "12/50", "38"]
            assert "bold" in str(table.get_row("Total Cluster Dedicated Regional vCPUs")[0].style)

    asyncio.run(main())

