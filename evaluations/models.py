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


OWNER_GOAL_COUNTS = (
    "goals",
    *(f"status_{status}" for status in Goal.Status.values),
    "self_assessed",
    "feedback_published",
    "score_points",
    "score_weight",
)


class OwnerGoalRollup(models.Model):
    """The team page's counts of one member's goals in one period (DESIGN.md §4, §6): goals,
    goals by status, submitted self-assessments, published feedback, and the two sums of the
    weighted score (`evaluations.selectors.weighted_score`): Σ weight × published feedback
    rating (`score_points`) and Σ weight of the goals with published feedback
    (`score_weight`). The page reads its members' rows by primary key instead of grouping
    their goals joined to their evaluations (~1,000 index probes for a manager of 400).

    Design decisions (those of the dashboards' rollups, dashboards.models, here for the goal's
    own owner and period, so no membership is read or locked):
    - Maintained by statement-level AFTER triggers with transition tables (migration 0003):
      every door that writes goals or evaluations (services, bulk `.update()`, the admin, the
      import's raw SQL, factories) adds its delta in the writing transaction, at no extra round
      trip. The seed pauses them (`cadence.rollups_paused`) and rebuilds at its end; `manage.py
      rollups --verify / --rebuild` (dashboards.rollups) check and rewrite this table too.
    - The primary key leads with org_id (Citus distributes by it). period_id and owner_id are
      plain integers, not foreign keys: deleting a period or a member needs no row gone first
      (the collector deletes their goals first, which zeroes the row). The org is a foreign key
      without a cascade in Python: a trigger on orgs_organization deletes its rows, last.
    - Rows whose counts are all zero may stay; a reader treats them as no row.
    """

    pk = models.CompositePrimaryKey("org_id", "period_id", "owner_id")
    org = models.ForeignKey(
        Organization, on_delete=models.DO_NOTHING, related_name="+", db_index=False
    )
    period_id = models.BigIntegerField()
    owner_id = models.BigIntegerField(help_text="the goals' owner (a membership id)")
    goals = models.BigIntegerField(default=0)
    status_draft = models.BigIntegerField(default=0)
    status_submitted = models.BigIntegerField(default=0)
    status_approved = models.BigIntegerField(default=0)
    status_rejected = models.BigIntegerField(default=0)
    self_assessed = models.BigIntegerField(default=0, help_text="submitted self-assessments")
    feedback_published = models.BigIntegerField(default=0)
    score_points = models.BigIntegerField(
        default=0, help_text="Σ weight × rating over goals with published feedback"
    )
    score_weight = models.BigIntegerField(
        default=0, help_text="Σ weight over goals with published feedback"
    )

    def __str__(self) -> str:
        return f"goals of member {self.owner_id}, org {self.org_id}, period {self.period_id}"
