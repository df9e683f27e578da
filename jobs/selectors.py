"""Reads of jobs and webhooks: admin only (jobs.permissions), one query per page."""

from __future__ import annotations

from typing import Any

from core.errors import NotFound
from core.pagination import DEFAULT_LIMIT, keyset_page
from jobs.models import Delivery, Job, Webhook
from jobs.permissions import ensure_jobs_admin
from orgs.models import Membership, Organization

JOB_NOT_FOUND = "Job not found."
WEBHOOK_NOT_FOUND = "Webhook not found."
JOB_FIELDS = (
    "id",
    "kind",
    "status",
    "progress_done",
    "progress_total",
    "result",
    "error",
    "created_at",
    "started_at",
    "finished_at",
)
WEBHOOK_FIELDS = ("id", "url", "events", "created_at")
DELIVERY_FIELDS = (
    "id",
    "seq",
    "event_type",
    "status",
    "attempts",
    "last_status_code",
    "next_attempt_at",
    "created_at",
)


def job_item(job: Job | dict[str, Any]) -> dict[str, Any]:
    """The job object of the API (DESIGN.md §11), from a row of JOB_FIELDS or a Job in hand."""
    get = job.get if isinstance(job, dict) else lambda name: getattr(job, name)
    item = {name: get(name) for name in JOB_FIELDS}
    item["progress"] = {"done": item.pop("progress_done"), "total": item.pop("progress_total")}
    return item


def job_get(*, org: Organization, actor: Membership, job_id: int) -> dict[str, Any]:
    ensure_jobs_admin(actor)
    row = Job.objects.filter(org=org, pk=job_id).values(*JOB_FIELDS).first()
    if row is None:
        raise NotFound(JOB_NOT_FOUND)
    return job_item(row)


def job_list(
    *,
    org: Organization,
    actor: Membership,
    status: str | None = None,
    kind: str | None = None,
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> dict[str, Any]:
    """The org's jobs, newest first, keyset by (-created_at, -id). One query."""
    ensure_jobs_admin(actor)
    queryset = Job.objects.filter(org=org)
    if status is not None:
        queryset = queryset.filter(status=status)
    if kind is not None:
        queryset = queryset.filter(kind=kind)
    rows, next_cursor = keyset_page(
        queryset.values(*JOB_FIELDS), ordering=["-created_at", "-id"], limit=limit, cursor=cursor
    )
    return {"items": [job_item(row) for row in rows], "next_cursor": next_cursor}


def webhook_list(
    *, org: Organization, actor: Membership, limit: int = DEFAULT_LIMIT, cursor: str | None = None
) -> dict[str, Any]:
    """The org's webhooks (never their secrets), newest first. One query."""
    ensure_jobs_admin(actor)
    rows, next_cursor = keyset_page(
        Webhook.objects.filter(org=org).values(*WEBHOOK_FIELDS),
        ordering=["-created_at", "-id"],
        limit=limit,
        cursor=cursor,
    )
    return {"items": rows, "next_cursor": next_cursor}


def delivery_list(
    *,
    org: Organization,
    actor: Membership,
    webhook_id: int,
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> dict[str, Any]:
    """One webhook's deliveries, newest (highest seq) first. Two queries: the webhook (404
    when it is not the org's) and the page."""
    ensure_jobs_admin(actor)
    if not Webhook.objects.filter(org=org, pk=webhook_id).exists():
        raise NotFound(WEBHOOK_NOT_FOUND)
    rows, next_cursor = keyset_page(
        Delivery.objects.filter(org=org, webhook_id=webhook_id).values(*DELIVERY_FIELDS),
        ordering=["-seq"],
        limit=limit,
        cursor=cursor,
    )
    return {"items": rows, "next_cursor": next_cursor}
