"""A real streaming read replica under a real gunicorn (README "Scale-out path", DESIGN.md §9).

A private primary (core.tests.postgres) and a hot standby made from it with `pg_basebackup -R`
on another port; the app runs with DATABASE_URL = the primary and DATABASE_REPLICA_URL = the
standby, migrated and demo-seeded on the primary (the standby replays it). The standby logs
every statement it runs (`log_min_duration_statement=0`), so a test sees which reads went
there; `cadence_page_builds_total` on /metrics says where each page was built.

With replay paused (`pg_wal_replay_pause()`), a write commits on the primary only: the same
user's next page must show it (built on the primary, and cached, since it is correct for its
key) — never the standby's pre-write state.
"""

from __future__ import annotations

import re
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

from conftest import RUN_PREFIX
from core.tests.postgres import PrivatePostgres, StreamingStandby
from core.tests.servers import Http, gunicorn_start, process_stop, server_env

DEMO_PASSWORD = "demo-pass-1234"  # perf.demo: the demo logins of `manage.py seed --demo`
PAGE = "/api/org/acme/evaluation/goal-list-page"
DASHBOARD = "/api/org/acme/dashboards/admin"
DRAFT_GOAL = "Learn the billing domain"  # the demo employee's draft in the active period
# The replica check (orgs.changes.org_change_head) as the standby logs it.
HEAD_CHECK = 'SELECT "orgs_organization"."change_seq" AS "change_seq" FROM "orgs_organization"'


class StatementLog:
    """The statements the standby ran (its log, `log_min_duration_statement=0`) since `mark()`:
    one `execute` or simple-query `statement` line each, with its duration."""

    _LINE = re.compile(r"duration: ([\d.]+) ms\s+(?:execute [^:]*|statement): (.*)")

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0

    def mark(self) -> None:
        self.offset = self.path.stat().st_size

    def since_mark(self) -> list[tuple[float, str]]:
        with self.path.open("rb") as log:
            log.seek(self.offset)
            text = log.read().decode(errors="replace")
        return [(float(m[1]), m[2]) for m in map(self._LINE.search, text.splitlines()) if m]

    def statements(self, table: str) -> list[tuple[float, str]]:
        return [(ms, sql) for ms, sql in self.since_mark() if f'FROM "{table}"' in sql]

    def head_checks(self) -> list[tuple[float, str]]:
        return [(ms, sql) for ms, sql in self.since_mark() if sql.startswith(HEAD_CHECK)]


