"""Tenant resolution (DESIGN.md §2, §5): who gets in, what it costs, and what Redis outages do."""

from __future__ import annotations

import copy
import re

import pytest
from django.core.cache import cache

from orgs.tests.factories import MembershipFactory


def _strip(body: dict) -> dict:
    return {k: v for k, v in body.items() if k != "request_id"}


def _calls(response) -> int:
    return int(re.search(r'cache;dur=[\d.]+;desc="(\d+) calls"', response["Server-Timing"])[1])


def _queries(response) -> int:
    return int(re.search(r'db;dur=[\d.]+;desc="(\d+) queries"', response["Server-Timing"])[1])


# --- who gets in ----------------------------------------------------------------------------


def test_a_member_of_org_a_gets_the_unknown_slug_404_on_paths_of_org_b(api, employee, outsider):
    # /me exists (tenant resolution answers); the others are not routed yet (routing answers):
    # either way org B's answer is the unknown slug's answer.
    for path in ("/me", "/members", "/goals/1"):
        unknown = api.get(employee.user, f"/api/org/no-such-org{path}")
        foreign = api.get(employee.user, f"/api/org/{outsider.org.slug}{path}")
        assert foreign.status_code == unknown.status_code == 404, path
        assert _strip(foreign.json()) == _strip(unknown.json()), path
        assert foreign.json()["request_id"] == foreign["X-Request-ID"]


def test_the_outsider_gets_404_in_org_a_but_200_in_its_own_org(api, employee, outsider):
    assert api.get(outsider.user, f"/api/org/{employee.org.slug}/me").status_code == 404
    assert api.get(outsider, "/me").status_code == 200


def test_an_inactive_member_gets_the_unknown_slug_404(api, org, department):
    inactive = MembershipFactory(org=org, department=department, is_active=False)

    response = api.get(inactive, "/me")
    unknown = api.get(inactive.user, "/api/org/no-such-org/me")

    assert response.status_code == 404
    assert _strip(response.json()) == _strip(unknown.json())


def test_a_member_of_an_inactive_org_gets_the_unknown_slug_404(api, employee):
    employee.org.is_active = False
    employee.org.save()

    response = api.get(employee, "/me")
    unknown = api.get(employee.user, "/api/org/no-such-org/me")

    assert response.status_code == 404
    assert _strip(response.json()) == _strip(unknown.json())


def test_deactivating_a_membership_takes_effect_on_the_next_request(
    api, employee, django_capture_on_commit_callbacks
):
    assert api.get(employee, "/me").status_code == 200
    assert api.get(employee, "/me").status_code == 200  # warm: served from the cache

    employee.is_active = False
    with django_capture_on_commit_callbacks(execute=True):
        employee.save()  # the signal deletes the cached member entry on commit

    assert api.get(employee, "/me").status_code == 404


def test_a_role_change_shows_on_the_next_request(api, employee, django_capture_on_commit_callbacks):
    assert api.get(employee, "/me").json()["role"] == "employee"

    employee.role = "manager"
    with django_capture_on_commit_callbacks(execute=True):
        employee.save()

    assert api.get(employee, "/me").json()["role"] == "manager"


def test_joining_an_org_lets_the_user_in_on_the_next_request(
    api, employee, outsider, django_capture_on_commit_callbacks
):
    path = f"/api/org/{outsider.org.slug}/me"
    assert api.get(employee.user, path).status_code == 404  # "not a member" is cached too

    with django_capture_on_commit_callbacks(execute=True):
        MembershipFactory(org=outsider.org, user=employee.user)

    assert api.get(employee.user, path).status_code == 200


# --- what it costs --------------------------------------------------------------------------


def test_a_warm_org_me_costs_no_sql_and_one_redis_call(api, employee, django_assert_num_queries):
    api.get(employee, "/me")  # cold: fills the token, version, org and member entries
    # no queries: token, token version, org, membership and org version come from one MGET
    with django_assert_num_queries(0):
        response = api.get(employee, "/me")
    assert response.status_code == 200
    assert _calls(response) == 1
    assert _queries(response) == 0


def test_a_cold_org_me_costs_three_queries(api, employee, django_assert_num_queries):
    # 1 user auth state (is_active, is_superuser, token_version) by primary key
    # 2 organization by slug
    # 3 membership of (org, user) joined with its user
    with django_assert_num_queries(3):
        response = api.get(employee, "/me")
    assert response.status_code == 200
    # 1 MGET (all misses), 2 SET auth:tok, 3 SET auth:ver, 4 SET org:slug, 5 MGET
    # mem+ver+head, 6 SET mem, 7 pipeline SET NX + GET ver + SET NX head
    assert _calls(response) == 7


# --- Redis unreachable ----------------------------------------------------------------------


@pytest.fixture
def redis_down(settings):
    """Points the cache at a unix socket that does not exist, keeping every other option."""
    from django_redis.pool import ConnectionFactory

    caches = copy.deepcopy(settings.CACHES)
    caches["default"]["LOCATION"] = "unix:///tmp/nonexistent-cadence.sock"
    settings.CACHES = caches
    # django-redis keeps its connection pools per process: drop them so the new URL is used.
    ConnectionFactory._pools.clear()
    yield
    ConnectionFactory._pools.clear()


def test_the_cache_really_is_down_in_the_redis_down_fixture(redis_down):
    from django_redis import get_redis_connection
    from redis.exceptions import ConnectionError as RedisConnectionError

    with pytest.raises(RedisConnectionError):
        get_redis_connection("default").ping()
    assert cache.get("anything") is None


def test_login_works_while_redis_is_down(api, employee, redis_down):
    response = api.post(
        None,
        "/api/auth/login",
        {"email": employee.user.email, "password": "correct-horse-battery-9"},
    )
    assert response.status_code == 200, response.content
    token = response.json()["access_token"]
    assert api.get(None, "/api/auth/me", token=token).status_code == 200


def test_auth_me_works_while_redis_is_down(api, employee, redis_down):
    response = api.get(employee.user, "/api/auth/me")
    assert response.status_code == 200, response.content
    assert response.json()["memberships"][0]["member_id"] == employee.pk


def test_org_me_works_while_redis_is_down_and_outsiders_still_get_404(
    api, employee, outsider, redis_down
):
    response = api.get(employee, "/me")
    assert response.status_code == 200, response.content
    assert response.json()["id"] == employee.pk
    assert api.get(outsider.user, f"/api/org/{employee.org.slug}/me").status_code == 404


def test_logout_while_redis_is_down_still_revokes_the_token(api, employee, redis_down):
    token = api.token_for(employee.user)
    assert api.post(None, "/api/auth/logout", token=token).status_code == 204
    assert api.get(None, "/api/auth/me", token=token).status_code == 401


def test_health_reports_degraded_with_the_cache_down(api, db, redis_down):
    response = api.get(None, "/health")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["cache"]["status"] == "down"
    assert body["checks"]["database"]["status"] == "ok"
