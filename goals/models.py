from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from core.tenant_keys import SameOrgForeignKey
from goals.target_data import target_data_errors
from orgs.models import Membership, Organization


class Period(models.Model):
    """A review cycle. At most one is active per org; a closed one is read-only (409)."""

    class Status(models.TextChoices):
        PLANNED = "planned"
        ACTIVE = "active"
        CLOSED = "closed"

    org = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="periods", db_index=False
    )
    name = models.CharField(max_length=100)
    starts_on = models.DateField()
    ends_on = models.DateField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PLANNED)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["org", "name"], name="goals_period_unique_name"),
            models.UniqueConstraint(
                fields=["org"],
                condition=models.Q(status="active"),
                name="goals_period_one_active",
            ),
            models.CheckConstraint(
                condition=models.Q(ends_on__gte=models.F("starts_on")),
                name="goals_period_dates_ordered",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=["planned", "active", "closed"]),
                name="goals_period_status_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["org", "-starts_on", "-id"], name="goals_period_org_starts"),
            # The primary key is (org_id, id) in the database (goals 0002; core.tenant_keys).
            models.Index(fields=["id"], name="goals_period_id"),
        ]

    def __str__(self) -> str:
        """`2026 H2 — acme` (DESIGN.md §13): every org has its "2026 H2"."""
        return f"{self.name} — {self.org.slug}"

    @property
    def is_closed(self) -> bool:
        return self.status == self.Status.CLOSED


class CatalogEntry(models.Model):
    org = models.ForeignKey(Organization, on_delete=models.CASCADE, db_index=False)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="", max_length=2000)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self.name} — {self.org.slug}"


class Competency(CatalogEntry):
    class Meta:
        verbose_name_plural = "competencies"
        constraints = [
            models.UniqueConstraint(fields=["org", "name"], name="goals_competency_unique_name"),
        ]
        indexes = [models.Index(fields=["id"], name="goals_competency_id")]


class CoreValue(CatalogEntry):
    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["org", "name"], name="goals_corevalue_unique_name"),
        ]
        indexes = [models.Index(fields=["id"], name="goals_corevalue_id")]


class Goal(models.Model):
    class Category(models.TextChoices):
        PERFORMANCE = "performance"
        COMPETENCY = "competency"
        CORE_VALUE = "core_value"

    class Status(models.TextChoices):
        DRAFT = "draft"
        SUBMITTED = "submitted"
        APPROVED = "approved"
        REJECTED = "rejected"

    org = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="goals", db_index=False
    )
    # Foreign keys between tenant rows: SameOrgForeignKey constraints below (core.tenant_keys).
    period = models.ForeignKey(
        Period, on_delete=models.CASCADE, related_name="goals", db_constraint=False
    )
    owner = models.ForeignKey(
        Membership, on_delete=models.CASCADE, related_name="goals", db_constraint=False
    )
    category = models.CharField(max_length=16, choices=Category.choices)
    title = models.CharField(max_length=200)
    weight = models.PositiveSmallIntegerField()
    target_data = models.JSONField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    review_comment = models.TextField(blank=True, default="", max_length=5000)
    reviewed_by = models.ForeignKey(
        Membership,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(weight__gte=1, weight__lte=100), name="goals_goal_weight_range"
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=["draft", "submitted", "approved", "rejected"]),
                name="goals_goal_status_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(category__in=["performance", "competency", "core_value"]),
                name="goals_goal_category_valid",
            ),
            SameOrgForeignKey(field="period", name="goals_goal_period_org_fk"),
            SameOrgForeignKey(field="owner", name="goals_goal_owner_org_fk"),
            SameOrgForeignKey(field="reviewed_by", name="goals_goal_reviewed_by_org_fk"),
        ]
        indexes = [
            models.Index(fields=["id"], name="goals_goal_id"),
            models.Index(fields=["org", "owner", "period"], name="goals_goal_org_owner_period"),
            models.Index(fields=["org", "period", "status"], name="goals_goal_org_period_status"),
            models.Index(fields=["org", "-created_at", "-id"], name="goals_goal_org_created"),
        ]

    def __str__(self) -> str:
        return self.title

    def save(self, *args, **kwargs) -> None:
        self.validate_target_data()  # the admin and services cannot store an invalid shape
        self.updated_at = timezone.now()
        update_fields = kwargs.get("update_fields")
        if update_fields is not None:
            kwargs["update_fields"] = {*update_fields, "updated_at"}
        super().save(*args, **kwargs)

    def validate_target_data(self) -> None:
        errors = target_data_errors(self.category, self.target_data)
        if errors:
            raise ValidationError(
                {
                    "target_data": [
                        f"{'.'.join(map(str, loc)) or 'target_data'}: {msg}" for loc, msg in errors
                    ]
                }
            )

    def clean(self) -> None:
        super().clean()
        self.validate_target_data()