def page_builds(port: int) -> dict[str, float]:
    """`cadence_page_builds_total` by source (/metrics answers loopback callers)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:  # noqa: S310
        text = response.read().decode()
    pattern = r'^cadence_page_builds_total\{source="(\w+)"\} (\S+)$'
    builds = {m[1]: float(m[2]) for m in re.finditer(pattern, text, re.MULTILINE)}
    return {
        source: builds.get(source, 0.0) for source in ("replica", "primary_lag", "primary_error")
    }


def builds_since(port: int, before: dict[str, float]) -> dict[str, float]:
    return {source: count - before[source] for source, count in page_builds(port).items()}


class Replicated:
    def __init__(self, primary, standby, port, employee, admin):
        self.primary: PrivatePostgres = primary
        self.standby: StreamingStandby = standby
        self.port: int = port
        self.employee: Http = employee
        self.admin: Http = admin
        self.log = StatementLog(standby.log)

    def page(self, headers=None) -> tuple[int, dict, dict]:
        status, response_headers, body, _ = self.employee.call("GET", PAGE, headers=headers)
        return status, response_headers, body

    def draft_goal(self) -> dict:
        status, _, body = self.page()
        assert status == 200, body
        return next(goal for goal in body["goals"] if goal["status"] == "draft")

    def title_write(self, goal_id: int, title: str) -> None:
        status, _, body, _ = self.employee.call(
            "PATCH", f"/api/org/acme/goals/{goal_id}", {"title": title}
        )
        assert status == 200, body


def _login(port: int, email: str) -> Http:
    http = Http(port)
    status, _, body, _ = http.call(
        "POST", "/api/auth/login", {"email": email, "password": DEMO_PASSWORD}
    )
    assert status == 200, body
    http.token = body["access_token"]
    return http


@pytest.fixture(scope="module")
def replicated():
    """One sync gunicorn worker with the primary and its streaming standby, demo-seeded."""
    primary = PrivatePostgres.primary()
    standby = StreamingStandby(primary, settings={"log_min_duration_statement": "0"})
    server = None
    try:
        primary.init()
        standby.init()  # before the schema: the migration and the seed arrive by streaming
        env = server_env(
            DATABASE_URL=primary.url,
            DATABASE_REPLICA_URL=standby.url,
            # Its own prefix (the demo org ids would collide with the test database's), under
            # the suite's: the suite's final flush cleans it up.
            CACHE_KEY_PREFIX=f"{RUN_PREFIX}-replica",
            RATE_LIMITS_ENABLED="false",
        )
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)  # this worker's own counters
        for command in (["migrate", "--no-input"], ["seed", "--demo"]):
            subprocess.run(  # noqa: S603
                [sys.executable, "manage.py", *command], env=env, cwd=settings.BASE_DIR,
                check=True, timeout=180, stdout=subprocess.DEVNULL,
            )  # fmt: skip
        standby.caught_up_wait()
        server, port = gunicorn_start(env)
        yield Replicated(
            primary,
            standby,
            port,
            employee=_login(port, "employee@acme.example"),
            admin=_login(port, "admin@acme.example"),
        )
    finally:
        if server is not None:
            process_stop(server)
        standby.destroy()
        primary.destroy()


def test_pages_and_dashboards_are_read_from_the_replica_and_nothing_else_is(replicated):
    r = replicated
    goal = r.draft_goal()
    r.title_write(goal["id"], "Read on the replica")  # a new version: the next page is cold
    r.standby.caught_up_wait()
    before = page_builds(r.port)
    r.log.mark()

    status, _, body = r.page()
    assert status == 200, body
    assert "Read on the replica" in [g["title"] for g in body["goals"]]
    status, _, body, _ = r.admin.call("GET", DASHBOARD)
    assert status == 200, body
    assert builds_since(r.port, before) == {"replica": 2, "primary_lag": 0, "primary_error": 0}
    checks = r.log.head_checks()
    assert len(checks) == 2, checks  # one head check per page build, no more
    assert r.log.statements("goals_goal"), "the page's goals were not read on the replica"

    # Not page-shaped: the members list, /me, a write and login stay on the primary.
    r.log.mark()
    assert r.admin.call("GET", "/api/org/acme/members")[0] == 200
    assert r.employee.call("GET", "/api/org/acme/me")[0] == 200
    r.title_write(goal["id"], "Written on the primary")
    _login(r.port, "manager@acme.example")
    assert r.log.since_mark() == []

    # The cost of the replica path, as the standby measured it (shown with -s).
    r.log.mark()
    for n in range(5):
        r.title_write(goal["id"], f"Cold page {n}")
        r.standby.caught_up_wait()
        assert r.page()[0] == 200
    page_reads = [
        (ms, sql) for ms, sql in r.log.since_mark() if "pg_last_wal_replay_lsn" not in sql
    ]
    check_ms = [ms for ms, sql in page_reads if sql.startswith(HEAD_CHECK)]
    build_ms = [ms for ms, sql in page_reads if not sql.startswith(HEAD_CHECK)]
    assert len(check_ms) == 5
    print(
        f"replica path: head check median {statistics.median(check_ms):.3f} ms on the standby; "
        f"the page's own {len(build_ms) // 5} queries {sum(build_ms) / 5:.3f} ms per build"
    )


def test_with_replay_paused_a_write_shows_on_its_next_page_built_on_the_primary_and_cached(
    replicated,
):
    r = replicated
    goal = r.draft_goal()
    r.title_write(goal["id"], "Before the pause")
    r.standby.caught_up_wait()
    status, headers, body = r.page()
    assert status == 200
    old_etag = headers["ETag"]

    r.standby.replay_pause()
    try:
        r.title_write(goal["id"], "Written while replay is paused")
        # The standby really is behind: it still holds the pre-write state.
        rows = r.standby.sql("SELECT title FROM goals_goal WHERE id = %s", (goal["id"],))
        assert rows == [("Before the pause",)]

        before = page_builds(r.port)
        r.log.mark()
        status, headers, body = r.page(headers={"If-None-Match": old_etag})
        assert status == 200  # not a 304 for the pre-write version
        titles = [g["title"] for g in body["goals"]]
        assert "Written while replay is paused" in titles
        assert "Before the pause" not in titles
        assert headers["ETag"] != old_etag
        # Built on the primary after one look at the standby's head, which was behind.
        assert builds_since(r.port, before) == {"replica": 0, "primary_lag": 1, "primary_error": 0}
        assert len(r.log.head_checks()) == 1
        assert r.log.statements("goals_goal") == []

        # That page was cached (it is right for its key): the next request builds nothing.
        before = page_builds(r.port)
        status, again_headers, again = r.page()
        assert (status, again, again_headers["ETag"]) == (200, body, headers["ETag"])
        assert builds_since(r.port, before) == {"replica": 0, "primary_lag": 0, "primary_error": 0}

        # The dashboard, cold since the write, is not read from the stale standby either.
        before = page_builds(r.port)
        assert r.admin.call("GET", DASHBOARD)[0] == 200
        assert builds_since(r.port, before) == {"replica": 0, "primary_lag": 1, "primary_error": 0}
    finally:
        r.standby.replay_resume()

    r.standby.caught_up_wait()
    r.title_write(goal["id"], "After the resume")
    r.standby.caught_up_wait()
    before = page_builds(r.port)
    r.log.mark()
    status, _, body = r.page()
    assert "After the resume" in [g["title"] for g in body["goals"]]
    assert builds_since(r.port, before) == {"replica": 1, "primary_lag": 0, "primary_error": 0}
    assert r.log.statements("goals_goal"), "reads did not go back to the replica"


def test_a_replica_that_is_down_costs_one_pool_timeout_then_the_primary_serves_pages(
    replicated,
):
    r = replicated
    goal = r.draft_goal()
    status, _, health, _ = r.employee.call("GET", "/health")
    assert (status, health["status"], health["checks"]["replica"]["status"]) == (200, "ok", "ok")
    assert health["checks"]["replica"]["lag_seconds"] >= 0
    r.standby.stop()
    try:
        before = page_builds(r.port)
        timings = []
        for n in range(3):
            r.title_write(goal["id"], f"Replica down {n}")  # each page is cold
            status, _, body, seconds = r.employee.call("GET", PAGE)
            assert status == 200, body
            assert f"Replica down {n}" in [g["title"] for g in body["goals"]]
            timings.append(seconds)
        print("replica down: cold page seconds", [round(t, 3) for t in timings])
        assert timings[0] < 2.5  # one pool timeout (DB_POOL_TIMEOUT 1.5 s), then the primary
        assert max(timings[1:]) < 0.5  # the primary, without asking the replica again
        assert builds_since(r.port, before)["primary_error"] == 1
        # Pages go to the primary: the service still answers, degraded; within the down
        # window /health does not wait for the replica again.
        status, _, health, seconds = r.employee.call("GET", "/health")
        assert (status, health["status"], health["checks"]["replica"]["status"]) == (
            200,
            "degraded",
            "down",
        )
        assert seconds < 0.5
    finally:
        r.standby.start()
    r.standby.caught_up_wait()

    # Back: once REPLICA_DOWN_SECONDS (5 s) have passed, cold pages are read there again.
    started = time.monotonic()
    for n in range(40):
        r.title_write(goal["id"], f"Replica back {n}")
        r.standby.caught_up_wait()
        before = page_builds(r.port)
        status, _, body = r.page()
        assert f"Replica back {n}" in [g["title"] for g in body["goals"]]
        if builds_since(r.port, before)["replica"] == 1:
            break
        assert time.monotonic() - started < 15, "pages were not read from the replica again"
        time.sleep(0.5)
    print(f"replica back: pages read there again after {time.monotonic() - started:.1f} s")
