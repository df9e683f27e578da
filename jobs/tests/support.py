"""Real workers and a real receiver for the jobs tests (fixtures in conftest.py).

`worker`: a `manage.py worker` process of the project on the test database, one per test
module (so a module that starts workers of its own, killed mid-job or with other settings, has
no other worker taking its jobs), with quick heartbeats and retries. The rows they read are
committed (`transactional_db`), since the worker is another process.

`receiver`: an HTTP server on 127.0.0.1 that records what it is sent and answers as told:
a status per request, or down (its port closed) for a while.
"""

from __future__ import annotations

import http.server
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pytest
from django.conf import settings

from conftest import RUN_PREFIX
from core.db import database_url
from core.tests.servers import process_stop

# A worker for tests: fast heartbeats, stalled after 3 s, sweeps twice a second, webhook
# retries after 0.2 s doubling up to 1 s, for 5 s; loopback receivers allowed (the test's own).
WORKER_ENV = {
    "JOBS_HEARTBEAT_SECONDS": "0.5",
    "JOBS_STALLED_SECONDS": "3",
    "JOBS_SWEEP_SECONDS": "0.5",
    "JOBS_POLL_SECONDS": "0.2",
    "WEBHOOKS_ALLOW_LOOPBACK": "true",
    "WEBHOOKS_RETRY_BASE_SECONDS": "0.2",
    "WEBHOOKS_RETRY_MAX_SECONDS": "1",
    "WEBHOOKS_TIMEOUT_SECONDS": "2",
    "WEBHOOKS_RETRY_FOR_SECONDS": "5",  # then a delivery is `failed` (24 h in production)
}


def _db_url() -> str:
    return database_url(settings.DATABASES["default"])


def worker_start(**overrides: str) -> subprocess.Popen:
    """A worker process on the test database, registered (heartbeat in the table) before this
    returns; stop it with `process_stop`, or kill it."""
    env = {
        **os.environ,
        "DEBUG": "true",
        "DATABASE_URL": _db_url(),
        "REDIS_URL": settings.CACHES["default"]["LOCATION"],
        "CACHE_KEY_PREFIX": RUN_PREFIX,  # the suite's prefix: invalidations reach its cache
        "LOG_LEVEL": "warning",
        **WORKER_ENV,
        **overrides,
    }
    env.pop("TEST_DATABASE_NAME", None)
    if "PROMETHEUS_MULTIPROC_DIR" not in overrides:
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    registered = sql_value("SELECT coalesce(max(id), 0) FROM procrastinate_workers")
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "manage.py", "worker", "--concurrency", "4"],
        env=env,
        cwd=settings.BASE_DIR,
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail("the worker exited at start-up")
            if sql_value("SELECT count(*) FROM procrastinate_workers WHERE id > %s", [registered]):
                return process  # this one's row: workers register once they run
            time.sleep(0.1)
        pytest.fail("the worker did not start within 30 s")
    except BaseException:
        process_stop(process)
        raise


def sql_value(query: str, params: list[Any] | None = None) -> Any:
    """One value, read on a connection of its own (autocommit): what is committed, whatever
    the test's own connection is in."""
    with psycopg.connect(_db_url(), autocommit=True) as conn:
        row = conn.execute(query, params or []).fetchone()
    return row[0] if row else None


def sql_run(query: str, params: list[Any] | None = None) -> None:
    with psycopg.connect(_db_url(), autocommit=True) as conn:
        conn.execute(query, params or [])


def wait_for(condition: Callable[[], Any], *, timeout: float = 30, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"not within {timeout} s")


# --- The receiver -------------------------------------------------------------------------------


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int
    at: float


@dataclass
class Receiver:
    port: int
    requests: list[Received] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)  # answers to the next requests, then 200
    failing: set[int] = field(default_factory=set)  # event ids (seqs) always answered 500
    redirect_to: str | None = None
    _server: http.server.ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> None:
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver._lock:
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                    if int(self.headers.get("Cadence-Event-Id", 0)) in receiver.failing:
                        status = 500
                    if receiver.redirect_to:
                        status = 302
                    receiver.requests.append(
                        Received(self.path, dict(self.headers), body, status, time.time())
                    )
                self.send_response(status)
                if receiver.redirect_to:
                    self.send_header("Location", receiver.redirect_to)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def succeeded(self) -> list[Received]:
        with self._lock:
            return [r for r in self.requests if 200 <= r.status < 300]


# --- Import files -------------------------------------------------------------------------------

HEADER = "email,full_name,role,department,supervisor_email,title"


def csv_file(lines: list[str], header: str = HEADER) -> bytes:
    return ("\n".join([header, *lines]) + "\n").encode()


def member_lines(count: int, *, prefix: str = "imp", department: str = "Imported") -> list[str]:
    """`count` valid rows: every tenth a manager, the others reporting to the manager before
    them (a supervisor named inside the file)."""
    lines = []
    for i in range(count):
        email = f"{prefix}{i}@import.example"
        if i % 10 == 0:
            lines.append(f"{email},Person {i},manager,{department},,Lead")
        else:
            boss = f"{prefix}{i - i % 10}@import.example"
            lines.append(f"{email},Person {i},employee,{department},{boss},Engineer")
    return lines


def import_post(api, actor, data: bytes, content_type: str = "text/csv"):
    return api.client.generic(
        "POST",
        f"/api/org/{actor.org.slug}/members/import",
        data=data,
        content_type=content_type,
        HTTP_AUTHORIZATION=f"Bearer {api.token_for(actor.user)}",
    )


def job_wait(api, actor, job_id: int, *, timeout: float = 60) -> dict[str, Any]:
    """The job once it ended (succeeded or failed), read through the API."""

    def ended():
        body = api.get(actor, f"/jobs/{job_id}").json()
        return body if body["status"] in ("succeeded", "failed") else None

    return wait_for(ended, timeout=timeout)
