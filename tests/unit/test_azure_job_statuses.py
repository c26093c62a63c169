"""Job statuses and times as Azure ML reports them, over the fake ARM: NotResponding and Paused
end a job as azure-ai-ml counts it (`RunHistoryConstants.TERMINAL_STATUSES`), so following a log
or `job submit --wait` ends on them; a run's start and end are the `StartTimeUtc`/`EndTimeUtc`
Azure ML writes into the job's properties, which the STARTED and DURATION columns show."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from console.domain import JOB_TERMINAL

from fakes.arm import FakeArm
from fakes.azure import azure_workspace, fake, offline, ws  # noqa: F401 (fixtures)
from helpers import REPO

TRAIN = str(REPO / "specs" / "jobs" / "train-job.yml")


def test_the_terminal_statuses_are_azure_ai_mls():
    from azure.ai.ml.operations._run_history_constants import RunHistoryConstants

    assert JOB_TERMINAL == {str(getattr(s, "value", s)) for s in RunHistoryConstants.TERMINAL_STATUSES}


@pytest.mark.parametrize("status", ["NotResponding", "Paused"])
def test_following_a_log_ends_on_a_status_the_sdk_counts_as_terminal(ws, fake, status):
    job = ws.jobs.submit(TRAIN)
    fake.set_job_status(job.name, "Running", log="epoch 1\n")
    lines = ws.jobs.logs(job.name, follow=True)
    assert next(lines) == "epoch 1\n"
    fake.set_job_status(job.name, status, log="lost the node\n")
    assert list(lines) == ["lost the node\n"]  # ended: not polled forever
    assert ws.jobs.get(job.name).is_terminal


def test_a_runs_start_and_end_come_from_the_properties_azure_writes(ws, fake):
    done = ws.jobs.get("happy_cloud_3j5k7l9m0n")
    assert done.started_at is not None and done.ended_at is not None
    assert done.started_at.tzinfo is not None and done.started_at < done.ended_at
    assert round(done.duration_s(datetime.now(timezone.utc))) == 3 * 60 + 25  # from 5 h 2 min 20 s ago (created + 40 s) to 4 h 58 min 55 s ago
    queued = ws.jobs.get("keen_lamp_q1w2e3r4t5")
    assert (queued.started_at, queued.ended_at) == (None, None)
    job = ws.jobs.submit(TRAIN)
    fake.set_job_status(job.name, "Running")
    running = ws.jobs.get(job.name)
    assert running.started_at is not None and running.ended_at is None


def test_the_job_list_shows_each_runs_duration(ws, fake):
    from console.commands.jobs import _JOB_COLUMNS

    duration = dict(_JOB_COLUMNS)["DURATION"]
    shown = {j.name: duration(j) for j in ws.jobs.list()}
    assert shown["happy_cloud_3j5k7l9m0n"] == "3m25s"
    assert shown["keen_lamp_q1w2e3r4t5"] in ("", "-", "—", None)  # queued: not started


def test_each_workspace_keeps_its_own_job_listing(fake, tmp_path, monkeypatch):
    first = azure_workspace(fake, tmp_path / "a", monkeypatch)
    other = azure_workspace(FakeArm(empty=True), tmp_path / "b", monkeypatch)
    first.jobs.list()
    assert "happy_cloud_3j5k7l9m0n" in first.jobs.seen
    assert other.jobs.seen == {}  # a class-level dict would have shared the first's listing
