"""The queue: procrastinate on this PostgreSQL (no server of its own).

`enqueue` puts a job on the queue through Django's connection, so it is part of the caller's
transaction: a write and the job it needs commit together or not at all. The worker
(`manage.py worker`, jobs.worker) runs them; `queue_stats` is what /health and /metrics say
about the queue, read from procrastinate's tables with plain SQL.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.db import connection, transaction
from procrastinate import exceptions, manager
from procrastinate.contrib.django.django_connector import DjangoConnector

# The queues of the tasks in jobs.tasks: imports are long, deliveries short; a worker takes both.
IMPORTS_QUEUE = "imports"
WEBHOOKS_QUEUE = "webhooks"

_job_manager = manager.JobManager(DjangoConnector())


def enqueue(
    task,
    *,
    lock: str | None = None,
    queueing_lock: str | None = None,
    schedule_at: datetime.datetime | None = None,
    **task_kwargs: Any,
) -> int | None:
    """Defers `task(**task_kwargs)` inside the current transaction; its id, or None when a job
    with the same `queueing_lock` is already waiting (then that one does the work)."""
    job = task.configure(
        lock=lock, queueing_lock=queueing_lock, schedule_at=schedule_at
    ).make_new_job(**task_kwargs)
    if queueing_lock is None:
        return _job_manager.defer_job(job).id
    try:
        with transaction.atomic():  # a refused insert must not abort the caller's transaction
            return _job_manager.defer_job(job).id
    except exceptions.AlreadyEnqueued:
        return None


_STATS = """
SELECT j.queue_name, count(*),
       extract(epoch FROM now() - min(coalesce(j.scheduled_at, d.at)))
FROM procrastinate_jobs j
LEFT JOIN LATERAL (
    SELECT min(e.at) AS at FROM procrastinate_events e
    WHERE e.job_id = j.id AND e.type = 'deferred'
) d ON j.scheduled_at IS NULL
WHERE j.status = 'todo' AND (j.scheduled_at IS NULL OR j.scheduled_at <= now())
GROUP BY j.queue_name
"""
_WORKERS = """
SELECT count(*) FROM procrastinate_workers
WHERE last_heartbeat > now() - make_interval(secs => %s)
"""


def queue_stats(*, stalled_seconds: float) -> dict[str, Any]:
    """Jobs due and waiting, per queue; the age of the oldest (seconds, 0 when none waits);
    workers alive (a heartbeat within `stalled_seconds`). Two small queries."""
    with connection.cursor() as cursor:
        cursor.execute(_STATS)
        rows = cursor.fetchall()
        cursor.execute(_WORKERS, [stalled_seconds])
        (workers,) = cursor.fetchone()
    depth = {queue: count for queue, count, _ in rows}
    ages = [float(age or 0) for _, _, age in rows]
    return {
        "depth": sum(depth.values()),
        "depth_by_queue": depth,
        "oldest_age_seconds": round(max(ages, default=0.0), 3),
        "workers": workers,
    }
