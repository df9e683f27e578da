"""The tasks of the queue (procrastinate; found by its Django app's autodiscovery of `tasks`
modules). Thin: each calls a service, and records its duration and outcome for /metrics.

Retries: an import that crashes (a lost connection, a deadlock) is tried again after 5 s, then
20 s (procrastinate's exponential wait), three attempts in all, then its job is `failed`; an
import refused for its rows is not retried (the job is `failed` with the rows). A worker killed
mid-job is found by jobs.worker (no heartbeat) and handled the same way. Webhook deliveries
keep their own schedule (jobs.services.webhooks) and never raise for a failed attempt.
"""

from __future__ import annotations

import time
from typing import Any

import structlog
from procrastinate import RetryStrategy
from procrastinate.contrib.django import app

from core.metrics import JOB_DURATION, JOB_FAILURES
from jobs.queue import IMPORTS_QUEUE, WEBHOOKS_QUEUE
from jobs.services import job_crashed, members_import_run, webhook_deliver

logger = structlog.get_logger("cadence.jobs")

IMPORT_TASK = "jobs.members_import"
DELIVER_TASK = "jobs.webhook_deliver"
IMPORT_RETRY = RetryStrategy(max_attempts=2, exponential_wait=5)  # 1 run + 2 retries


def _observed(task: str, run, *args: Any, **kwargs: Any) -> Any:
    started = time.perf_counter()
    outcome = "error"
    try:
        outcome = run(*args, **kwargs)
        return outcome
    finally:
        JOB_DURATION.labels(task=task, outcome=outcome).observe(time.perf_counter() - started)
        if outcome in ("failed", "error"):
            JOB_FAILURES.labels(task=task).inc()


@app.task(name=IMPORT_TASK, queue=IMPORTS_QUEUE, pass_context=True, retry=IMPORT_RETRY)
def members_import_task(context, *, job_id: int) -> str:
    attempt = context.job.attempts
    try:
        return _observed(IMPORT_TASK, members_import_run, job_id=job_id, attempt=attempt)
    except Exception:
        retried = attempt < IMPORT_RETRY.max_attempts
        logger.exception("import_crashed", job_id=job_id, attempt=attempt, retried=retried)
        job_crashed(job_id=job_id, retried=retried)
        raise


@app.task(name=DELIVER_TASK, queue=WEBHOOKS_QUEUE)
def webhook_deliver_task(*, webhook_id: int) -> str:
    return _observed(DELIVER_TASK, webhook_deliver, webhook_id=webhook_id)


def task_retry_limit(task_name: str) -> int:
    """How many retries a task gets after its first run (0: none)."""
    return IMPORT_RETRY.max_attempts if task_name == IMPORT_TASK else 0


def job_stalled(*, task_name: str, task_kwargs: dict[str, Any], retried: bool) -> None:
    """A job whose worker vanished mid-run (jobs.worker): its Job row follows."""
    if task_name == IMPORT_TASK and "job_id" in task_kwargs:
        job_crashed(job_id=task_kwargs["job_id"], retried=retried, worker_lost=True)
