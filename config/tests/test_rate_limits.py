"""Rate limits (core.ratelimit): per user per org, per IP for anonymous calls, and login."""

import time

import jwt
import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from orgs.tests.factories import MembershipFactory
from users.tests.factories import TEST_PASSWORD as PASSWORD
from users.tests.factories import UserFactory


@pytest.fixture
def tight(settings):
    """Small limits, so a test reaches them in a few requests."""
    settings.RATE_LIMITS_ENABLED = True
    settings.RATE_LIMIT_USER = "3/m"
    settings.RATE_LIMIT_ANON = "3/m"
    settings.RATE_LIMIT_LOGIN_IP = "4/m"
    settings.RATE_LIMIT_LOGIN_EMAIL = "2/m"
    return settings


def assert_rate_limited(response, window_seconds=60):
    assert response.status_code == 429, response.content
    body = response.json()
    assert body["error"] == "rate_limited"
    assert set(body) == {"error", "message", "details", "request_id"}
    assert 1 <= int(response["Retry-After"]) <= window_seconds


def login(api, email, password=PASSWORD, **headers):
    return api.post(None, "/api/auth/login", {"email": email, "password": password}, **headers)


def test_a_member_past_the_per_user_limit_gets_429_with_retry_after(api, employee, tight):
    for _ in range(3):
        assert api.get(employee, "/me").status_code == 200
    assert_rate_limited(api.get(employee, "/me"))


def test_the_per_user_limit_counts_each_org_and_each_user_apart(
    api, employee, manager, other_org, tight
):
    elsewhere = MembershipFactory(org=other_org, user=employee.user)
    for _ in range(3):
        api.get(employee, "/me")
    assert_rate_limited(api.get(employee, "/me"))
    assert api.get(elsewhere, "/me").status_code == 200
    assert api.get(manager, "/me").status_code == 200
    assert api.get(employee.user, "/api/auth/me").status_code == 200


def test_the_limit_holds_with_limits_on_and_a_warm_request_stays_one_round_trip(
    api, employee, settings
):
    settings.RATE_LIMIT_USER = "1000/m"
    api.get(employee, "/me")
    response = api.get(employee, "/me")
    assert response.status_code == 200
    assert 'desc="0 queries"' in response["Server-Timing"]
    assert 'desc="1 calls"' in response["Server-Timing"]


def test_anonymous_calls_are_limited_per_ip_including_unknown_paths(api, db, tight):
    for _ in range(3):
        assert api.get(None, "/api/no-such-path").status_code == 404
    assert_rate_limited(api.get(None, "/api/org/acme/me"))
    assert api.get(None, "/api/no-such-path", REMOTE_ADDR="10.0.0.9").status_code == 404


def test_failed_authentication_counts_against_the_ip(api, employee, tight):
    for _ in range(3):
        assert api.get(employee, "/me", token="not-a-token").status_code == 401  # noqa: S106
    assert_rate_limited(api.get(employee, "/me", token="still-not-a-token"))  # noqa: S106
    # the member's own budget is untouched
    assert api.get(employee, "/me", REMOTE_ADDR="10.0.0.2").status_code == 200


def test_a_credential_that_never_reaches_auth_is_counted_against_the_ip(api, db, tight):
    for _ in range(3):
        response = api.get(None, "/api/no-such-path", HTTP_AUTHORIZATION="Basic Zm9vOmJhcg==")
        assert response.status_code == 404
    assert_rate_limited(api.get(None, "/api/no-such-path", HTTP_AUTHORIZATION="Basic Zm9vOmJhcg=="))


def test_forged_tokens_do_not_spend_their_victims_budget(api, employee, tight):
    forged = jwt.encode(
        {"sub": str(employee.user_id), "type": "access", "ver": 0, "exp": time.time() + 600},
        "another-key-entirely-another-key-entirely",
        algorithm="HS256",
        headers={"kid": "cadence-1"},
    )
    for n in range(5):
        api.get(employee, "/me", token=forged, REMOTE_ADDR=f"10.0.1.{n}")
    for _ in range(3):
        assert api.get(employee, "/me").status_code == 200


def test_login_is_limited_per_email_whatever_the_password(api, db, tight):
    user = UserFactory(email="ada@example.com")
    assert login(api, user.email, "wrong password").status_code == 401
    assert login(api, user.email, "wrong again").status_code == 401
    assert_rate_limited(login(api, "ADA@example.com "))
    assert login(api, "other@example.com", "x", REMOTE_ADDR="10.0.2.1").status_code == 401


def test_login_is_limited_per_ip_across_emails(api, db, tight):
    tight.RATE_LIMIT_ANON = "100/m"
    user = UserFactory(email="bob@example.com")
    from_one_ip = {"REMOTE_ADDR": "10.0.3.1"}
    for n in range(4):
        response = login(api, f"nobody{n}@example.com", "x", **from_one_ip)
        assert response.status_code == 401
    assert_rate_limited(login(api, user.email, **from_one_ip))
    assert login(api, user.email, REMOTE_ADDR="10.0.3.2").status_code == 200


def test_behind_a_trusted_proxy_the_forwarded_address_is_the_client(api, db, tight):
    tight.TRUSTED_PROXY_COUNT = 1
    for _ in range(3):
        api.get(None, "/api/no-such-path", HTTP_X_FORWARDED_FOR="forged, 192.0.2.7")
    assert_rate_limited(
        api.get(None, "/api/no-such-path", HTTP_X_FORWARDED_FOR="another-forgery, 192.0.2.7")
    )
    assert api.get(None, "/api/no-such-path", HTTP_X_FORWARDED_FOR="192.0.2.8").status_code == 404


def test_limits_can_be_switched_off(api, employee, tight):
    tight.RATE_LIMITS_ENABLED = False
    for _ in range(6):
        assert api.get(employee, "/me").status_code == 200
        assert api.get(None, "/api/no-such-path").status_code == 404


def test_limits_fail_open_while_redis_is_unreachable(api, employee, tight):
    tight.CACHES = {
        "default": {
            **tight.CACHES["default"],
            "LOCATION": "redis://127.0.0.1:9/0",  # the discard port: nothing listens
        }
    }
    for _ in range(5):
        assert api.get(employee, "/me").status_code == 200
        assert api.get(None, "/api/no-such-path").status_code == 404


def test_an_unreadable_rate_fails_the_system_check(settings):
    settings.RATE_LIMIT_ANON = "lots"
    with pytest.raises(SystemCheckError, match="RATE_LIMIT_ANON"):
        call_command("check")
