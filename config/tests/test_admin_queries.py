"""Every admin list costs the same number of queries at two data sizes (DESIGN.md §6, §13): for
a superuser and for support staff, unfiltered and filtered by org, and every autocomplete the
admin offers. The lists join what they show and the paginator's count is one bounded query."""

from __future__ import annotations

import datetime
import uuid

import pytest
from django.contrib import admin
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from evaluations.tests.factories import SelfAssessmentFactory, SupervisorFeedbackFactory
from goals.tests.factories import CompetencyFactory, CoreValueFactory, GoalFactory, PeriodFactory
from orgs.models import AuditEvent, Membership
from orgs.tests.factories import DepartmentFactory, MembershipFactory, OrganizationFactory
from users.models import RefreshToken
from users.tests.factories import UserFactory, support_user

pytestmark = pytest.mark.django_db

CHANGELISTS = sorted(
    f"{model._meta.app_label}_{model._meta.model_name}" for model in admin.site._registry
)
TENANT = {name for name in CHANGELISTS if name.split("_")[0] in ("orgs", "goals", "evaluations")}
TENANT.discard("orgs_organization")


def _fill(org, members: int) -> None:
    """`members` more members of `org`, each with a goal in the active period, its
    self-assessment and feedback, audit events, a refresh token; a department, a closed period
    and catalog entries per call."""
    department = DepartmentFactory(org=org)
    active = org.periods.filter(status="active").first() or PeriodFactory(org=org, name="Now")
    PeriodFactory(org=org, name=f"Closed {uuid.uuid4().hex[:6]}", status="closed")
    CompetencyFactory(org=org)
    CoreValueFactory(org=org)
    boss = Membership.objects.filter(org=org).order_by("id").first() or MembershipFactory(
        org=org, role="manager", department=department
    )
    for _ in range(members):
        member = MembershipFactory(org=org, department=department, supervisor=boss)
        goal = GoalFactory(owner=member, period=active, status="approved")
        SelfAssessmentFactory(goal=goal)
        SupervisorFeedbackFactory(goal=goal, author=boss)
        AuditEvent.objects.create(
            org=org, actor=member, action="goal.create", entity_type="goal", entity_id=goal.pk
        )
        RefreshToken.objects.create(
            user=member.user,
            family=uuid.uuid4(),
            expires_at=timezone.now() + datetime.timedelta(days=1),
        )


def _queries(client, url: str) -> int:
    client.get(url)  # the session and permissions as any later page finds them
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return len(queries)


@pytest.fixture
def clients(db):
    superuser, support = Client(), Client()
    superuser.force_login(UserFactory(is_staff=True, is_superuser=True))
    support.force_login(support_user())
    return {"superuser": superuser, "support": support}


def test_every_admin_list_costs_the_same_at_two_sizes(clients):
    org = OrganizationFactory()
    OrganizationFactory()  # another org, with nothing
    _fill(org, 3)
    urls = [reverse(f"admin:{name}_changelist") for name in CHANGELISTS]
    urls += [f"{reverse(f'admin:{name}_changelist')}?org={org.pk}" for name in sorted(TENANT)]
    urls += [
        reverse("admin:autocomplete") + f"?app_label=orgs&model_name=membership&field_name="
        f"{field}&term=&org={org.pk}"
        for field in ("supervisor", "department")
    ]
    small = {(who, url): _queries(client, url) for who, client in clients.items() for url in urls}

    _fill(org, 12)
    large = {(who, url): _queries(client, url) for who, client in clients.items() for url in urls}

    assert large == small
    # A list: session, user, the paginator's bounded count, the page (plus the org's label
    # when filtered by org, the groups of the user list's filter, and for support staff their
    # permissions: user's and group's).
    ours = {key: count for key, count in small.items() if "/admin/procrastinate/" not in key[1]}
    assert max(ours.values()) <= 7, {key: count for key, count in ours.items() if count > 7}
