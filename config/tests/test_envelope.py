"""One error envelope for every error under /api/, request ids and Server-Timing (DESIGN.md §4)."""

from __future__ import annotations

import re

import pytest

from config.tests.urls_crash import CRASH_SECRET

SERVER_TIMING = re.compile(
    r'^app;dur=\d+\.\d, db;dur=\d+\.\d;desc="\d+ queries", cache;dur=\d+\.\d;desc="\d+ calls"$'
)


def _assert_envelope(response, status: int, error: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error", "message", "details", "request_id"}
    assert body["error"] == error
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["details"], list)
    assert body["request_id"] == response["X-Request-ID"]
    return body


def test_a_missing_token_is_a_401_envelope(api, db):
    _assert_envelope(api.get(None, "/api/auth/me"), 401, "unauthorized")


def test_an_unknown_api_path_without_a_token_is_a_404_envelope(api, db):
    body = _assert_envelope(api.get(None, "/api/no/such/path"), 404, "not_found")
    assert body["details"] == []


def test_a_wrong_method_is_a_405_envelope_with_allow(api, db):
    response = api.get(None, "/api/auth/login")
    _assert_envelope(response, 405, "method_not_allowed")
    assert "POST" in response["Allow"]


def test_a_validation_error_is_a_422_envelope_with_a_source_and_field_loc(api, db):
    response = api.post(None, "/api/auth/login", {"password": "x"})
    body = _assert_envelope(response, 422, "validation_error")
    assert [d["loc"] for d in body["details"]] == [["body", "email"]]
    assert body["details"][0]["msg"]


def test_an_extra_field_is_a_422_with_its_loc(api, db):
    response = api.post(
        None, "/api/auth/login", {"email": "a@example.test", "password": "x", "org_id": 1}
    )
    body = _assert_envelope(response, 422, "validation_error")
    assert [d["loc"] for d in body["details"]] == [["body", "org_id"]]


def test_malformed_json_is_a_400_envelope(api, db):
    response = api.post(None, "/api/auth/login", '{"email": "a@example.test", ')
    _assert_envelope(response, 400, "bad_request")


@pytest.mark.urls("config.tests.urls_crash")
def test_a_crash_is_a_500_envelope_without_internals_even_with_debug(api, db, settings):
    settings.DEBUG = True

    response = api.get(None, "/api/test-crash", HTTP_X_REQUEST_ID="crash-1")

    body = _assert_envelope(response, 500, "internal_error")
    assert body["request_id"] == "crash-1"
    text = response.content.decode()
    assert CRASH_SECRET not in text
    assert "Traceback" not in text
    assert "RuntimeError" not in text
    assert SERVER_TIMING.match(response["Server-Timing"])


def test_a_valid_incoming_request_id_is_echoed(api, db):
    request_id = "abc.DEF_123-" + "x" * 52  # 64 characters
    response = api.get(None, "/api/auth/me", HTTP_X_REQUEST_ID=request_id)

    assert response["X-Request-ID"] == request_id
    assert response.json()["request_id"] == request_id


@pytest.mark.parametrize("incoming", ["x" * 65, "has spaces", "semi;colon", ""])
def test_an_invalid_incoming_request_id_is_replaced(api, db, incoming):
    response = api.get(None, "/api/auth/me", HTTP_X_REQUEST_ID=incoming)

    assert response["X-Request-ID"] != incoming
    assert re.fullmatch(r"[A-Za-z0-9._-]{1,64}", response["X-Request-ID"])
    assert response.json()["request_id"] == response["X-Request-ID"]


def test_two_requests_without_an_id_get_different_ids(api, db):
    first = api.get(None, "/health/live")["X-Request-ID"]
    second = api.get(None, "/health/live")["X-Request-ID"]
    assert first != second


def test_health_live_carries_server_timing(api, db):
    response = api.get(None, "/health/live")

    assert response.status_code == 200
    assert SERVER_TIMING.match(response["Server-Timing"]), response["Server-Timing"]


def test_server_timing_counts_the_queries_and_cache_calls_of_the_request(api, employee):
    api.get(employee, "/me")
    response = api.get(employee, "/me")
    assert SERVER_TIMING.match(response["Server-Timing"])
    assert 'desc="0 queries"' in response["Server-Timing"]
    assert 'desc="1 calls"' in response["Server-Timing"]


def test_health_reports_ok_with_latencies(api, db):
    response = api.get(None, "/health")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"status", "app_name", "version", "checks"}
    assert body["status"] == "ok"
    assert isinstance(body["app_name"], str) and isinstance(body["version"], str)
    assert set(body["checks"]) == {"database", "cache", "queue", "channel_layer"}
    extras = {
        # The job queue (jobs.monitoring) also tells its depth, oldest job's age and workers;
        # the channel layer (live.health) its backend.
        "queue": {"depth", "oldest_queued_age_s", "workers"},
        "channel_layer": {"backend"},
    }
    for name, check in body["checks"].items():
        extra = extras.get(name, set())
        assert set(check) == {"status", "latency_ms"} | extra
        assert check["status"] == "ok"
        assert isinstance(check["latency_ms"], int | float) and check["latency_ms"] >= 0
    assert SERVER_TIMING.match(response["Server-Timing"])
