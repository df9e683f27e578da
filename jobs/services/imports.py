"""Member imports (DESIGN.md §11): `members_import_start` (the request: store the file, enqueue
the job, in one transaction) and `members_import_run` (the worker: read, check, load).

All or nothing. The rows are read and checked first (jobs.imports: the file alone; here: against
the org), then loaded in ONE transaction, in batches of IMPORT_BATCH_ROWS: users (password-less:
they set one on first login or get one from an admin), memberships, supervisors named in the
file, the departments the file names that the org lacks, the audit and change-log entries (one
per member and department, plus one for the import), and the job's own success. A failure at
any point, or a worker killed mid-way, rolls all of it back; the job is then retried or failed.
Progress is written on a connection of its own (a thread), so readers see it while the load's
transaction is still open.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import structlog
from django.conf import settings
from django.db import connections, transaction
from django.utils import timezone

from core.errors import ApplicationError, Unprocessable, detail
from jobs.imports import (
    ImportRefused,
    header_check,
    rows_read,
)
from jobs.models import Job
from jobs.permissions import ensure_jobs_admin, may_run_jobs
from jobs.queue import enqueue
from jobs.selectors import job_item
from jobs.services.import_load import (  # noqa: F401 - messages tests and callers read here
    IMPORT_ACTION,
    UNKNOWN_SUPERVISOR,
    members_load,
)
from orgs.models import Membership, Organization

logger = structlog.get_logger("cadence.jobs")

CSV_ONLY = "The body must be a CSV file (Content-Type: text/csv)."
NOT_ADMIN_ANYMORE = "The member who started the import is no longer an admin of the organization."
CRASHED = "The import failed unexpectedly; nothing was imported."
WORKER_LOST = "The worker running the import stopped; nothing was imported."


class UnsupportedMediaType(ApplicationError):
    status = 415

    def __init__(self, message: str) -> None:
        super().__init__(message, code="unsupported_media_type")


def members_import_start(
    *, org: Organization, actor: Membership, data: bytes, content_type: str, request_id: str = ""
) -> dict[str, Any]:
    """The job (queued), committed with its queue entry. Admin only; `text/csv` only (415);
    line 1 must be the header (422 at ["body"]): the rows are the job's to check."""
    ensure_jobs_admin(actor)
    if content_type != "text/csv":
        raise UnsupportedMediaType(CSV_ONLY)
    try:
        header_check(data)
    except ImportRefused as refused:
        raise Unprocessable(details=[detail(["body"], refused.message)]) from refused
    from jobs.tasks import members_import_task  # tasks import services: bound at call time

    with transaction.atomic():
        job = Job.objects.create(
            org=org,
            created_by=actor,
            kind=Job.Kind.MEMBERS_IMPORT,
            data=data,
            request_id=request_id,
        )
        enqueue(members_import_task, job_id=job.pk)
    return job_item(job)


# --- The worker's side ----------------------------------------------------------------------


def members_import_run(*, job_id: int, attempt: int) -> str:
    """Runs the import job `job_id` (attempt 0, 1, …); its outcome: `succeeded`, `failed`, or
    `skipped` (already finished, or gone). Unexpected errors propagate: the task retries."""
    job = Job.objects.select_related("org", "created_by").filter(pk=job_id).first()
    if job is None or job.status in (Job.Status.SUCCEEDED, Job.Status.FAILED):
        return "skipped"
    structlog.contextvars.bind_contextvars(request_id=job.request_id, job_id=job.pk)
    Job.objects.filter(pk=job.pk).update(
        status=Job.Status.RUNNING,
        started_at=timezone.now(),
        attempts=attempt + 1,
        progress_done=0,
        progress_total=0,
        error=None,
    )
    try:
        actor = job.created_by
        if not may_run_jobs(actor):
            raise ImportRefused(NOT_ADMIN_ANYMORE)
        rows = rows_read(bytes(job.data), max_rows=settings.IMPORT_MAX_ROWS)
        Job.objects.filter(pk=job.pk).update(progress_total=len(rows))
        with _ProgressWriter(job.pk) as progress:
            result = members_load(job=job, org=job.org, actor=actor, rows=rows, progress=progress)
    except ImportRefused as refused:
        job_fail(job_id=job.pk, error=refused.as_error())
        return "failed"
    logger.info("import_succeeded", job_id=job.pk, **result)
    return "succeeded"


def job_fail(*, job_id: int, error: dict[str, Any]) -> None:
    Job.objects.filter(pk=job_id).exclude(status=Job.Status.SUCCEEDED).update(
        status=Job.Status.FAILED, error=error, finished_at=timezone.now(), data=b""
    )


def job_requeue(*, job_id: int) -> None:
    """Back in the queue after an attempt that crashed (or whose worker died)."""
    Job.objects.filter(pk=job_id, status__in=[Job.Status.QUEUED, Job.Status.RUNNING]).update(
        status=Job.Status.QUEUED, progress_done=0
    )


def job_crashed(*, job_id: int, retried: bool, worker_lost: bool = False) -> None:
    if retried:
        job_requeue(job_id=job_id)
    else:
        job_fail(
            job_id=job_id, error={"message": WORKER_LOST if worker_lost else CRASHED, "rows": []}
        )


class _ProgressWriter:
    """Writes `progress_done` on its own thread's connection (autocommit): visible at once,
    while the import's transaction is still open. Blocking: the load never outruns it."""

    def __init__(self, job_id: int) -> None:
        self.job_id = job_id
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="import-progress")

    def __enter__(self) -> Callable[[int], None]:
        return self.write

    def write(self, done: int) -> None:
        self._thread.submit(_progress_save, self.job_id, done).result()

    def __exit__(self, *exc_info: object) -> None:
        self._thread.submit(connections.close_all).result()
        self._thread.shutdown()


def _progress_save(job_id: int, done: int) -> None:
    Job.objects.filter(pk=job_id).update(progress_done=done)
