"""The console on an Azure workspace (console/azure/ over the fake ARM, the real azure-ai-ml in
between): the same five panes fill, what the backend cannot read says so once instead of
failing every refresh, and a key that changes something works through Azure's operations."""

from __future__ import annotations

import pytest

from console.ui.app import AmlopsApp

from fakes.azure import azure_workspace, fake, offline  # noqa: F401 (fixtures)
from helpers import REPO, until


def rows(app: AmlopsApp, pane_id: str) -> list[str]:
    from textual.widgets import DataTable

    panes = app.console_screen.query(f"#{pane_id}")
    return [key.value for key in panes.first().query(DataTable).first().rows] if panes else []


async def test_the_five_panes_fill_from_azure(fake, tmp_path, monkeypatch):
    ws = azure_workspace(fake, tmp_path, monkeypatch)
    app = AmlopsApp(ws, specs=REPO / "specs", refresh_s=0.2)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: rows(app, "endpoints") and rows(app, "jobs") and rows(app, "quotas")
                    and rows(app, "compute") and rows(app, "drift"), 20, "the five panes")
        assert {"churn-ep/blue", "churn-ep/green"} <= set(rows(app, "endpoints"))
        assert "standardDSv2Family" in rows(app, "quotas")
        header = str(app.console_screen.query_one("#header").render())
        assert "ws-demo (azure)" in header and "connected" in header and "error" not in header
        drift = app.console_screen.query_one("#drift")
        # Drift from the collected model_inputs in blob storage, by the console's engine: no Spark.
        assert [str(c) for c in drift.query("DataTable").first().get_row("churn-drift")][1:] == ["ALERT", "1/11 (9%)"]
        # Azure Monitor's figures show per deployment, read once a minute at most, not every refresh.
        blue = [str(c) for c in app.console_screen.query_one("#endpoints").query("DataTable").first()
                .get_row("churn-ep/blue")]
        assert "43 ms" in blue and "2.1" in blue and "100%" in blue  # p99, requests/s, success
        # Two queries (the figures; requests by status code) of Azure Monitor's batch API, not ARM,
        # once for the 30 s Azure Monitor's grain allows.
        assert len(fake.calls("POST", r"/metrics:getBatch$")) == 2 and not fake.calls(None, r"Microsoft\.Insights")

        await pilot.press("4", "x")  # compute
        await until(pilot, lambda: len(app.screen_stack) == 2, 5, "the confirmation")
        await pilot.press("y")
        await until(pilot, lambda: fake.compute_state("dev-instance") == "Stopped", 20, "dev-instance to stop")
        assert [e.operation for e in ws.audit.list()][:1] == ["compute.stop"]
