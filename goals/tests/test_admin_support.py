"""The admin for support staff, goals side (DESIGN.md §13): close / reopen a period and return
a goal to draft through the services (audited with the staff user as actor), the API's rules
on every edit, read-only tenant keys and status, readable periods and targets."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse

from core.errors import Conflict, Forbidden
from core.tests.admin import admin_action, change_form_data, messages_of
from goals.admin import PERIOD_NOT_CLOSED
from goals.models import Competency, Goal, Period
from goals.services import goal_return_to_draft
from goals.services._common import (
    GOAL_ALREADY_DRAFT,
    GOAL_NOT_EDITABLE,
    PERIOD_ALREADY_ACTIVE,
    PERIOD_CLOSED,
)
from goals.tests.factories import CompetencyFactory, GoalFactory, PeriodFactory
from orgs.models import AuditEvent, Change
from orgs.permissions import ADMIN_ONLY, PlatformActor
from users.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _post_change(client, model: str, row, **changes):
    url = reverse(f"admin:{model}_change", args=[row.pk])
    return client.post(url, change_form_data(client.get(url), **changes))


@pytest.fixture
def approved(employee, manager, period):
    return GoalFactory(
        owner=employee,
        period=period,
        status=Goal.Status.APPROVED,
        reviewed_by=manager,
        reviewed_at=datetime.datetime(2026, 7, 1, tzinfo=datetime.UTC),
        review_comment="Fine.",
    )


# --- periods --------------------------------------------------------------------------------


def test_closing_and_reopening_a_period_are_audited_with_the_staff_user(
    support_client, staff, period
):
    closed = admin_action(support_client, "goals_period", "close", period.pk)

    assert any("closed" in m for m in messages_of(closed))
    assert Period.objects.get(pk=period.pk).status == "closed"
    event = AuditEvent.objects.filter(staff_actor=staff).latest("id")
    assert (event.action, event.actor_id, event.entity_id) == ("period.update", None, period.pk)
    assert event.changes == {"status": ["active", "closed"]}

    admin_action(support_client, "goals_period", "reopen", period.pk)

    assert Period.objects.get(pk=period.pk).status == "active"
    event = AuditEvent.objects.filter(staff_actor=staff).latest("id")
    assert (event.action, event.changes) == ("period.reopen", {"status": ["closed", "active"]})
    assert Change.objects.filter(org=period.org).latest("seq").type == "period.reopened"


def test_reopening_while_another_period_is_active_is_refused(support_client, staff, period):
    old = PeriodFactory(org=period.org, name="2026 H1", status="closed")

    response = admin_action(support_client, "goals_period", "reopen", old.pk)

    assert any(PERIOD_ALREADY_ACTIVE in m for m in messages_of(response))
    assert Period.objects.get(pk=old.pk).status == "closed"
    assert not AuditEvent.objects.filter(staff_actor=staff).exists()


def test_only_a_closed_period_reopens(support_client, staff, org):
    planned = PeriodFactory(org=org, name="2027 H1", status="planned")

    response = admin_action(support_client, "goals_period", "reopen", planned.pk)

    assert any(PERIOD_NOT_CLOSED in m for m in messages_of(response))
    assert Period.objects.get(pk=planned.pk).status == "planned"
    assert not AuditEvent.objects.filter(staff_actor=staff).exists()


def test_a_closed_periods_name_is_refused_and_org_and_created_at_are_read_only(
    superuser_client, period, other_org
):
    period.status = "closed"
    period.save()
    page = superuser_client.get(reverse("admin:goals_period_change", args=[period.pk]))
    assert {"org", "created_at"}.isdisjoint(page.context["adminform"].form.fields)

    response = _post_change(
        superuser_client, "goals_period", period, name="Renamed", org=other_org.pk
    )

    assert response.status_code == 200
    assert PERIOD_CLOSED in response.context["adminform"].form.non_field_errors()
    saved = Period.objects.get(pk=period.pk)
    assert (saved.name, saved.org_id, saved.created_at) == (
        "2026 H2",
        period.org_id,
        period.created_at,
    )


def test_a_period_is_added_through_the_service(superuser_client, superuser, org):
    response = superuser_client.post(
        reverse("admin:goals_period_add"),
        {"org": org.pk, "name": "2027 H1", "starts_on": "2027-01-01", "ends_on": "2027-06-30",
         "status": "planned"},
    )  # fmt: skip

    assert response.status_code == 302
    period = Period.objects.get(org=org, name="2027 H1")
    event = AuditEvent.objects.get(staff_actor=superuser)
    assert (event.action, event.entity_id) == ("period.create", period.pk)


def test_periods_read_with_their_org(period):
    assert str(period) == "2026 H2 — acme-test"


# --- goals: return to draft -----------------------------------------------------------------


def test_returning_a_goal_to_draft_clears_its_review_and_audits_the_staff_user(
    support_client, staff, approved
):
    response = admin_action(support_client, "goals_goal", "return_to_draft", approved.pk)

    assert any("returned to draft" in m for m in messages_of(response))
    goal = Goal.objects.get(pk=approved.pk)
    assert (goal.status, goal.reviewed_by_id, goal.reviewed_at, goal.review_comment) == (
        "draft", None, None, ""
    )  # fmt: skip
    event = AuditEvent.objects.get(staff_actor=staff)
    assert (event.action, event.entity_type, event.actor_id) == (
        "goal.return_to_draft", "goal", None
    )  # fmt: skip
    assert event.changes["status"] == ["approved", "draft"]
    assert event.changes["reviewed_by_id"] == [approved.reviewed_by_id, None]
    change = Change.objects.filter(org=approved.org).latest("seq")
    assert (change.type, change.actor_id, change.owner_id) == (
        "goal.returned_to_draft", None, approved.owner_id
    )  # fmt: skip


def test_a_draft_goal_or_one_in_a_closed_period_does_not_return_to_draft(
    support_client, staff, employee, approved
):
    draft = GoalFactory(owner=employee, period=approved.period)
    closed_period = PeriodFactory(org=employee.org, name="2025", status="closed")
    old = GoalFactory(owner=employee, period=closed_period, status="approved")

    response = admin_action(support_client, "goals_goal", "return_to_draft", draft.pk, old.pk)

    shown = messages_of(response)
    assert any(GOAL_ALREADY_DRAFT in m for m in shown)
    assert any(PERIOD_CLOSED in m for m in shown)
    assert Goal.objects.get(pk=old.pk).status == "approved"
    assert not AuditEvent.objects.filter(staff_actor=staff).exists()


def test_return_to_draft_is_for_admins_and_staff_not_for_other_members(employee, admin, approved):
    with pytest.raises(Forbidden, match=ADMIN_ONLY):
        goal_return_to_draft(org=employee.org, actor=employee, goal_id=approved.pk)

    goal = goal_return_to_draft(org=admin.org, actor=admin, goal_id=approved.pk)

    assert goal.status == "draft"
    assert AuditEvent.objects.get(action="goal.return_to_draft").actor_id == admin.pk
    with pytest.raises(Conflict, match=GOAL_ALREADY_DRAFT):
        goal_return_to_draft(
            org=admin.org, actor=PlatformActor(UserFactory(is_staff=True)), goal_id=goal.pk
        )


# --- goals: edits ---------------------------------------------------------------------------


def test_status_org_owner_and_period_of_a_goal_are_read_only_for_a_superuser(
    superuser_client, approved, outsider
):
    page = superuser_client.get(reverse("admin:goals_goal_change", args=[approved.pk]))
    assert {"status", "org", "owner", "period", "category", "created_at", "reviewed_by"}.isdisjoint(
        page.context["adminform"].form.fields
    )

    _post_change(
        superuser_client, "goals_goal", approved,
        status="draft", org=outsider.org_id, owner=outsider.pk, reviewed_by="",
    )  # fmt: skip

    goal = Goal.objects.get(pk=approved.pk)
    assert (goal.status, goal.org_id, goal.owner_id, goal.reviewed_by_id) == (
        "approved", approved.org_id, approved.owner_id, approved.reviewed_by_id
    )  # fmt: skip


def test_editing_an_approved_goal_is_refused_as_in_the_api(superuser_client, approved):
    response = _post_change(superuser_client, "goals_goal", approved, title="Changed")

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {"__all__": [GOAL_NOT_EDITABLE]}
    assert Goal.objects.get(pk=approved.pk).title == approved.title
    assert not AuditEvent.objects.exists()


def test_editing_a_draft_goal_goes_through_the_service(superuser_client, superuser, employee):
    goal = GoalFactory(owner=employee)

    response = _post_change(superuser_client, "goals_goal", goal, title="Sharper", weight=25)
    bad = _post_change(superuser_client, "goals_goal", goal, target_data='{"type": "competency"}')

    assert response.status_code == 302
    assert (Goal.objects.get(pk=goal.pk).title, Goal.objects.get(pk=goal.pk).weight) == (
        "Sharper", 25
    )  # fmt: skip
    event = AuditEvent.objects.get(staff_actor=superuser)
    assert (event.action, event.changes) == (
        "goal.update", {"title": [goal.title, "Sharper"], "weight": [10, 25]}
    )  # fmt: skip
    assert bad.status_code == 200
    assert bad.context["adminform"].form.errors["target_data"]


def test_goals_are_neither_added_nor_deleted_in_the_admin(superuser_client, approved):
    assert superuser_client.get(reverse("admin:goals_goal_add")).status_code == 403
    delete = reverse("admin:goals_goal_delete", args=[approved.pk])
    assert superuser_client.post(delete, {"post": "yes"}).status_code == 403


# --- readable goals -------------------------------------------------------------------------


def test_a_goals_target_is_a_labelled_table_with_catalog_names(support_client, employee):
    competency = CompetencyFactory(org=employee.org, name="Communication")
    goal = GoalFactory(
        owner=employee,
        category="competency",
        target_data={"type": "competency", "competency_id": competency.pk, "expected_level": 4,
                     "action_plan": ["Run the demo", "Write notes"]},
    )  # fmt: skip

    page = support_client.get(reverse("admin:goals_goal_change", args=[goal.pk]))
    html = page.content.decode()

    assert f"<th>Competency</th><td>Communication (#{competency.pk})</td>" in html
    assert "<th>Expected level</th><td>4</td>" in html
    assert "<th>Action plan</th><td>Run the demo; Write notes</td>" in html
    assert "competency_id" not in html  # no raw JSON for a reader


def test_the_goal_list_names_owner_and_org(support_client, employee):
    GoalFactory(owner=employee, title="Raise NPS")

    html = support_client.get(reverse("admin:goals_goal_changelist")).content.decode()

    assert "Raise NPS" in html
    assert f"{employee.user.email} — acme-test (employee)" in html


def test_catalog_entries_are_added_through_the_service_and_never_changed(
    superuser_client, superuser, org
):
    response = superuser_client.post(
        reverse("admin:goals_competency_add"),
        {"org": org.pk, "name": "Listening", "description": "", "is_active": "on"},
    )

    entry = Competency.objects.get(org=org, name="Listening")
    assert response.status_code == 302
    assert AuditEvent.objects.get(staff_actor=superuser).entity_id == entry.pk
    change = superuser_client.get(reverse("admin:goals_competency_change", args=[entry.pk]))
    assert b'name="_save"' not in change.content
    assert str(entry) == "Listening — acme-test"
