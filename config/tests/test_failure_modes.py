"""Failure modes, tested against real servers that really stop (README, "Failure modes").

- Redis stopped in the middle of a run: a private redis-server behind a TCP relay the test
  cuts and restores (the data survives) or kills and restarts (the data is lost). Every
  request is answered from PostgreSQL meanwhile, and no page cached before the outage is
  served after a write made during it.
- PostgreSQL restarted: a private PostgreSQL cluster (the binaries of the pgserver wheel) under
  a real gunicorn. While it is down, a request that needs SQL is a 503 envelope within a
  couple of seconds; once it is back, requests succeed again without restarting the app.

No mock: these are the servers the app talks to, stopped and started by PID or pg_ctl.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

from conftest import RUN_PREFIX

DEMO_PASSWORD = "demo-pass-1234"  # perf.demo: the demo logins of `manage.py seed --demo`


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _kill(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


# --- PostgreSQL restarted (a private cluster under a real gunicorn) -------------------------


class PrivatePostgres:
    """A PostgreSQL cluster of its own in a temp dir, on a free 127.0.0.1 port."""

    def __init__(self) -> None:
        import pgserver

        self.bin = Path(pgserver.__file__).parent / "pginstall" / "bin"
        self.root = Path(tempfile.mkdtemp(prefix="cadence-faults-pg-"))
        self.pgdata = self.root / "data"
        self.port = _free_port()
        self.user: str | None = None
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root: run it as pgserver does
            import pwd

            from pgserver.utils import ensure_prefix_permissions, ensure_user_exists

            self.user = "pgserver"
            ensure_user_exists(self.user)
            ensure_prefix_permissions(self.root)
            ensure_prefix_permissions(self.bin)
            entry = pwd.getpwnam(self.user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/cadence"

    def _run(self, name: str, *args: str, timeout: float = 60) -> None:
        subprocess.run(  # noqa: S603
            [str(self.bin / name), *args],
            check=True,
            user=self.user,
            timeout=timeout,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def init(self) -> None:
        self._run("initdb", "-D", str(self.pgdata), "-U", "postgres", "--auth=trust", "-N")
        self.start()
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "cadence")

    def start(self) -> None:
        options = f"-h 127.0.0.1 -p {self.port} -k {self.root} -c fsync=off"
        log = str(self.root / "postgres.log")
        self._run("pg_ctl", "-D", str(self.pgdata), "-o", options, "-l", log, "-w", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.pgdata), "-m", "fast", "-w", "stop")

    def destroy(self) -> None:
        pid_file = self.pgdata / "postmaster.pid"
        if pid_file.exists():
            with contextlib.suppress(Exception):
                self._run("pg_ctl", "-D", str(self.pgdata), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


class Http:
    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.token = ""

    def call(self, method: str, path: str, data=None, timeout: float = 15):
        """(status, headers, body, seconds)"""
        body = None if data is None else json.dumps(data).encode()
        request = urllib.request.Request(self.base + path, data=body, method=method)  # noqa: S310
        request.add_header("Content-Type", "application/json")
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        started = time.monotonic()
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
                status, headers, raw = response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as exc:
            status, headers, raw = exc.code, dict(exc.headers), exc.read()
        elapsed = time.monotonic() - started
        return status, headers, json.loads(raw or b"{}"), elapsed


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
        port = _free_port()
        server = subprocess.Popen(  # noqa: S603
            [
                sys.executable, "-m", "gunicorn", "config.wsgi:application",
                "-c", str(settings.BASE_DIR / "config" / "gunicorn.conf.py"),
                "--bind", f"127.0.0.1:{port}", "--workers", "1",
            ],
            env=env, cwd=settings.BASE_DIR, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        http = Http(port)
        deadline = time.monotonic() + 20
        while True:
            if server.poll() is not None:
                pytest.fail("gunicorn exited at start-up")
            with contextlib.suppress(OSError):
                if http.call("GET", "/health/live", timeout=1)[0] == 200:
                    break
            if time.monotonic() > deadline:
                pytest.fail("gunicorn did not answer within 20 s")
            time.sleep(0.1)
        status, _, body, _ = http.call(
            "POST", "/api/auth/login", {"email": "admin@acme.example", "password": DEMO_PASSWORD}
        )
        assert status == 200, body
        http.token = body["access_token"]
        yield postgres, http
    finally:
        if server is not None:
            _kill(server)
        postgres.destroy()


def test_postgres_down_is_a_fast_503_and_back_is_served_without_a_restart(
    app_on_private_postgres,
):
    postgres, http = app_on_private_postgres
    assert http.call("GET", "/api/org/acme/members")[0] == 200
    assert http.call("GET", "/health")[0] == 200

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
    assert http.call("GET", "/health")[1:3][1]["status"] == "ok"
