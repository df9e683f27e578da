from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone

from core.tenant_keys import SameOrgForeignKey

SLUG_PATTERN = r"^[a-z0-9-]{2,50}$"
CROSS_ORG = "This belongs to another organization."


class Organization(models.Model):
    """A tenant. Addressed by slug under /api/org/{slug}/."""

    slug = models.CharField(
        max_length=50,
        unique=True,
        validators=[RegexValidator(SLUG_PATTERN, "2–50 characters: a-z, 0-9 and '-'.")],
    )
    name = models.CharField(max_length=200)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    # The org's change-log head: the seq of its last committed change (orgs.changes). Updated
    # inside each writing transaction, so an org's changes commit in seq order.
    change_seq = models.BigIntegerField(default=0, editable=False)
    # Changes up to this seq were pruned (CHANGES_RETENTION_DAYS): a reader behind it resyncs.
    change_pruned_seq = models.BigIntegerField(default=0, editable=False)
    rating_scale = models.PositiveSmallIntegerField(
        default=5, help_text="Ratings run from 1 to this value."
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(slug__regex=SLUG_PATTERN), name="orgs_org_slug_format"
            ),
            models.CheckConstraint(
                condition=models.Q(rating_scale__gte=2, rating_scale__lte=10),
                name="orgs_org_rating_scale_range",
            ),
        ]

    def __str__(self) -> str:
        return self.slug

    @classmethod
    def from_db(cls, db, field_names, values):
        instance = super().from_db(db, field_names, values)
        instance._loaded_slug = instance.__dict__.get("slug")
        return instance


class Department(models.Model):
    org = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="departments", db_index=False
    )
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["org", "name"], name="orgs_department_unique_name"),
        ]
        indexes = [models.Index(fields=["id"], name="orgs_department_id")]

    def __str__(self) -> str:
        """`Engineering — acme` (DESIGN.md §13): names repeat across orgs."""
        return f"{self.name} — {self.org.slug}"


class Membership(models.Model):
    """A user's place in one org: role, department, supervisor. Addressed as `member_id`."""

    class Role(models.TextChoices):
        ADMIN = "admin"
        MANAGER = "manager"
        EMPLOYEE = "employee"

    org = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="memberships", db_index=False
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.EMPLOYEE)
    department = models.ForeignKey(
        Department,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="members",
        db_constraint=False,  # SameOrgForeignKey below
    )
    supervisor = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="reports",
        db_constraint=False,
    )
    title = models.CharField(max_length=200, blank=True, default="")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["org", "user"], name="orgs_membership_unique_user"),
            models.CheckConstraint(
                condition=models.Q(role__in=["admin", "manager", "employee"]),
                name="orgs_membership_role_valid",
            ),
            models.CheckConstraint(
                condition=~models.Q(supervisor=models.F("id")),
                name="orgs_membership_not_own_supervisor",
            ),
            # Keys Citus accepts (core.tenant_keys); the primary key is (org_id, id) in the
            # database (orgs 0007), `id` in Django.
            SameOrgForeignKey(field="department", name="orgs_member_department_org_fk"),
            SameOrgForeignKey(field="supervisor", name="orgs_member_supervisor_org_fk"),
        ]
        indexes = [
            models.Index(fields=["org", "-created_at", "-id"], name="orgs_member_org_created"),
            models.Index(fields=["org", "role"], name="orgs_member_org_role"),
            # The team page: a manager's reports, newest first, read in index order.
            models.Index(
                fields=["org", "supervisor", "-created_at", "-id"], name="orgs_member_team"
            ),
            models.Index(fields=["id"], name="orgs_membership_id"),
        ]

    def __str__(self) -> str:
        """`ann@acme.example — acme (manager)` (DESIGN.md §13); callers that print many join
        `user` and `org` (the admin does)."""
        return f"{self.user.email} — {self.org.slug} ({self.role})"

    def clean(self) -> None:
        """Every foreign key between tenant rows stays inside one org (DESIGN.md §2): a form
        (the admin's) cannot point a member at another org's department or supervisor."""
        super().clean()
        errors = {
            name: CROSS_ORG
            for name in ("department", "supervisor")
            if getattr(self, f"{name}_id") is not None
            and self.org_id is not None
            and getattr(self, name).org_id != self.org_id
        }
        if errors:
            raise ValidationError(errors)

    @property
    def is_admin(self) -> bool:
        return self.role == self.Role.ADMIN


class AuditEvent(models.Model):
    """Who changed what, written in the same transaction as the change it records."""

    org = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="audit_events", db_index=False
    )
    actor = models.ForeignKey(
        Membership,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
    )
    # Platform staff who ran a support action (DESIGN.md §13); `actor` is null then. Indexed
    # only where set: a staff user's trail, at no cost to the members' own writes.
    staff_actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    action = models.CharField(max_length=64)
    entity_type = models.CharField(max_length=32)
    entity_id = models.BigIntegerField()
    changes = models.JSONField(default=dict, blank=True)
    request_id = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [SameOrgForeignKey(field="actor", name="orgs_audit_actor_org_fk")]
        indexes = [
            models.Index(fields=["id"], name="orgs_auditevent_id"),
            models.Index(fields=["org", "-created_at", "-id"], name="orgs_audit_org_created"),
            models.Index(
                fields=["org", "entity_type", "entity_id", "-created_at"],
                name="orgs_audit_org_entity",
            ),
            models.Index(
                fields=["staff_actor"],
                condition=models.Q(staff_actor__isnull=False),
                name="orgs_audit_staff_actor",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.entity_type}:{self.entity_id}"


class Change(models.Model):
    """One entry of the org's change log (DESIGN.md §10): what changed, never the values
    (they are read through the API). The audit log's twin, written by the same calls
    (orgs.audit) in the same transaction; `seq` counts per org, gapless, in commit order.

    `owner` and `reviewers_only` carry what visibility needs: whose data it is (a goal's or an
    evaluation's owner, a member itself; none for org-wide rows) and whether the owner may not
    see it yet (a draft feedback)."""

    org = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="changes", db_index=False
    )
    seq = models.BigIntegerField()
    type = models.CharField(max_length=64)
    entity_type = models.CharField(max_length=32)
    entity_id = models.BigIntegerField()
    actor = models.ForeignKey(
        Membership,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
    )
    # Indexed: the same-org key to memberships needs it (a member's delete sets it to null
    # without scanning the log; audit_indexes --strict).
    owner = models.ForeignKey(
        Membership,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
    )
    reviewers_only = models.BooleanField(default=False)
    fields = models.JSONField(default=list, blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["org", "seq"], name="orgs_change_org_seq"),
            SameOrgForeignKey(field="actor", name="orgs_change_actor_org_fk"),
            SameOrgForeignKey(field="owner", name="orgs_change_owner_org_fk"),
        ]
        indexes = [
            models.Index(fields=["org", "at"], name="orgs_change_org_at"),
            models.Index(fields=["id"], name="orgs_change_id"),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.type} {self.entity_type}:{self.entity_id}"
