"""evaluations_for_goals: the owner never sees a draft of its feedback; reviewers do.

No endpoint reads evaluations yet (the page reads will), so the selector is tested directly.
"""

from __future__ import annotations

import pytest

from evaluations.models import SelfAssessment, SupervisorFeedback
from evaluations.selectors import evaluations_for_goals, feedback_visible_q
from evaluations.tests.factories import SelfAssessmentFactory, SupervisorFeedbackFactory
from goals.models import Goal
from goals.tests.factories import GoalFactory
from orgs.models import Membership
from orgs.tests.factories import MembershipFactory


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


def test_the_owner_sees_published_feedback_only(org, employee, goals):
    published, drafted, bare = goals

    result = evaluations_for_goals(
        org=org, actor=employee, goal_ids=[bare.pk, drafted.pk, published.pk]
    )

    assert list(result) == [bare.pk, drafted.pk, published.pk]
    assert result[bare.pk] == {"self_assessment": None, "feedback": None}
    assert result[drafted.pk]["feedback"] is None
    assert result[drafted.pk]["self_assessment"]["status"] == "draft"
    assert result[published.pk]["feedback"]["status"] == "published"
    assert set(result[published.pk]["feedback"]) == {
        "id",
        "goal_id",
        "author_id",
        "rating",
        "comment",
        "status",
        "published_at",
        "created_at",
        "updated_at",
    }
    assert set(result[published.pk]["self_assessment"]) == {
        "id",
        "goal_id",
        "rating",
        "comment",
        "status",
        "submitted_at",
        "created_at",
        "updated_at",
    }


@pytest.mark.parametrize("actor_name", ["manager", "admin"])
def test_reviewers_see_drafts(request, org, goals, actor_name):
    actor = request.getfixturevalue(actor_name)
    published, drafted, _ = goals

    result = evaluations_for_goals(org=org, actor=actor, goal_ids=[published.pk, drafted.pk])

    assert result[drafted.pk]["feedback"]["status"] == "draft"
    assert result[published.pk]["feedback"]["status"] == "published"


@pytest.mark.parametrize("who", ["other_manager", "other_employee"])
def test_members_who_cannot_see_the_goals_get_nothing(org, goals, who):
    role = Membership.Role.MANAGER if who == "other_manager" else Membership.Role.EMPLOYEE
    actor = MembershipFactory(org=org, role=role)

    result = evaluations_for_goals(org=org, actor=actor, goal_ids=[g.pk for g in goals])

    assert all(v == {"self_assessment": None, "feedback": None} for v in result.values())


def test_rows_of_another_org_are_never_returned(org, other_org, admin, outsider):
    foreign = GoalFactory(owner=outsider, status=Goal.Status.APPROVED)
    SupervisorFeedbackFactory(goal=foreign, author=outsider)

    result = evaluations_for_goals(org=org, actor=admin, goal_ids=[foreign.pk])

    assert result == {foreign.pk: {"self_assessment": None, "feedback": None}}


def test_feedback_visible_q_hides_the_owners_drafts(org, employee, manager, goals):
    published, drafted, _ = goals
    for_owner = SupervisorFeedback.objects.filter(feedback_visible_q(employee))
    for_manager = SupervisorFeedback.objects.filter(feedback_visible_q(manager))

    assert {f.goal_id for f in for_owner} == {published.pk}
    assert {f.goal_id for f in for_manager} == {published.pk, drafted.pk}


def test_no_goal_ids_cost_no_queries(org, employee, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert evaluations_for_goals(org=org, actor=employee, goal_ids=[]) == {}


@pytest.mark.parametrize("goal_count", [3, 30])
def test_it_costs_two_queries_for_3_and_30_goals(
    org, employee, goal_count, django_assert_num_queries
):
    goals = GoalFactory.create_batch(goal_count, owner=employee, status=Goal.Status.APPROVED)
    for goal in goals:
        SelfAssessmentFactory(goal=goal)
        SupervisorFeedbackFactory(goal=goal)

    # self-assessments of the goals; feedback of the goals (joined to the goal for its owner)
    with django_assert_num_queries(2):
        result = evaluations_for_goals(org=org, actor=employee, goal_ids=[g.pk for g in goals])
    assert len(result) == goal_count
    assert all(v["feedback"] and v["self_assessment"] for v in result.values())
