"""`manage.py worker`: the job worker (jobs.worker) — imports, webhook deliveries, and the
recovery of jobs whose worker vanished. `make worker` runs it; `make run` starts one next to
the web server."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import connections

from jobs.worker import run


class Command(BaseCommand):
    help = "Run the job worker (imports, webhooks) until SIGINT/SIGTERM."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--concurrency",
            type=int,
            default=settings.JOBS_WORKER_CONCURRENCY,
            help="Jobs run at once (default JOBS_WORKER_CONCURRENCY).",
        )
        parser.add_argument(
            "--exit-with",
            type=int,
            default=None,
            metavar="PID",
            help="Stop when the process PID is gone (make run passes its make).",
        )

    def handle(self, *args, concurrency: int, exit_with: int | None, **options) -> None:
        _size_pool(concurrency)
        run(concurrency=concurrency, exit_with=exit_with)


def _size_pool(concurrency: int) -> None:
    """Each running job holds a connection (an import two: its load and its progress), and
    the worker's own helpers one each: the pool sized for a web worker (DB_POOL_MAX_SIZE) would
    make jobs wait for connections. Set before the pool exists (it is made on first use)."""
    pool = connections["default"].settings_dict.get("OPTIONS", {}).get("pool")
    if isinstance(pool, dict):
        pool["max_size"] = max(pool.get("max_size", 1), 2 * concurrency + 4)
        pool["timeout"] = max(pool.get("timeout", 0), 30.0)
