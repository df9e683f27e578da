"""Rate limits hold across processes: two real gunicorn servers share one budget in Redis."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import ExitStack

import pytest
from django.conf import settings

from conftest import RUN_PREFIX

LIMIT = 6


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _get(port: int, path: str) -> tuple[int, dict, dict]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as resp:  # noqa: S310
            return resp.status, dict(resp.headers), {}
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), json.loads(exc.read() or b"{}")


def _start_server(stack: ExitStack, port: int) -> None:
    env = {
        **os.environ,
        "DEBUG": "true",
        "REDIS_URL": settings.CACHES["default"]["LOCATION"],
        "CACHE_KEY_PREFIX": RUN_PREFIX,  # the suite's prefix: its cache flush cleans up
        "RATE_LIMITS_ENABLED": "true",
        "RATE_LIMIT_ANON": f"{LIMIT}/h",  # an hour window: no boundary in the middle of the test
        "LOG_LEVEL": "warning",
    }
    command = [
        sys.executable, "-m", "gunicorn", "config.wsgi:application",
        "-c", str(settings.BASE_DIR / "config" / "gunicorn.conf.py"),
        "--bind", f"127.0.0.1:{port}", "--workers", "1",
    ]  # fmt: skip
    server = subprocess.Popen(  # noqa: S603
        command, env=env, cwd=settings.BASE_DIR, stdout=subprocess.DEVNULL
    )

    def stop():
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()

    stack.callback(stop)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail("gunicorn exited at start-up")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health/live", timeout=1)  # noqa: S310
            return
        except OSError:
            time.sleep(0.1)
    pytest.fail("gunicorn did not answer within 20 s")


def test_two_servers_share_one_anonymous_budget_per_ip():
    if time.time() % 3600 > 3600 - 30:
        time.sleep(31)  # let the hour window turn before starting
    with ExitStack() as stack:
        ports = [_free_port(), _free_port()]
        for port in ports:
            _start_server(stack, port)

        statuses = [_get(ports[n % 2], "/api/no-such-path")[0] for n in range(LIMIT)]
        assert statuses == [404] * LIMIT
        for port in ports:
            status, headers, body = _get(port, "/api/no-such-path")
            assert status == 429, (status, body)
            assert body["error"] == "rate_limited"
            assert 1 <= int(headers["Retry-After"]) <= 3600
