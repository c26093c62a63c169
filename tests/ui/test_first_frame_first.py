"""The first frame is painted before any area of the workspace is read: a read runs in a worker
thread (on Azure the first one imports azure-ai-ml, seconds of GIL), and it must not compete
with the first paint (benchmarks/azure_refresh.py measures the frame against a bare app)."""

from __future__ import annotations

import time

from console.ui.app import AmlopsApp

from fakes.canned import CannedWorkspace
from helpers import until


async def test_no_area_is_read_before_the_first_frame():
    ws = CannedWorkspace()
    reads: list[bool] = []
    app = AmlopsApp(ws, started_at=time.perf_counter(), refresh_s=0.2)
    original = ws.jobs.list

    def listing(*args, **kwargs):
        reads.append(app.first_frame_s is not None)  # was the frame already painted?
        return original(*args, **kwargs)

    ws.jobs.list = listing
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: reads, 10, "the first read of jobs")
        assert reads[0] is True
