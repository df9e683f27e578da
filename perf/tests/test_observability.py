"""What perf.middleware reports per request, read where operators read it: /metrics (every
django-prometheus metric and Cadence's, counted exactly once per request) and the log line."""

from __future__ import annotations

import io
import logging

import orjson
import pytest
from django.urls import resolve
from prometheus_client.parser import text_string_to_metric_families

from perf.instrumentation import JsonLineFormatter

FLOOR = "/api/perf/floor"


def scrape(client) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1")
    assert response.status_code == 200
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def delta(before, after, name: str, **labels: str) -> float:
    key = (name, tuple(sorted(labels.items())))
    return after.get(key, 0.0) - before.get(key, 0.0)


def test_each_request_counts_once_in_every_request_metric(client, db):
    view = resolve(FLOOR).view_name
    before = scrape(client)
    for _ in range(3):
        assert client.get(FLOOR).status_code == 200
    after = scrape(client)

    by_view = {"view": view, "method": "GET"}
    assert delta(before, after, "django_http_requests_total_by_view_transport_method_total",
                 transport="http", **by_view) == 3  # fmt: skip
    assert delta(before, after, "django_http_responses_total_by_status_view_method_total",
                 status="200", **by_view) == 3  # fmt: skip
    assert delta(before, after, "django_http_requests_latency_seconds_by_view_method_count",
                 **by_view) == 3  # fmt: skip
    floor_route = {"method": "GET", "route": "api/perf/floor"}
    assert delta(before, after, "cadence_request_latency_seconds_count", **floor_route) == 3
    assert delta(before, after, "cadence_request_sql_queries_sum", **floor_route) == 3
    assert delta(before, after, "cadence_request_sql_queries_bucket", le="1.0", **floor_route) == 3
    assert delta(before, after, "cadence_request_sql_queries_bucket", le="0.0", **floor_route) == 0
    # The unlabelled and coarse ones also count the first scrape, answered after its body.
    for name, labels in [
        ("django_http_requests_before_middlewares_total", {}),
        ("django_http_responses_before_middlewares_total", {}),
        ("django_http_requests_latency_including_middlewares_seconds_count", {}),
        ("django_http_requests_total_by_method_total", {"method": "GET"}),
        ("django_http_requests_total_by_transport_total", {"transport": "http"}),
        ("django_http_responses_total_by_status_total", {"status": "200"}),
        ("django_http_responses_total_by_charset_total", {"charset": "utf-8"}),
        ("django_http_requests_body_total_bytes_count", {}),
        ("django_http_responses_body_total_bytes_count", {}),
    ]:
        assert delta(before, after, name, **labels) == 4, name


def test_an_unmatched_path_and_an_unknown_method_are_labelled_as_before(client, db):
    before = scrape(client)
    assert client.get("/api/no-such-path").status_code == 404
    assert client.generic("BREW", FLOOR).status_code == 405
    after = scrape(client)

    unmatched = {"method": "GET", "route": "unmatched"}
    assert delta(before, after, "cadence_request_latency_seconds_count", **unmatched) == 1
    assert delta(before, after, "django_http_requests_total_by_method_total",
                 method="<invalid method>") == 1  # fmt: skip
    assert delta(before, after, "django_http_responses_total_by_status_total", status="404") == 1


@pytest.mark.urls("config.tests.urls_crash")
def test_a_view_exception_is_counted_by_type_and_view(client, db):
    view = resolve("/api/test-crash").view_name
    before = scrape(client)
    assert client.get("/api/test-crash").status_code == 500
    after = scrape(client)

    assert delta(before, after, "django_http_exceptions_total_by_type_total",
                 type="RuntimeError") == 1  # fmt: skip
    assert delta(before, after, "django_http_exceptions_total_by_view_total", view=view) == 1


def configured_formatter() -> JsonLineFormatter:
    """The formatter of LOGGING's console handler (config.settings)."""
    return next(
        handler.formatter
        for handler in logging.getLogger().handlers
        if isinstance(handler.formatter, JsonLineFormatter)
    )


def test_the_request_line_is_one_json_object_with_every_field(client, db, caplog):
    with caplog.at_level("INFO", logger="cadence.request"):
        response = client.get(FLOOR, HTTP_X_REQUEST_ID="line-1")
    (record,) = [r for r in caplog.records if r.name == "cadence.request"]

    line = orjson.loads(configured_formatter().format(record))
    assert line["request_id"] == "line-1" == response["X-Request-ID"]
    assert line["trace_id"] == response["traceparent"].split("-")[1]
    assert {key: line[key] for key in ("event", "method", "route", "status", "db_queries")} == {
        "event": "request", "method": "GET", "route": "api/perf/floor", "status": 200,
        "db_queries": 1,
    }  # fmt: skip
    assert set(line) >= {"duration_ms", "db_ms", "cache_calls", "cache_ms", "level", "logger",
                         "timestamp"}  # fmt: skip
    assert line["timestamp"].endswith("Z")


def test_other_log_lines_still_go_through_structlog():
    record = logging.LogRecord("cadence.other", logging.WARNING, __file__, 1, "plain %s", ("x",),
                               None)  # fmt: skip
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(configured_formatter())
    handler.handle(record)

    assert orjson.loads(stream.getvalue())["event"] == "plain x"
