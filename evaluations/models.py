from __future__ import annotations

from django.db import models
from django.utils import timezone

from core.tenant_keys import SameOrgForeignKey
from goals.models import Goal
from orgs.models import Membership, Organization

# The widest scale an org may choose (Organization.rating_scale ≤ 10); services check the
# org's own scale, the database the outer bounds.
RATING_MIN, RATING_MAX = 1, 10


class SelfAssessment(models.Model):
    """The owner's own rating of one approved goal (one per goal)."""

    class Status(models.TextChoices):
        DRAFT = "draft"
        SUBMITTED = "submitted"

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, db_index=False)
    goal = models.ForeignKey(
        Goal, on_delete=models.CASCADE, related_name="self_assessments", db_constraint=False
    )
    rating = models.PositiveSmallIntegerField()
    comment = models.TextField(blank=True, default="", max_length=5000)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    submitted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["org", "goal"], name="evals_selfassessment_one"),
            models.CheckConstraint(
                condition=models.Q(rating__gte=RATING_MIN, rating__lte=RATING_MAX),
                name="evals_selfassessment_rating_range",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=["draft", "submitted"]),
                name="evals_selfassessment_status_valid",
            ),
            # Keys Citus accepts (core.tenant_keys): the primary key is (org_id, id) in the
            # database (evaluations 0002), `id` in Django.
            SameOrgForeignKey(field="goal", name="evals_selfassessment_goal_org_fk"),
        ]
        indexes = [models.Index(fields=["id"], name="evals_selfassessment_id")]

    def __str__(self) -> str:
        return f"self-assessment of goal {self.goal_id}"


class SupervisorFeedback(models.Model):
    """The supervisor's (or an admin's) rating of one goal; the owner sees it once published."""

    class Status(models.TextChoices):
        DRAFT = "draft"
        PUBLISHED = "published"

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, db_index=False)
    goal = models.ForeignKey(
        Goal, on_delete=models.CASCADE, related_name="feedback", db_constraint=False
    )
    author = models.ForeignKey(
        Membership,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
    )
    rating = models.PositiveSmallIntegerField()
    comment = models.TextField(blank=True, default="", max_length=5000)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    published_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "supervisor feedback"
        constraints = [
            models.UniqueConstraint(fields=["org", "goal"], name="evals_feedback_one"),
            models.CheckConstraint(
                condition=models.Q(rating__gte=RATING_MIN, rating__lte=RATING_MAX),
                name="evals_feedback_rating_range",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=["draft", "published"]),
                name="evals_feedback_status_valid",
            ),
            SameOrgForeignKey(field="goal", name="evals_feedback_goal_org_fk"),
            SameOrgForeignKey(field="author", name="evals_feedback_author_org_fk"),
        ]
        indexes = [models.Index(fields=["id"], name="evals_feedback_id")]

    def __str__(self) -> str:
        return f"feedback on goal {self.goal_id}"
