"""A disabled monitor schedule on Azure (schedules.list hides it unless asked for all) is shown
in the drift pane, and says it is disabled."""

from __future__ import annotations

from console.ui.app import AmlopsApp

from fakes.azure import azure_workspace, fake, offline  # noqa: F401 (fixtures)
from helpers import REPO, until


async def test_a_disabled_monitor_is_in_the_drift_pane_and_says_so(fake, tmp_path, monkeypatch):
    fake.schedules["churn-drift"]["properties"]["isEnabled"] = False
    ws = azure_workspace(fake, tmp_path, monkeypatch)
    app = AmlopsApp(ws, specs=REPO / "specs", refresh_s=0.2)
    async with app.run_test(size=(120, 40)) as pilot:
        def row() -> list[str]:
            panes = app.console_screen.query("#drift")
            if not panes:  # mounted just after the first frame
                return []
            table = panes.first().query("DataTable").first()
            return [str(c) for c in table.get_row("churn-drift")] if "churn-drift" in table.rows else []

        await until(pilot, lambda: row(), 20, "the monitor's row")
        assert row()[0] == "churn-drift (disabled)"
