"""The admin for support staff, evaluations side (DESIGN.md §13): evaluations are read-only
for everyone, a goal's page shows them, and a goal that has one does not return to draft."""

from __future__ import annotations

import pytest
from django.urls import reverse

from core.tests.admin import messages_of
from evaluations.models import SelfAssessment
from evaluations.signals import GOAL_HAS_EVALUATIONS
from evaluations.tests.factories import SelfAssessmentFactory, SupervisorFeedbackFactory
from goals.models import Goal
from goals.tests.factories import GoalFactory
from orgs.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def assessed(employee, period):
    goal = GoalFactory(owner=employee, period=period, status=Goal.Status.APPROVED)
    SelfAssessmentFactory(goal=goal, org=goal.org, rating=4, comment="Went well.")
    return goal


def test_a_goal_with_a_self_assessment_stays_approved(support_client, assessed):
    url = reverse("admin:goals_goal_changelist")
    data = {"action": "return_to_draft", "_selected_action": [str(assessed.pk)]}

    response = support_client.post(url, data, follow=True)

    assert any(GOAL_HAS_EVALUATIONS in m for m in messages_of(response))
    assert Goal.objects.get(pk=assessed.pk).status == "approved"
    assert not AuditEvent.objects.exists()


def test_a_goals_page_shows_its_self_assessment_and_feedback(support_client, assessed, manager):
    SupervisorFeedbackFactory(goal=assessed, org=assessed.org, author=manager, rating=5)

    html = support_client.get(reverse("admin:goals_goal_change", args=[assessed.pk])).content

    assert b"Went well." in html
    assert f"{manager.user.email} — acme-test (manager)".encode() in html


def test_evaluations_are_read_only_even_for_a_superuser(superuser_client, assessed):
    assessment = SelfAssessment.objects.get(goal=assessed)
    url = reverse("admin:evaluations_selfassessment_change", args=[assessment.pk])

    page = superuser_client.get(url)
    post = superuser_client.post(url, {"rating": 1})

    assert page.status_code == 200 and b'name="_save"' not in page.content
    assert post.status_code == 403
    assert SelfAssessment.objects.get(pk=assessment.pk).rating == 4
    assert superuser_client.get(reverse("admin:evaluations_selfassessment_add")).status_code == 403


def test_evaluation_lists_filter_by_org_and_owner_without_an_org_sidebar(
    support_client, assessed, employee
):
    url = reverse("admin:evaluations_selfassessment_changelist")

    page = support_client.get(f"{url}?org={employee.org_id}&goal__owner={employee.pk}")

    assert page.status_code == 200
    assert [a.goal_id for a in page.context["cl"].result_list] == [assessed.pk]
    assert b'id="org-filter"' in page.content
    assert b"org__id__exact" not in page.content
