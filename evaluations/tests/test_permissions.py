"""feedback_visible_q: the owner never reads a draft of its feedback; reviewers do. And the
pages' role rules hold without the API."""

from __future__ import annotations

import pytest

from core.errors import Forbidden
from evaluations.models import SelfAssessment, SupervisorFeedback
from evaluations.permissions import (
    feedback_reviewers_only,
    feedback_visible_flag,
    feedback_visible_q,
)
from evaluations.selectors import input_page, team_page
from evaluations.tests.factories import SelfAssessmentFactory, SupervisorFeedbackFactory
from goals.models import Goal
from goals.tests.factories import GoalFactory


@pytest.fixture
def goals(employee):
    """published feedback + submitted assessment / draft feedback / nothing."""
    published, drafted, bare = GoalFactory.create_batch(
        3, owner=employee, status=Goal.Status.APPROVED
    )
    SelfAssessmentFactory(goal=published)
    SupervisorFeedbackFactory(goal=published, status=SupervisorFeedback.Status.PUBLISHED)
    SelfAssessmentFactory(goal=drafted, status=SelfAssessment.Status.DRAFT)
    SupervisorFeedbackFactory(goal=drafted, status=SupervisorFeedback.Status.DRAFT)
    return published, drafted, bare


def test_feedback_visible_q_hides_the_owners_drafts(org, employee, manager, goals):
    published, drafted, _ = goals
    for_owner = SupervisorFeedback.objects.filter(feedback_visible_q(employee))
    for_manager = SupervisorFeedback.objects.filter(feedback_visible_q(manager))

    assert {f.goal_id for f in for_owner} == {published.pk}
    assert {f.goal_id for f in for_manager} == {published.pk, drafted.pk}


@pytest.mark.parametrize("actor_name", ["employee", "manager", "admin"])
def test_the_per_goal_flag_is_the_same_rule_and_keeps_every_goal(request, goals, actor_name):
    actor = request.getfixturevalue(actor_name)
    readable = {f.goal_id for f in SupervisorFeedback.objects.filter(feedback_visible_q(actor))}

    rows = dict(
        Goal.objects.filter(pk__in=[g.pk for g in goals])
        .annotate(visible=feedback_visible_flag(actor))
        .values_list("pk", "visible")
    )

    assert set(rows) == {g.pk for g in goals}  # a flag, not a filter: no goal is dropped
    with_feedback = {pk for pk, visible in rows.items() if visible and pk != goals[2].pk}
    assert with_feedback == readable


def test_the_team_and_input_pages_refuse_employees_without_the_api(org, employee):
    with pytest.raises(Forbidden):
        team_page(org=org, actor=employee, period_id=None, cursor=None, limit=50)
    with pytest.raises(Forbidden):
        input_page(org=org, actor=employee, member_id=employee.pk, period_id=None)


@pytest.mark.parametrize("status", ["draft", "published"])
def test_a_change_is_reviewers_only_exactly_when_the_owner_may_not_read_the_feedback(
    employee, goals, status
):
    feedback = SupervisorFeedback.objects.filter(goal__in=goals, status=status).get()
    owner_reads = SupervisorFeedback.objects.filter(feedback_visible_q(employee), pk=feedback.pk)

    assert feedback_reviewers_only(status) is not owner_reads.exists()
