from datetime import timedelta

from django.utils import timezone

from orgs.cache import org_versions_bump
from orgs.tests.factories import MembershipFactory


def _warm(api, member):
    api.get(member, "/me")  # fills the token, org and member caches: auth costs no SQL after


def test_stats_counts_the_orgs_members_only(api, admin, manager, employee, outsider):
    MembershipFactory(org=admin.org, is_active=False)
    MembershipFactory(org=admin.org, created_at=timezone.now() - timedelta(days=30))
    MembershipFactory(org=admin.org, created_at=timezone.now() - timedelta(days=3))

    response = api.get(admin, "/dashboards/stats")

    assert response.status_code == 200
    body = response.json()
    # admin, manager, employee (today), inactive (today), 30 days old, 3 days old
    expected = {
        "total_users": 6,
        "active_users": 5,
        "inactive_users": 1,
        "admins": 1,
        "new_users_today": 4,
        "new_users_week": 5,
    }
    assert {key: body[key] for key in expected} == expected
    assert "timestamp" in body


def test_stats_is_for_admins(api, manager, employee, outsider, admin):
    assert api.get(manager, "/dashboards/stats").status_code == 403
    assert api.get(employee, "/dashboards/stats").status_code == 403
    assert api.get(outsider.user, f"/api/org/{admin.org.slug}/dashboards/stats").status_code == 404


def test_stats_costs_one_query_at_any_size_and_none_when_cached(
    api, admin, django_assert_num_queries
):
    _warm(api, admin)
    MembershipFactory.create_batch(5, org=admin.org)
    # the aggregate over the org's memberships
    with django_assert_num_queries(1):
        first = api.get(admin, "/dashboards/stats")
    # the body comes from Redis
    with django_assert_num_queries(0):
        cached = api.get(admin, "/dashboards/stats")
    assert cached.json() == first.json()

    MembershipFactory.create_batch(50, org=admin.org)
    org_versions_bump({admin.org_id})
    # the same single aggregate, 50 members later
    with django_assert_num_queries(1):
        larger = api.get(admin, "/dashboards/stats")
    assert larger.json()["total_users"] == first.json()["total_users"] + 50


def test_stats_answers_304_without_sql_and_changes_after_a_write(
    api, admin, django_assert_num_queries
):
    first = api.get(admin, "/dashboards/stats")
    etag = first["ETag"]
    # the version comes with tenant resolution: no SQL, no body
    with django_assert_num_queries(0):
        not_modified = api.get(admin, "/dashboards/stats", HTTP_IF_NONE_MATCH=etag)
    assert not_modified.status_code == 304
    assert not_modified.content == b""

    MembershipFactory(org=admin.org)
    org_versions_bump({admin.org_id})  # what every service does after its commit

    changed = api.get(admin, "/dashboards/stats", HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200
    assert changed["ETag"] != etag
    assert changed.json()["total_users"] == first.json()["total_users"] + 1
