"""The worker process (`manage.py worker`): procrastinate's worker, plus what the queue alone
does not do.

- **Jobs** (imports, webhook deliveries): procrastinate's worker, JOBS_WORKER_CONCURRENCY at a
  time, woken by PostgreSQL's LISTEN/NOTIFY when a job is queued, with a heartbeat every
  JOBS_HEARTBEAT_SECONDS.
- **Changes → webhooks**: LISTEN on `cadence_changes` (a trigger on the change log notifies,
  only for orgs with webhooks; jobs migration 0001) → `webhooks_dispatch` for that org.
- **Workers that vanished** (killed, machine lost): their running jobs have no heartbeat for
  JOBS_STALLED_SECONDS; each is retried if its task has retries left, else failed, and its Job
  row follows (`queued` again, or `failed` with "the worker stopped"). An import's transaction
  died with its worker, so nothing of it stays.
- **The sweep**, every JOBS_SWEEP_SECONDS: stalled jobs as above, `webhooks_sweep` (anything
  a lost notification left behind).

SIGINT/SIGTERM stop it gracefully (running jobs finish first). `--exit-with PID` stops it when
that process is gone (`make run` passes its own make, so the worker goes when the server does).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal

import psycopg
import structlog
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections
from procrastinate import jobs as procrastinate_jobs
from procrastinate.contrib.django import app
from procrastinate.contrib.django.utils import connector_params

from jobs.services import webhooks_dispatch, webhooks_sweep
from jobs.tasks import job_stalled, task_retry_limit

logger = structlog.get_logger("cadence.worker")
CHANGES_CHANNEL = "cadence_changes"


def _db(function, **kwargs):
    """Runs `function` in a thread with Django's ORM, giving the connection back after."""

    def call():
        close_old_connections()
        try:
            return function(**kwargs)
        finally:
            close_old_connections()

    return sync_to_async(call, thread_sensitive=False)()


async def _listen_changes(stop: asyncio.Event) -> None:
    """Dispatches an org's webhooks as soon as its change log moves (commit → here: one
    notification). Reconnects after a lost connection; the sweep covers the gap."""
    params = {k: v for k, v in connector_params().items() if k != "cursor_factory"}
    while not stop.is_set():
        try:
            async with await psycopg.AsyncConnection.connect(**params, autocommit=True) as conn:
                await conn.execute(f"LISTEN {CHANGES_CHANNEL}")
                while not stop.is_set():
                    org_ids: set[int] = set()
                    async for notify in conn.notifies(timeout=1.0):
                        org_ids.update(int(part) for part in notify.payload.split(",") if part)
                        break  # dispatch at once; more notifications queue meanwhile
                    for org_id in sorted(org_ids):
                        await _db(webhooks_dispatch, org_id=org_id)
        except (psycopg.Error, OSError):
            logger.warning("changes_listener_lost", exc_info=True)
            await _sleep_or_stop(stop, 1.0)


async def _recover_stalled() -> None:
    stalled = await app.job_manager.get_stalled_jobs(
        seconds_since_heartbeat=settings.JOBS_STALLED_SECONDS
    )
    for job in stalled:
        retried = job.attempts < task_retry_limit(job.task_name)
        if retried:
            await app.job_manager.retry_job(job)
        else:
            await app.job_manager.finish_job(
                job, status=procrastinate_jobs.Status.FAILED, delete_job=False
            )
        logger.warning("job_stalled", job_id=job.id, task=job.task_name, retried=retried)
        await _db(
            job_stalled, task_name=job.task_name, task_kwargs=job.task_kwargs, retried=retried
        )


async def _sweep(stop: asyncio.Event, exit_with: int | None) -> None:
    while not stop.is_set():
        if exit_with is not None and not _alive(exit_with):
            logger.info("worker_parent_gone", pid=exit_with)
            os.kill(os.getpid(), signal.SIGTERM)  # procrastinate's graceful stop
            return
        try:
            await _recover_stalled()
            await _db(webhooks_sweep)
        except Exception:
            logger.exception("worker_sweep_failed")
        await _sleep_or_stop(stop, settings.JOBS_SWEEP_SECONDS)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


async def _run(*, concurrency: int, exit_with: int | None) -> None:
    stop = asyncio.Event()
    async with app.open_async():
        helpers = [
            asyncio.create_task(_listen_changes(stop), name="changes listener"),
            asyncio.create_task(_sweep(stop, exit_with), name="sweep"),
        ]
        try:
            await app.run_worker_async(
                name=f"cadence-{os.getpid()}",
                concurrency=concurrency,
                fetch_job_polling_interval=settings.JOBS_POLL_SECONDS,
                # The queue keeps what waits, runs or failed; a Job row keeps the rest.
                delete_jobs="successful",
                update_heartbeat_interval=settings.JOBS_HEARTBEAT_SECONDS,
                stalled_worker_timeout=settings.JOBS_STALLED_SECONDS,
            )
        finally:
            stop.set()
            for helper in helpers:
                helper.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)


def run(*, concurrency: int, exit_with: int | None = None) -> None:
    """The worker, in the foreground, until SIGINT/SIGTERM (or `exit_with` is gone)."""
    worker_connector = app.connector.get_worker_connector()
    with app.replace_connector(worker_connector):
        logger.info("worker_started", pid=os.getpid(), concurrency=concurrency)
        asyncio.run(_run(concurrency=concurrency, exit_with=exit_with))
        logger.info("worker_stopped", pid=os.getpid())
