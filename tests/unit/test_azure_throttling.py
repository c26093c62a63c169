"""ARM's read budget is the principal's: one 429 concerns every area. A console read that meets
one ends at once (no three retries in silence), no read is sent until its Retry-After runs out,
the header counts it down, and writes (their own budget) and an operation's polls go on."""

from __future__ import annotations

import time

import pytest

from console.errors import Throttled
from console.ui.app import AmlopsApp

from fakes.azure import azure_workspace, fake, offline, ws  # noqa: F401 (fixtures)
from helpers import REPO, until


def test_a_read_that_meets_a_429_ends_at_once_and_holds_every_area(ws, fake):
    fake.fail("GET", r"/computes$", 429, headers={"Retry-After": "30"}, times=10)
    started = time.monotonic()
    with pytest.raises(Throttled) as err:
        ws.compute.list()
    assert time.monotonic() - started < 2
    assert ws.session._transport.slept == []  # nothing waited out inside azure-core's retry
    assert len(fake.calls("GET", r"/computes$")) == 1
    assert "30 s" in err.value.message
    assert 25 < ws.throttled_for() <= 30

    sent = len(fake.requests)
    with pytest.raises(Throttled):
        ws.jobs.list()  # another area: not sent at all while ARM asks for quiet
    with pytest.raises(Throttled):
        ws.endpoints.list()
    assert len(fake.requests) == sent


def test_reads_resume_once_retry_after_has_run_out(ws, fake):
    fake.fail("GET", r"/computes$", 429, headers={"Retry-After": "30"}, times=1)
    with pytest.raises(Throttled):
        ws.compute.list()
    ws.session.counter.throttled_until = time.time() - 1  # thirty seconds later
    assert ws.throttled_for() is None
    assert ws.compute.list()


def test_a_write_and_its_polls_still_go_while_reads_are_held(ws, fake):
    fake.fail("GET", r"/computes$", 429, headers={"Retry-After": "30"}, times=1)
    with pytest.raises(Throttled):
        ws.compute.list()
    # ARM counts writes apart from reads, and an operation's polls run in its own thread, outside
    # any area of the console: neither is held.
    ws.session.client().compute.begin_stop("dev-instance").result()
    assert fake.compute_state("dev-instance") == "Stopped"
    assert ws.throttled_for() is not None


def test_a_read_from_a_throttle_given_as_an_http_date_is_held_too(ws, fake):
    from email.utils import formatdate

    fake.fail("GET", r"/computes$", 429, headers={"Retry-After": formatdate(time.time() + 20, usegmt=True)})
    with pytest.raises(Throttled) as err:
        ws.compute.list()
    assert 10 < err.value.retry_after_s <= 21


async def test_the_header_counts_the_throttle_down_and_no_area_reads_meanwhile(fake, tmp_path, monkeypatch):
    ws = azure_workspace(fake, tmp_path, monkeypatch)
    app = AmlopsApp(ws, specs=REPO / "specs", refresh_s=0.2)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.console_screen
        await until(pilot, lambda: screen.snapshot is not None and screen.snapshot.computes, 20, "the first read")
        fake.fail("GET", r"/computes$", 429, headers={"Retry-After": "60"}, times=10)
        screen.read("computes")
        await until(pilot, lambda: ws.throttled_for() is not None, 10, "the 429")
        await pilot.pause()
        sent = len([c for c in fake.requests if c.host == "management.azure.com"])
        for area in ("jobs", "endpoints", "computes", "monitors", "quotas"):
            screen.read(area)  # what the timers would do: each waits the throttle out instead
        await pilot.pause(0.5)
        screen._show_header()
        header = str(screen.query_one("#header").render())
        assert "throttled by Azure: reads resume in" in header, header
        assert "error" not in header
        assert len([c for c in fake.requests if c.host == "management.azure.com"]) == sent
        assert all(timer is not None for timer in screen._next_read.values())
