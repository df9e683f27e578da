"""Demo data (DESIGN.md §7): orgs `acme` and `globex`, each with an admin, a manager and an
employee reporting to the manager, all with the password `demo-pass-1234`; an active and a
closed review period; competency and core-value catalogs; and, for every member, goals in
every state, with self-assessments and feedback (published and draft) on approved goals, so
every screen shows something. Plus the platform support account `support@cadence.example`
(staff, in the `Support` group that users migration 0002 makes, not a superuser) for the
Django admin (DESIGN.md §13)."""

from __future__ import annotations

import datetime

from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from evaluations.models import SelfAssessment, SupervisorFeedback
from goals.models import Competency, CoreValue, Goal, Period
from orgs.models import Department, Membership, Organization
from users.models import User

DEMO_PASSWORD = "demo-pass-1234"
DEMO_ORGS = (("acme", "Acme Corporation"), ("globex", "Globex Corporation"))
DEMO_ROLES = (
    ("admin", "Admin", Membership.Role.ADMIN),
    ("manager", "Manager", Membership.Role.MANAGER),
    ("employee", "Employee", Membership.Role.EMPLOYEE),
)


SUPPORT_EMAIL = "support@cadence.example"
SUPPORT_GROUP = "Support"


def demo_logins() -> list[tuple[str, str, str]]:
    """(email, role, where it logs in) of every demo login."""
    members = [
        (f"{local}@{slug}.example", role.value, f"/api/org/{slug}/")
        for slug, _ in DEMO_ORGS
        for local, _, role in DEMO_ROLES
    ]
    return [*members, (SUPPORT_EMAIL, "support", "/admin/ (staff, Support group)")]


def demo_present() -> bool:
    """Whether any demo org or login exists already (loading again would collide with it)."""
    return (
        Organization.objects.filter(slug__in=[slug for slug, _ in DEMO_ORGS]).exists()
        or User.objects.filter(email__in=[email for email, _, _ in demo_logins()]).exists()
    )


@transaction.atomic
def demo_seed() -> None:
    support = User.objects.create_user(
        SUPPORT_EMAIL, DEMO_PASSWORD, full_name="Cadence Support", is_staff=True
    )
    support.groups.add(Group.objects.get(name=SUPPORT_GROUP))
    for slug, name in DEMO_ORGS:
        org = Organization.objects.create(slug=slug, name=name)
        department = Department.objects.create(org=org, name="Engineering")
        members: dict[str, Membership] = {}
        for local, title, role in DEMO_ROLES:
            user = User.objects.create_user(
                f"{local}@{slug}.example",
                DEMO_PASSWORD,
                full_name=f"{name.split()[0]} {title}",
            )
            members[local] = Membership.objects.create(
                org=org,
                user=user,
                role=role,
                department=department,
                title=title,
                supervisor=members.get("manager") if local == "employee" else None,
            )
        _demo_goals(org=org, members=members)


def _demo_goals(*, org: Organization, members: dict[str, Membership]) -> None:
    closed = Period.objects.create(
        org=org,
        name="2026 H1",
        starts_on=datetime.date(2026, 1, 1),
        ends_on=datetime.date(2026, 6, 30),
        status=Period.Status.CLOSED,
    )
    active = Period.objects.create(
        org=org,
        name="2026 H2",
        starts_on=datetime.date(2026, 7, 1),
        ends_on=datetime.date(2026, 12, 31),
        status=Period.Status.ACTIVE,
    )
    competencies = [
        Competency.objects.create(org=org, name=name, description=f"{name} at work.")
        for name in ("Communication", "Ownership", "Technical depth")
    ]
    values = [
        CoreValue.objects.create(org=org, name=name, description=f"We value {name.lower()}.")
        for name in ("Customer focus", "Integrity", "Curiosity")
    ]
    admin = members["admin"]
    now = timezone.now()
    for member in members.values():
        reviewer = members["manager"] if member.supervisor_id else admin
        if member == admin:
            reviewer = members["manager"]  # nobody reviews their own goal; demo shortcut
        targets = {
            Goal.Category.PERFORMANCE: {
                "type": "performance",
                "metric": "Customer satisfaction",
                "target": 90,
                "unit": "%",
                "baseline": 82,
                "direction": "increase",
            },
            Goal.Category.COMPETENCY: {
                "type": "competency",
                "competency_id": competencies[0].pk,
                "expected_level": 4,
                "action_plan": ["Run the weekly demo", "Write one design note a month"],
            },
            Goal.Category.CORE_VALUE: {
                "type": "core_value",
                "core_value_id": values[0].pk,
                "behaviors": ["Answers customer tickets within a day"],
            },
        }
        plan = [
            (closed, Goal.Category.PERFORMANCE, "Ship the onboarding revamp", 40, "approved"),
            (closed, Goal.Category.CORE_VALUE, "Customer focus in every release", 30, "approved"),
            (active, Goal.Category.PERFORMANCE, "Raise customer satisfaction", 30, "approved"),
            (active, Goal.Category.COMPETENCY, "Grow communication skills", 20, "approved"),
            (active, Goal.Category.CORE_VALUE, "Live customer focus", 20, "submitted"),
            (active, Goal.Category.PERFORMANCE, "Cut support backlog", 15, "rejected"),
            (active, Goal.Category.COMPETENCY, "Learn the billing domain", 10, "draft"),
        ]
        for index, (period, category, title, weight, status) in enumerate(plan):
            reviewed = status in ("approved", "rejected")
            goal = Goal.objects.create(
                org=org,
                period=period,
                owner=member,
                category=category,
                title=title,
                weight=weight,
                target_data=targets[category],
                status=status,
                review_comment="Make it measurable." if status == "rejected" else "",
                reviewed_by=reviewer if reviewed else None,
                reviewed_at=now if reviewed else None,
            )
            if status != "approved":
                continue
            SelfAssessment.objects.create(
                org=org,
                goal=goal,
                rating=4,
                comment="Delivered on the main points.",
                status=SelfAssessment.Status.SUBMITTED,
                submitted_at=now,
            )
            published = period == closed or index == 2
            SupervisorFeedback.objects.create(
                org=org,
                goal=goal,
                author=reviewer,
                rating=3 + index % 2,
                comment="Good progress." if published else "Draft: discuss in 1:1.",
                status="published" if published else "draft",
                published_at=now if published else None,
            )
