"""Fixtures of the jobs tests: a real worker per module, a real receiver per test (jobs.tests.
support has the machinery)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest

from core.tests.servers import free_port, process_stop
from jobs.tests.support import Receiver, sql_run, worker_start


@pytest.fixture(scope="module")
def worker(django_db_setup) -> Iterator[subprocess.Popen]:
    process = worker_start()
    try:
        yield process
    finally:
        process_stop(process)


@pytest.fixture(autouse=True)
def _empty_queue(request):
    """procrastinate's tables are not Django's to flush: each test starts with an empty queue."""
    yield
    if "transactional_db" in request.fixturenames or "live_worker" in request.fixturenames:
        sql_run("DELETE FROM procrastinate_periodic_defers")
        sql_run("DELETE FROM procrastinate_events")
        sql_run("DELETE FROM procrastinate_jobs")


@pytest.fixture
def live_worker(transactional_db, worker) -> subprocess.Popen:
    """The module's worker, for a test whose rows it must see (committed)."""
    return worker


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver(port=free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()
