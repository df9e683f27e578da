import pytest

from evaluations.tests.factories import rated_goal
from goals.tests.factories import GoalFactory
from orgs.cache import org_versions_bump
from orgs.tests.factories import MembershipFactory

PAGE = "/evaluation/goal-list-page"


@pytest.fixture
def scored(employee, period):
    rated_goal(employee, period, weight=30, rating=5, feedback_status="published")
    rated_goal(employee, period, weight=10, rating=2, feedback_status="published")
    rated_goal(employee, period, weight=20, rating=1, feedback_status="draft")
    GoalFactory(owner=employee, period=period, status="submitted", weight=15)
    return employee


def test_owner_sees_own_page_without_draft_feedback(api, scored, period):
    response = api.get(scored, PAGE)

    assert response.status_code == 200
    body = response.json()
    assert body["period"]["id"] == period.pk
    assert body["owner"]["id"] == scored.pk
    assert body["owner"]["email"] == scored.user.email
    assert len(body["goals"]) == 4
    drafts = [g for g in body["goals"] if g["weight"] == 20]
    assert drafts[0]["feedback"] is None  # the owner never sees a draft
    assert drafts[0]["self_assessment"]["rating"] == 1
    assert all(g["feedback"] is None or g["feedback"]["status"] == "published"
               for g in body["goals"])  # fmt: skip
    assert body["totals"]["weight_sum"] == 75
    assert body["totals"]["by_status"] == {"draft": 0, "submitted": 1, "approved": 3,
                                           "rejected": 0}  # fmt: skip
    # (30 × 5 + 10 × 2) / (30 + 10), computed by hand; the draft (20 × 1) does not count
    assert body["totals"]["weighted_score"] == pytest.approx(170 / 40, abs=0.01)
    assert body["permissions"] == {"can_edit": True, "can_submit": True,
                                   "can_approve": False, "can_give_feedback": False}  # fmt: skip


def test_manager_sees_report_with_draft_feedback(api, scored, manager):
    body = api.get(manager, PAGE, {"member_id": scored.pk}).json()

    statuses = sorted(g["feedback"]["status"] for g in body["goals"] if g["feedback"])
    assert statuses == ["draft", "published", "published"]
    assert body["permissions"]["can_approve"] is True
    assert body["permissions"]["can_edit"] is False


def test_a_managers_cached_view_is_never_served_to_the_employee(api, scored, manager):
    api.get(manager, PAGE, {"member_id": scored.pk})  # warms the manager's cache entry

    body = api.get(scored, PAGE, {"member_id": scored.pk}).json()
    assert all(g["feedback"] is None or g["feedback"]["status"] == "published"
               for g in body["goals"])  # fmt: skip


def test_invisible_members_are_404(api, scored, manager, admin, outsider, org):
    assert api.get(scored, PAGE, {"member_id": manager.pk}).status_code == 404
    assert api.get(scored, PAGE, {"member_id": admin.pk}).status_code == 404
    stranger = MembershipFactory(org=org)
    assert api.get(manager, PAGE, {"member_id": stranger.pk}).status_code == 404
    assert api.get(scored, PAGE, {"member_id": outsider.pk}).status_code == 404
    assert api.get(outsider, PAGE, {"member_id": scored.pk}).status_code == 404
    assert api.get(admin, PAGE, {"member_id": stranger.pk}).status_code == 200


def test_unknown_period_is_404(api, scored):
    assert api.get(scored, PAGE, {"period_id": 999999}).status_code == 404


def test_goal_list_page_costs_two_queries_at_two_sizes(
    api, employee, period, django_assert_num_queries
):
    for _ in range(3):
        rated_goal(employee, period, weight=10, rating=3, feedback_status="published")
    api.get(employee, "/me")  # warm auth: the counts below are the page's own
    # owner member row with the period as a subquery; goals LEFT JOIN self-assessment and
    # feedback, the totals as window aggregates on each row
    with django_assert_num_queries(2):
        small = api.get(employee, PAGE)
    for _ in range(27):
        rated_goal(employee, period, weight=1, rating=3, feedback_status="published")
    org_versions_bump({employee.org_id})
    with django_assert_num_queries(2):
        large = api.get(employee, PAGE)
    assert len(small.json()["goals"]) == 3
    assert len(large.json()["goals"]) == 30


def test_304_then_fresh_after_a_write(api, scored, period, django_assert_num_queries):
    first = api.get(scored, PAGE)
    with django_assert_num_queries(0):
        again = api.get(scored, PAGE, HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304

    GoalFactory(owner=scored, period=period, status="draft", weight=1)
    org_versions_bump({scored.org_id})
    changed = api.get(scored, PAGE, HTTP_IF_NONE_MATCH=first["ETag"])
    assert changed.status_code == 200
    assert len(changed.json()["goals"]) == len(first.json()["goals"]) + 1
    assert changed.json()["totals"]["by_status"]["draft"] == 1


def test_openapi_documents_the_page(api):
    schema = api.get(None, "/api/openapi.json").json()
    assert "GoalListPageOut" in schema["components"]["schemas"]
