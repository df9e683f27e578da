import pytest

from core.errors import Forbidden
from dashboards.selectors import dashboard_admin, dashboard_stats
from evaluations.tests.factories import rated_goal
from goals.tests.factories import GoalFactory
from orgs.cache import org_versions_bump
from orgs.permissions import ADMIN_ONLY
from orgs.tests.factories import MembershipFactory


@pytest.fixture
def scored(employee, manager, period):
    rated_goal(employee, period, weight=30, rating=4, feedback_rating=5,
                feedback_status="published")  # fmt: skip
    rated_goal(employee, period, weight=10, rating=2, feedback_rating=2,
                feedback_status="published")  # fmt: skip
    rated_goal(employee, period, weight=20, rating=3, feedback_rating=1,
                feedback_status="draft")  # fmt: skip
    GoalFactory(owner=employee, period=period, status="submitted", weight=15)
    GoalFactory(owner=employee, period=period, status="draft", weight=5, category="performance")
    return employee


def test_my_dashboard_scores_only_published_feedback(api, scored, period):
    response = api.get(scored, "/dashboards/me")

    assert response.status_code == 200
    body = response.json()
    assert body["period"]["id"] == period.pk
    assert body["goals"]["total"] == 5
    assert body["goals"]["weight_sum"] == 80
    assert body["goals"]["by_status"] == {"draft": 1, "submitted": 1, "approved": 3, "rejected": 0}
    assert body["self_assessments_submitted"] == 3
    assert body["feedback_published"] == 2  # the draft is invisible to the owner
    # (30 × 5 + 10 × 2) / (30 + 10), computed by hand
    assert body["weighted_score"] == pytest.approx(170 / 40, abs=0.01)


def test_admin_dashboard_aggregates_the_period(api, admin, scored, department, period):
    other_department_member = MembershipFactory(org=admin.org)
    GoalFactory(owner=other_department_member, period=period, status="rejected")

    body = api.get(admin, "/dashboards/admin").json()

    assert body["period"]["name"] == "2026 H2"
    assert body["members"]["total"] == 4
    assert body["members"]["by_role"] == {"admin": 1, "manager": 1, "employee": 2}
    assert body["goals"]["total"] == 6
    assert body["goals"]["by_status"] == {"draft": 1, "submitted": 1, "approved": 3, "rejected": 1}
    assert body["goals"]["by_category"]["performance"] == 6
    engineering = next(d for d in body["departments"] if d["department_id"] == department.pk)
    assert engineering["members"] == 3
    assert engineering["goals"] == 5
    assert engineering["approved_goals"] == 3
    assert engineering["self_assessments_submitted"] == 3
    assert engineering["feedback_published"] == 2
    assert engineering["completion_rate"] == pytest.approx(2 / 3, abs=0.001)
    distribution = body["rating_distribution"]
    assert distribution["self_assessment"] == [
        {"rating": 2, "count": 1},
        {"rating": 3, "count": 1},
        {"rating": 4, "count": 1},
    ]
    assert distribution["feedback"] == [{"rating": 2, "count": 1}, {"rating": 5, "count": 1}]


def test_admin_dashboard_is_for_admins_and_hides_other_orgs(api, admin, employee, outsider):
    assert api.get(employee, "/dashboards/admin").status_code == 403
    assert api.get(outsider.user, f"/api/org/{admin.org.slug}/dashboards/admin").status_code == 404
    assert api.get(admin, "/dashboards/admin", params={"period_id": 999999}).status_code == 404


def test_dashboards_cost_the_same_queries_at_two_sizes(
    api, admin, scored, period, django_assert_num_queries
):
    api.get(admin, "/me")
    api.get(scored, "/me")  # warm auth: the counts below are the dashboards' own
    # from the rollups: the period with the members summary and the period's totals (status,
    # category, ratings); the departments with their rows of the period
    with django_assert_num_queries(2):
        small_admin = api.get(admin, "/dashboards/admin")
    # the period; one aggregate over the caller's goals
    with django_assert_num_queries(2):
        api.get(scored, "/dashboards/me")

    for _ in range(10):
        extra = MembershipFactory(org=admin.org, department=scored.department)
        rated_goal(extra, period, weight=10, rating=3, feedback_rating=3,
                    feedback_status="published")  # fmt: skip
    org_versions_bump({admin.org_id})
    with django_assert_num_queries(2):
        large_admin = api.get(admin, "/dashboards/admin")
    with django_assert_num_queries(2):
        api.get(scored, "/dashboards/me")
    assert large_admin.json()["goals"]["total"] == small_admin.json()["goals"]["total"] + 10


def test_a_cached_dashboard_is_never_served_to_another_member(api, scored, manager, period):
    employee_view = api.get(scored, "/dashboards/me").json()
    manager_view = api.get(manager, "/dashboards/me").json()
    assert employee_view["member_id"] == scored.pk
    assert manager_view["member_id"] == manager.pk
    assert manager_view["goals"]["total"] == 0


def test_304_then_fresh_after_a_write(api, scored, period, django_assert_num_queries):
    first = api.get(scored, "/dashboards/me")
    with django_assert_num_queries(0):
        again = api.get(scored, "/dashboards/me", HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304

    GoalFactory(owner=scored, period=period, status="draft", weight=1)
    org_versions_bump({scored.org_id})
    changed = api.get(scored, "/dashboards/me", HTTP_IF_NONE_MATCH=first["ETag"])
    assert changed.status_code == 200
    assert changed.json()["goals"]["total"] == first.json()["goals"]["total"] + 1


def test_a_role_nobody_has_counts_0_not_null(api, admin):
    # Found by fuzzing: a COUNT subquery over no rows answered NULL, against the schema.
    response = api.get(admin, "/dashboards/admin")

    assert response.status_code == 200
    assert response.json()["members"] == {
        "total": 1, "active": 1, "by_role": {"admin": 1, "manager": 0, "employee": 0},
    }  # fmt: skip


@pytest.mark.parametrize("path", ["/dashboards/admin", "/dashboards/stats"])
def test_the_admins_cached_dashboards_never_reach_another_role(api, admin, manager, employee, path):
    warm = api.get(admin, path)  # every admin shares this entry
    assert warm.status_code == 200

    for actor in (manager, employee):
        refused = api.get(actor, path)
        assert refused.status_code == 403
        assert refused.json()["message"] == ADMIN_ONLY
        assert api.get(actor, path, HTTP_IF_NONE_MATCH=warm["ETag"]).status_code == 403


def test_the_admin_dashboards_refuse_other_roles_without_the_api(org, manager, employee):
    for actor in (manager, employee):
        with pytest.raises(Forbidden):
            dashboard_stats(org=org, actor=actor)
        with pytest.raises(Forbidden):
            dashboard_admin(org=org, actor=actor, period_id=None)
