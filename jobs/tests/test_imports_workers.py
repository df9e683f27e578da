"""Imports under workers of their own: progress as the rows load, and a worker killed mid-import
(nothing stays; the job is retried or failed). This module starts its own workers, so no other
worker takes its jobs."""

from __future__ import annotations

import os
import signal
import time

import pytest

from core.tests.servers import process_stop
from jobs.services.imports import WORKER_LOST
from orgs.models import AuditEvent, Membership
from users.models import User

from .support import csv_file, import_post, job_wait, member_lines, wait_for, worker_start

pytestmark = pytest.mark.usefixtures("transactional_db")


def _imported() -> tuple[int, int]:
    return (
        User.objects.filter(email__endswith="@import.example").count(),
        Membership.objects.filter(user__email__endswith="@import.example").count(),
    )


def test_an_import_of_5000_rows_reports_progress_as_it_goes(api, admin):
    worker = worker_start(IMPORT_BATCH_ROWS="500", IMPORT_THROTTLE_SECONDS="0.1")
    try:
        job_id = import_post(api, admin, csv_file(member_lines(5000))).json()["id"]
        seen = []

        def ended():
            job = api.get(admin, f"/jobs/{job_id}").json()
            seen.append((job["status"], job["progress"]["done"], job["progress"]["total"]))
            return job if job["status"] in ("succeeded", "failed") else None

        job = wait_for(ended, timeout=60, interval=0.02)
    finally:
        process_stop(worker)

    assert job["status"] == "succeeded", job["error"]
    assert job["progress"] == {"done": 5000, "total": 5000}
    done = [d for status, d, _ in seen if status == "running"]
    assert done == sorted(done)  # it only moves forward
    assert len({d for d in done if 0 < d < 5000}) >= 3, seen  # seen moving, batch by batch
    assert _imported() == (5000, 5000)
    assert AuditEvent.objects.filter(action="member.create").count() == 5000


def test_a_worker_killed_mid_import_leaves_nothing_and_the_job_is_retried_or_failed(api, admin):
    doomed = worker_start(IMPORT_BATCH_ROWS="200", IMPORT_THROTTLE_SECONDS="0.3")
    try:
        job_id = import_post(api, admin, csv_file(member_lines(3000))).json()["id"]
        wait_for(lambda: api.get(admin, f"/jobs/{job_id}").json()["progress"]["done"] >= 400)
        os.kill(doomed.pid, signal.SIGKILL)  # mid-transaction: rows inserted, not committed
        doomed.wait(timeout=10)
    finally:
        process_stop(doomed)
    killed_at = time.monotonic()

    assert api.get(admin, f"/jobs/{job_id}").json()["status"] == "running"
    assert _imported() == (0, 0)  # the open transaction died with the worker

    rescuer = worker_start()  # finds the job without a heartbeat (JOBS_STALLED_SECONDS = 3)
    try:
        job = job_wait(api, admin, job_id, timeout=60)
    finally:
        process_stop(rescuer)
    print(f"killed mid-import: {job['status']} {time.monotonic() - killed_at:.1f} s after")
    if job["status"] == "succeeded":  # retried from the start, by the other worker
        assert _imported() == (3000, 3000)
        assert job["progress"] == {"done": 3000, "total": 3000}
    else:
        assert job["error"]["message"] == WORKER_LOST
        assert _imported() == (0, 0)


def test_the_workers_job_durations_and_failures_reach_the_metrics(api, admin, tmp_path):
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.multiprocess import MultiProcessCollector

    worker = worker_start(PROMETHEUS_MULTIPROC_DIR=str(tmp_path))
    try:
        good = import_post(api, admin, csv_file(member_lines(3))).json()["id"]
        bad = import_post(api, admin, csv_file(["not-an-email,X,employee,,,"])).json()["id"]
        assert job_wait(api, admin, good)["status"] == "succeeded"
        assert job_wait(api, admin, bad)["status"] == "failed"
    finally:
        process_stop(worker)
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(tmp_path))  # what /metrics reads under make run
    text = generate_latest(registry).decode()

    task = 'task="jobs.members_import"'
    assert f'cadence_job_duration_seconds_count{{outcome="succeeded",{task}}} 1.0' in text
    assert f'cadence_job_duration_seconds_count{{outcome="failed",{task}}} 1.0' in text
    assert f"cadence_job_failures_total{{{task}}} 1.0" in text
