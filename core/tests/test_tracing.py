"""W3C trace context on every response and in the logs; spans over OTLP when configured;
errors to Sentry without bodies, tokens or cookies (DESIGN.md §12)."""

from __future__ import annotations

import gzip
import json
import re
import threading
import time
import urllib.error
import urllib.request
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from core.tests.servers import free_port, gunicorn_start, process_stop, server_env

TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
INCOMING = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def _parts(response) -> tuple[str, str, str]:
    match = TRACEPARENT.fullmatch(response["traceparent"])
    assert match, response["traceparent"]
    return match[1], match[2], match[3]


def test_an_incoming_trace_is_continued_under_a_new_span(api, employee):
    response = api.get(employee, "/me", HTTP_TRACEPARENT=INCOMING)

    trace_id, span_id, flags = _parts(response)
    assert trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert span_id != "00f067aa0ba902b7"
    assert flags == "01"


@pytest.mark.parametrize(
    "incoming",
    [
        None,
        "garbage",
        "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  # unknown version
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  # all-zero trace id
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  # all-zero parent
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",  # upper case
    ],
)
def test_a_missing_or_invalid_trace_starts_a_new_one(api, employee, incoming):
    headers = {"HTTP_TRACEPARENT": incoming} if incoming else {}
    first = _parts(api.get(employee, "/me", **headers))
    second = _parts(api.get(employee, "/me", **headers))

    assert first[0] != "4bf92f3577b34da6a3ce929d0e0e4736"
    assert first[0] != second[0]  # each request its own trace


def test_every_response_carries_a_traceparent_errors_included(api, admin, settings):
    settings.MAX_BODY_BYTES = 10
    responses = [
        api.get(None, "/api/no-such-path"),  # 404 from routing
        api.get(None, "/api/auth/me"),  # 401
        api.get(admin, "/members?limit=999"),  # 422
        api.post(admin, "/departments", {"name": "x" * 50}),  # 413
        api.get(None, "/health/live"),
    ]
    for response in responses:
        assert TRACEPARENT.fullmatch(response["traceparent"]), response.status_code


def test_the_log_line_carries_the_trace_id(api, employee, caplog):
    with caplog.at_level("INFO", logger="cadence.request"):
        response = api.get(employee, "/me", HTTP_TRACEPARENT=INCOMING)

    assert response.status_code == 200
    (line,) = [r.msg for r in caplog.records if r.name == "cadence.request"]
    assert line["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert line["request_id"] == response["X-Request-ID"]


# --- collectors on 127.0.0.1 ---------------------------------------------------------------


class Receiver:
    """A local HTTP endpoint that keeps what is POSTed to it."""

    def __init__(self) -> None:
        self.bodies: list[tuple[str, bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                encoding = self.headers.get("Content-Encoding", "")
                if encoding == "gzip":
                    body = gzip.decompress(body)
                elif encoding == "deflate":
                    body = zlib.decompress(body)
                elif encoding == "br":  # sentry-sdk's choice when brotli is installed
                    import brotli

                    body = brotli.decompress(body)
                receiver.bodies.append((self.path, body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.port = free_port()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, predicate, seconds: float = 15) -> list[tuple[str, bytes]]:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if any(predicate(path, body) for path, body in self.bodies):
                return self.bodies
            time.sleep(0.1)
        raise AssertionError(f"nothing matching arrived; got {[p for p, _ in self.bodies]}")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    collector = Receiver()
    yield collector
    collector.close()


def _get(port: int, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str]]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers)


@pytest.mark.usefixtures("transactional_db")
def test_spans_of_the_request_its_sql_and_redis_reach_an_otlp_collector(
    django_db_setup, receiver, api, employee
):
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    env = server_env(
        OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{receiver.port}",
        OTEL_BSP_SCHEDULE_DELAY="100",
        OTEL_SERVICE_NAME="cadence-test",
    )
    server, port = gunicorn_start(env)
    try:
        token = api.token_for(employee.user)
        status, headers = _get(
            port,
            f"/api/org/{employee.org.slug}/members",  # 403 for an employee: auth, tenancy, SQL
            {"Authorization": f"Bearer {token}", "traceparent": INCOMING},
        )
        assert TRACEPARENT.fullmatch(headers["traceparent"])
        assert headers["traceparent"].split("-")[1] == "4bf92f3577b34da6a3ce929d0e0e4736"

        wanted = bytes.fromhex("4bf92f3577b34da6a3ce929d0e0e4736")
        receiver.wait(lambda path, body: path == "/v1/traces" and wanted in body)
    finally:
        process_stop(server)

    spans = []
    for path, body in receiver.bodies:
        if path != "/v1/traces":
            continue
        export = ExportTraceServiceRequest()
        export.ParseFromString(body)
        for resource_spans in export.resource_spans:
            for scope_spans in resource_spans.scope_spans:
                spans += [
                    (scope_spans.scope.name, span)
                    for span in scope_spans.spans
                    if span.trace_id == wanted
                ]
    scopes = {scope for scope, _ in spans}
    assert any("django" in scope for scope in scopes), scopes
    assert any("redis" in scope for scope in scopes), scopes
    server_span = next(span for scope, span in spans if "django" in scope)
    assert server_span.parent_span_id == bytes.fromhex("00f067aa0ba902b7")
    assert f"{server_span.span_id.hex()}" == headers["traceparent"].split("-")[2]


@pytest.mark.usefixtures("transactional_db")
def test_errors_reach_sentry_without_bodies_tokens_or_cookies(
    django_db_setup, receiver, api, admin
):
    env = server_env(
        SENTRY_DSN=f"http://publickey@127.0.0.1:{receiver.port}/1",
        ROOT_URLCONF="config.tests.urls_crash",  # the real URLs plus routes that crash
    )
    server, port = gunicorn_start(env)
    try:
        token = api.token_for(admin.user)
        request = urllib.request.Request(  # noqa: S310
            f"http://127.0.0.1:{port}/api/test-crash?q=query-secret",
            data=json.dumps({"password": "body-secret"}).encode(),
            headers={
                "Authorization": f"Bearer {token}",
                "Cookie": "sessionid=cookie-secret",
                "Content-Type": "application/json",
            },
            method="GET",  # a plain Django view: a POST would meet CSRF first
        )
        with pytest.raises(urllib.error.HTTPError) as failed:
            urllib.request.urlopen(request, timeout=10)  # noqa: S310
        assert failed.value.code == 500
        receiver.wait(lambda path, body: b"RuntimeError" in body)
    finally:
        process_stop(server)

    sent = b"".join(body for _, body in receiver.bodies)
    assert b"/api/test-crash" in sent  # the request is described…
    for secret in (token.encode(), b"body-secret", b"cookie-secret", b"query-secret"):
        assert secret not in sent, secret  # …without what is the user's
