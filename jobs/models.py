"""Background jobs (imports) and webhooks (DESIGN.md §11).

The queue itself is procrastinate's tables (`procrastinate_jobs`, on the same PostgreSQL): a
`Job` here is what the API shows of one unit of work (status, progress, result, error), kept
as long as the org wants to see it; procrastinate's row is the queue entry that runs it.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from core.tenant_keys import SameOrgForeignKey
from orgs.models import Membership, Organization


class Job(models.Model):
    class Kind(models.TextChoices):
        MEMBERS_IMPORT = "members.import"

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    org = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    created_by = models.ForeignKey(
        Membership,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,  # SameOrgForeignKey in Meta (core.tenant_keys)
    )
    kind = models.CharField(max_length=32, choices=Kind.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    result = models.JSONField(null=True, blank=True)
    error = models.JSONField(null=True, blank=True)
    # The uploaded file, until the job ends (then emptied): bytes, since a NUL byte must reach
    # the row validation (a row error), and PostgreSQL text cannot hold one.
    data = models.BinaryField(default=b"", editable=False)
    attempts = models.PositiveSmallIntegerField(default=0)
    # The request that started it: its audit events carry this id, as a request's own do.
    request_id = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=["queued", "running", "succeeded", "failed"]),
                name="jobs_job_status_valid",
            ),
            SameOrgForeignKey(field="created_by", name="jobs_job_created_by_org_fk"),
        ]
        indexes = [
            models.Index(fields=["org", "-created_at", "-id"], name="jobs_job_org_created"),
            # The primary key is (org_id, id) in the database (jobs 0002; core.tenant_keys).
            models.Index(fields=["id"], name="jobs_job_id"),
        ]

    def __str__(self) -> str:
        return f"job {self.pk} {self.kind} ({self.status})"


# What a webhook may subscribe to: the change types of the org's log (DESIGN.md §10, types
# made by orgs.changes.change_type from each write's audit action), or "*" for all of them.
EVENT_TYPES = (
    "goal.created",
    "goal.updated",
    "goal.deleted",
    "goal.submitted",
    "goal.approved",
    "goal.rejected",
    "self_assessment.saved",
    "self_assessment.submitted",
    "feedback.saved",
    "feedback.published",
    "member.created",
    "member.updated",
    "department.created",
    "department.updated",
    "period.created",
    "period.updated",
    "period.reopened",
    "competency.created",
    "core_value.created",
    "members.import",
    "webhook.created",
    "webhook.deleted",
)
ALL_EVENTS = "*"


class Webhook(models.Model):
    """A subscription: changes of the org's log after `cursor_seq`, POSTed to `url`, signed
    with `secret` (shown once, at creation; never logged or returned again)."""

    org = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    created_by = models.ForeignKey(
        Membership,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,  # SameOrgForeignKey in Meta (core.tenant_keys)
    )
    url = models.CharField(max_length=2000)
    events = models.JSONField(default=list)  # ["*"] or change types
    secret = models.CharField(max_length=100, editable=False)
    # The last seq of the org's change log turned into deliveries (starts at the seq of the
    # webhook's own creation: it receives what is committed after it).
    cursor_seq = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            SameOrgForeignKey(field="created_by", name="jobs_webhook_created_by_org_fk"),
        ]
        indexes = [
            models.Index(fields=["org", "-created_at", "-id"], name="jobs_webhook_org_created"),
            models.Index(fields=["id"], name="jobs_webhook_id"),
        ]

    def __str__(self) -> str:  # never the secret
        return f"webhook {self.pk} → {self.url}"


class Delivery(models.Model):
    """One change for one webhook. A webhook's deliveries go out in seq order: the oldest
    pending one blocks the rest until it succeeds or, after WEBHOOKS_RETRY_FOR_SECONDS, fails."""

    class Status(models.TextChoices):
        PENDING = "pending"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    org = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    webhook = models.ForeignKey(
        Webhook, on_delete=models.CASCADE, related_name="deliveries", db_constraint=False
    )
    seq = models.BigIntegerField()
    event_type = models.CharField(max_length=64)
    payload = models.JSONField()  # the change item as the feed shows it
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=200, blank=True, default="")
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["org", "webhook", "seq"], name="jobs_delivery_unique_seq"
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=["pending", "succeeded", "failed"]),
                name="jobs_delivery_status_valid",
            ),
            SameOrgForeignKey(field="webhook", name="jobs_delivery_webhook_org_fk"),
        ]
        indexes = [
            # Partial: only what still waits. A webhook's next delivery (the oldest pending)…
            models.Index(
                fields=["org", "webhook", "seq"],
                name="jobs_delivery_pending",
                condition=models.Q(status="pending"),
            ),
            # …and those due, across orgs (the worker's sweep).
            models.Index(
                fields=["next_attempt_at"],
                name="jobs_delivery_due",
                condition=models.Q(status="pending"),
            ),
            models.Index(fields=["id"], name="jobs_delivery_id"),
        ]

    def __str__(self) -> str:
        return f"delivery {self.pk} seq {self.seq} ({self.status})"
