"""Real servers for tests that must cross a process boundary: a free port, a gunicorn of the
project started and waited for, and a stop that never leaves a process behind."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from django.conf import settings

from core.db import database_url


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def process_stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def gunicorn_start(
    env: dict[str, str], *, workers: int = 1, preload: bool = False, wait_seconds: float = 60
) -> tuple[subprocess.Popen, int]:
    """`workers` sync workers on a free 127.0.0.1 port, answering `/health/live`; the caller
    stops it with `process_stop`. Race tests need several: one sync worker serializes
    requests, so nothing would run at the same moment. `preload` imports the app once, before
    forking: ten workers are up in ~1.5 s instead of ~10 s on two cores."""
    port = free_port()
    server = subprocess.Popen(  # noqa: S603
        [
            sys.executable, "-m", "gunicorn", "config.wsgi:application",
            "-c", str(settings.BASE_DIR / "config" / "gunicorn.conf.py"),
            "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
            *(["--preload"] if preload else []),
        ],
        env=env, cwd=settings.BASE_DIR, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    return server, _wait_live(server, port, "gunicorn", wait_seconds)


def uvicorn_start(env: dict[str, str], *, wait_seconds: float = 60) -> tuple[subprocess.Popen, int]:
    """The ASGI application (HTTP and the live WebSockets) under one uvicorn process on a free
    127.0.0.1 port; the caller stops it with `process_stop`."""
    port = free_port()
    server = subprocess.Popen(  # noqa: S603
        [
            sys.executable, "-m", "uvicorn", "config.asgi:application",
            "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
            "--ws", "websockets", "--ws-per-message-deflate", "false",
        ],
        env=env, cwd=settings.BASE_DIR, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    return server, _wait_live(server, port, "uvicorn", wait_seconds)


def _wait_live(server: subprocess.Popen, port: int, name: str, wait_seconds: float) -> int:
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"{name} exited at start-up")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health/live", timeout=1)  # noqa: S310
            return port
        except OSError:
            time.sleep(0.1)
    process_stop(server)
    pytest.fail(f"{name} did not answer within {wait_seconds:.0f} s")


def server_env(**overrides: str) -> dict[str, str]:
    """The environment of a server process that shares this test run: its test database, its
    Redis key prefix (so the suite's flushes clean up after the server too), its JWT key
    (tokens minted here are valid there), quiet logs; `overrides` on top."""
    from conftest import RUN_PREFIX

    env = {
        **os.environ,
        "DEBUG": "true",
        "DATABASE_URL": database_url(settings.DATABASES["default"]),
        "REDIS_URL": settings.CACHES["default"]["LOCATION"],
        "CACHE_KEY_PREFIX": RUN_PREFIX,
        "JWT_SIGNING_KEY": settings.JWT_SIGNING_KEY,
        "JWT_KEY_ID": settings.JWT_KEY_ID,
        "LOG_LEVEL": "critical",
        **overrides,
    }
    env.pop("TEST_DATABASE_NAME", None)  # DATABASE_URL names the test database itself
    return env


class Http:
    """A JSON client of a server started here, logged in once `token` is set."""

    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.token = ""

    def call(self, method: str, path: str, data=None, timeout: float = 15, headers=None):
        """(status, headers, body, seconds)"""
        body = None if data is None else json.dumps(data).encode()
        request = urllib.request.Request(self.base + path, data=body, method=method)  # noqa: S310
        request.add_header("Content-Type", "application/json")
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        started = time.monotonic()
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
                status, headers, raw = response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as exc:
            status, headers, raw = exc.code, dict(exc.headers), exc.read()
        elapsed = time.monotonic() - started
        return status, headers, json.loads(raw or b"{}"), elapsed
