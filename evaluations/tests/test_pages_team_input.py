import pytest

from evaluations.tests.factories import rated_goal
from goals.tests.factories import CompetencyFactory, CoreValueFactory
from orgs.cache import org_versions_bump
from orgs.tests.factories import MembershipFactory

INPUT = "/evaluation/input-page"
TEAM = "/evaluation/team-page"


@pytest.fixture
def scored(employee, period):
    rated_goal(employee, period, weight=30, rating=5, feedback_status="published")
    rated_goal(employee, period, weight=10, rating=2, feedback_status="published")
    rated_goal(employee, period, weight=20, rating=1, feedback_status="draft")
    return employee


def test_input_page_for_the_supervisor(api, scored, manager, org):
    CompetencyFactory(org=org, name="Active", is_active=True)
    CompetencyFactory(org=org, name="Retired", is_active=False)
    CoreValueFactory(org=org, name="Candour")

    body = api.get(manager, INPUT, {"member_id": scored.pk}).json()

    assert [c["name"] for c in body["competencies"]] == ["Active"]
    assert [v["name"] for v in body["core_values"]] == ["Candour"]
    assert sorted(g["feedback"]["status"] for g in body["goals"]) == [
        "draft", "published", "published",
    ]  # fmt: skip
    assert body["permissions"]["can_give_feedback"] is True


def test_input_page_roles(api, scored, manager, admin, outsider, org):
    assert api.get(scored, INPUT, {"member_id": scored.pk}).status_code == 403
    stranger = MembershipFactory(org=org)
    assert api.get(manager, INPUT, {"member_id": stranger.pk}).status_code == 404
    assert api.get(outsider, INPUT, {"member_id": scored.pk}).status_code == 404
    assert api.get(admin, INPUT, {"member_id": scored.pk}).status_code == 200


def test_input_page_costs_three_queries_at_two_sizes(
    api, employee, manager, period, django_assert_num_queries
):
    for _ in range(3):
        rated_goal(employee, period, weight=10, rating=3, feedback_status="draft")
    api.get(manager, "/me")  # warm auth
    # owner with period; goals LEFT JOIN evaluations with the totals as window aggregates;
    # catalogs (UNION ALL)
    with django_assert_num_queries(3):
        api.get(manager, INPUT, {"member_id": employee.pk})
    for _ in range(27):
        rated_goal(employee, period, weight=1, rating=3, feedback_status="draft")
    org_versions_bump({employee.org_id})
    with django_assert_num_queries(3):
        large = api.get(manager, INPUT, {"member_id": employee.pk})
    assert len(large.json()["goals"]) == 30


def test_team_page_for_a_manager(api, scored, manager, org, period):
    MembershipFactory(org=org)  # not a report

    body = api.get(manager, TEAM).json()

    assert [item["member"]["id"] for item in body["items"]] == [scored.pk]
    item = body["items"][0]
    assert item["goals"]["total"] == 3
    assert item["goals"]["by_status"]["approved"] == 3
    assert item["self_assessments_submitted"] == 3
    assert item["feedback_published"] == 2
    # (30 × 5 + 10 × 2) / (30 + 10), computed by hand
    assert item["weighted_score"] == pytest.approx(170 / 40, abs=0.01)
    assert body["next_cursor"] is None


def test_team_page_roles_and_pagination(api, scored, manager, admin, org):
    assert api.get(scored, TEAM).status_code == 403
    first = api.get(admin, TEAM, {"limit": 2}).json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    rest = api.get(admin, TEAM, {"limit": 2, "cursor": first["next_cursor"]}).json()
    ids = [i["member"]["id"] for i in first["items"] + rest["items"]]
    assert sorted(ids) == sorted([scored.pk, manager.pk, admin.pk])
    assert api.get(admin, TEAM, {"cursor": "!!"}).status_code == 422
    assert api.get(admin, TEAM, {"period_id": 999999}).status_code == 404


def test_team_page_costs_two_queries_at_two_sizes(
    api, manager, period, org, django_assert_num_queries
):
    for _ in range(3):
        rated_goal(MembershipFactory(org=org, supervisor=manager), period, weight=10,
                    rating=3, feedback_status="published")  # fmt: skip
    api.get(manager, "/me")  # warm auth
    # one page of members; their rows of the goal-count rollup (OwnerGoalRollup), by primary key
    with django_assert_num_queries(2):
        small = api.get(manager, TEAM)
    for _ in range(27):
        rated_goal(MembershipFactory(org=org, supervisor=manager), period, weight=10,
                    rating=3, feedback_status="published")  # fmt: skip
    org_versions_bump({org.id})
    with django_assert_num_queries(2):
        large = api.get(manager, TEAM)
    assert len(small.json()["items"]) == 3
    assert len(large.json()["items"]) == 30
    with django_assert_num_queries(0):
        again = api.get(manager, TEAM, HTTP_IF_NONE_MATCH=large["ETag"])
    assert again.status_code == 304
