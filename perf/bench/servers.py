"""The HTTP servers `bench --http` compares (`--worker-class`), each started on a free
127.0.0.1 port with the project's own server configuration and `config.bench` (the project's
application plus `bare`) as the application, waited for, and stopped by its pid.

    sync     gunicorn, sync workers                  (config/gunicorn.conf.py, WSGI)
    gthread  gunicorn, gthread workers, 4 threads    (config/gunicorn.conf.py, WSGI)
    uvicorn  gunicorn + uvicorn workers              (config/gunicorn.conf.py, ASGI)
    granian  granian, WSGI interface                 (config/granian_conf.py)

Every server gets the same environment: `DEBUG=false` (production settings: the bench
process's `SECRET_KEY` and JWT key, so its tokens are valid there), the bench process's
database, Redis and cache key prefix, the rate limits out of reach, and a fresh
`PROMETHEUS_MULTIPROC_DIR` as in production. gunicorn's worker recycling (`max_requests`) is
off: a restart in the middle of a scenario would measure Django's start-up, not the server.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from core.db import database_url

DEFAULT_SERVER = "granian"  # what `make run`, `make serve` and the image run
WSGI_APP = "config.bench:wsgi_application"
ASGI_APP = "config.bench:asgi_application"


@dataclass(frozen=True)
class ServerKind:
    name: str
    label: str
    argv: tuple[str, ...]  # after the interpreter; {port} and {workers} are filled in

    def command(self, *, port: int, workers: int) -> list[str]:
        return [sys.executable] + [a.format(port=port, workers=workers) for a in self.argv]


_GUNICORN = ("-m", "gunicorn", "-c", "config/gunicorn.conf.py", "--bind", "127.0.0.1:{port}",
             "--workers", "{workers}", "--max-requests", "0")  # fmt: skip

SERVERS: dict[str, ServerKind] = {
    kind.name: kind
    for kind in [
        ServerKind("sync", "gunicorn sync", (*_GUNICORN, "--worker-class", "sync", WSGI_APP)),
        ServerKind(
            "gthread",
            "gunicorn gthread ×4",
            (*_GUNICORN, "--worker-class", "gthread", "--threads", "4", WSGI_APP),
        ),
        ServerKind(
            "uvicorn",
            "gunicorn + uvicorn (ASGI)",
            (*_GUNICORN, "--worker-class", "uvicorn.workers.UvicornWorker", ASGI_APP),
        ),
        ServerKind(
            "granian",
            "granian (WSGI)",
            (
                "-m",
                "config.granian_conf",
                WSGI_APP,
                "--bind",
                "127.0.0.1:{port}",
                "--workers",
                "{workers}",
            ),
        ),  # fmt: skip
    ]
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def server_env(overrides: dict[str, str]) -> dict[str, str]:
    env = {
        **os.environ,
        "DEBUG": "false",
        "SECRET_KEY": settings.SECRET_KEY,
        "JWT_SIGNING_KEY": settings.JWT_SIGNING_KEY,
        "JWT_KEY_ID": settings.JWT_KEY_ID,
        "DATABASE_URL": database_url(settings.DATABASES["default"]),
        "REDIS_URL": settings.CACHES["default"]["LOCATION"],
        "CACHE_KEY_PREFIX": settings.CACHES["default"].get("KEY_PREFIX", ""),
        "LOG_LEVEL": "WARNING",
        **overrides,
    }
    env.pop("TEST_DATABASE_NAME", None)
    return env


@dataclass
class RunningServer:
    kind: ServerKind
    port: int
    process: subprocess.Popen
    metrics_dir: str
    log: Any = field(repr=False)

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self, timeout: float = 20) -> None:
        """SIGTERM to the server's pid (its master stops the workers); SIGKILL to its process
        group, which only it and its workers are in, if it is still there after `timeout`."""
        try:
            if self.process.poll() is None:
                os.kill(self.pid, signal.SIGTERM)
                try:
                    self.process.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    os.killpg(self.pid, signal.SIGKILL)
                    self.process.wait(timeout=5)
        finally:
            self.log.close()
            shutil.rmtree(self.metrics_dir, ignore_errors=True)

    def log_tail(self, lines: int = 20) -> str:
        self.log.flush()
        self.log.seek(0)
        return "\n".join(self.log.read().decode(errors="replace").splitlines()[-lines:])


class ServerFailed(RuntimeError):
    pass


def server_start(
    name: str | ServerKind,
    *,
    workers: int,
    env_overrides: dict[str, str],
    wait_seconds: float = 30,
    settle: float = 2.0,
) -> RunningServer:
    """The server on a free 127.0.0.1 port once it answers `/health/live` (plus `settle`
    seconds for its other workers to finish booting), in a session of its own so that a stuck
    one can be killed whole. `name`: one of SERVERS, or a kind of its own (bench --ws)."""
    kind = SERVERS[name] if isinstance(name, str) else name
    port = free_port()
    metrics_dir = tempfile.mkdtemp(prefix="cadence-bench-prometheus-")
    env = server_env({"PROMETHEUS_MULTIPROC_DIR": metrics_dir, **env_overrides})
    log = tempfile.TemporaryFile()  # noqa: SIM115 - closed by RunningServer.stop
    process = subprocess.Popen(  # noqa: S603
        kind.command(port=port, workers=workers),
        env=env,
        cwd=settings.BASE_DIR,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    server = RunningServer(kind, port, process, metrics_dir, log)
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = server.log_tail()
            server.stop()
            raise ServerFailed(f"{kind.label} exited at start-up:\n{tail}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health/live", timeout=1)  # noqa: S310
        except OSError:
            time.sleep(0.1)
            continue
        time.sleep(settle)
        return server
    tail = server.log_tail()
    server.stop()
    raise ServerFailed(f"{kind.label} did not answer within {wait_seconds:.0f} s:\n{tail}")
