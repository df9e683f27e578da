"""granian settings and launcher: the WSGI entry point served by granian (DESIGN.md §8; the
measured comparison is in the README, "Servers, measured").

    python -m config.granian_conf [module:application] [--bind HOST:PORT] [--workers N]

Defaults: `config.wsgi:application`, `BIND` (127.0.0.1:8000), `WEB_CONCURRENCY` workers (CPU
count), like `config/gunicorn.conf.py`. granian's Rust runtime does the socket I/O and keeps
connections alive; each worker runs the application in `GRANIAN_BLOCKING_THREADS` threads,
default `DB_POOL_MAX_SIZE` (4): as many as the worker's pool has connections, so no request
waits for one, and a request waiting on PostgreSQL leaves the CPU to another (measured against
1 thread, 3 interleaved rounds at the ci-bench size: medians +16 % on the floor, +28 % on the
100-row members page, +130 % on `auth_me`; the app already runs threaded under gunicorn's
gthread workers). No access log: the app logs each request itself (perf.middleware).

Differences from gunicorn, by design or as limits:
- Prometheus multiprocess mode (`PROMETHEUS_MULTIPROC_DIR`) works as under gunicorn: each
  worker writes its own files and `/metrics` adds them up. granian has no per-worker exit hook
  (only start-up, reload and shutdown hooks in the main process), so nothing calls
  `mark_process_dead` when a worker dies and is respawned. That call only deletes the files of
  `live*` gauges; Cadence's metrics are counters and histograms (and django-prometheus's
  migration gauges, mode `all`), whose files must outlive a worker anyway. A future `live*`
  gauge would keep a dead worker's last value until the directory is wiped (at each start).
- No worker timeout: gunicorn kills a worker silent for 40 s; granian does not, so pure Python
  that never reaches the database is not interrupted (SQL is: `REQUEST_TIMEOUT` and the
  statement timeout, core/limits.py).
- Workers are not recycled after N requests (gunicorn's `max_requests`); a failed worker is
  respawned.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os

from granian import Granian
from granian.constants import HTTPModes, Interfaces
from granian.log import LogLevels

DEFAULT_TARGET = "config.wsgi:application"


def options(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m config.granian_conf")
    parser.add_argument("target", nargs="?", default=DEFAULT_TARGET)
    parser.add_argument("--bind", default=os.environ.get("BIND", "127.0.0.1:8000"))
    parser.add_argument(
        "--workers",
        type=int,
        default=int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count())),
    )
    return parser.parse_args(argv)


def blocking_threads() -> int:
    """Python threads per worker: one per pooled database connection (config/settings.py)."""
    return int(
        os.environ.get("GRANIAN_BLOCKING_THREADS") or os.environ.get("DB_POOL_MAX_SIZE") or 4
    )


def server(target: str, *, bind: str, workers: int) -> Granian:
    host, _, port = bind.rpartition(":")
    return Granian(
        target,
        address=host or "127.0.0.1",
        port=int(port),
        interface=Interfaces.WSGI,
        http=HTTPModes.http1,  # TLS and HTTP/2 end at the load balancer
        websockets=False,
        workers=workers,
        blocking_threads=blocking_threads(),
        backlog=2048,  # gunicorn's default
        respawn_failed_workers=True,
        workers_kill_timeout=20,  # gunicorn's graceful_timeout
        log_level=LogLevels(os.environ.get("LOG_LEVEL", "info").lower()),
        log_access=False,  # the structured request log (perf.middleware) replaces it
    )


def main(argv: list[str] | None = None) -> None:
    args = options(argv)
    server(args.target, bind=args.bind, workers=args.workers).serve()


if __name__ == "__main__":
    main()
