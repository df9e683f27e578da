"""Resume is exact under concurrent writers (DESIGN.md §10): for random interleavings of
writers in several processes, what a socket receives (replay from N, then live) and what the
feed returns page by page equal the log after N, in seq order, each change once."""

from __future__ import annotations

import json
import threading
import urllib.request
import uuid

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from core.tests.servers import gunicorn_start, process_stop, server_env, uvicorn_start
from live.tests.test_sockets import Socket
from orgs.models import Change

pytestmark = pytest.mark.usefixtures("transactional_db")
WRITERS = 4  # gunicorn workers: the writes are published by different processes


@pytest.fixture(scope="module")
def servers(django_db_setup):
    env = server_env(RATE_LIMITS_ENABLED="false")
    http, http_port = gunicorn_start(env, workers=WRITERS, preload=True)
    ws, ws_port = uvicorn_start(env)
    yield http_port, ws_port
    process_stop(http)
    process_stop(ws)


def _department(port: int, slug: str, token: str) -> int:
    request = urllib.request.Request(  # noqa: S310
        f"http://127.0.0.1:{port}/api/org/{slug}/departments",
        data=json.dumps({"name": f"D-{uuid.uuid4().hex[:12]}"}).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        return response.status


@hypothesis_settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    before=st.integers(min_value=0, max_value=4),
    writers=st.integers(min_value=2, max_value=WRITERS),
    writes=st.integers(min_value=1, max_value=6),
    resume_at=st.floats(min_value=0, max_value=1),
)
def test_replay_plus_live_and_the_feed_equal_the_log_after_n(
    servers, api, admin, before, writers, writes, resume_at
):
    http_port, ws_port = servers
    slug, token = admin.org.slug, api.token_for(admin.user)
    for _ in range(before):
        assert _department(http_port, slug, token) == 201
    head = Change.objects.filter(org=admin.org).count()
    after = round(head * resume_at)

    socket = Socket(ws_port, slug)
    try:
        socket.hello(token, after)
        barrier = threading.Barrier(writers)
        statuses: list[int] = []

        def write() -> None:
            barrier.wait(timeout=30)
            statuses.extend(_department(http_port, slug, token) for _ in range(writes))

        threads = [threading.Thread(target=write) for _ in range(writers)]
        for thread in threads:
            thread.start()
        received, ready = socket.changes_until_ready()
        for thread in threads:
            thread.join(timeout=60)
        assert statuses == [201] * (writers * writes)
        final = Change.objects.filter(org=admin.org).order_by("seq")
        log = [change.seq for change in final if change.seq > after]
        while len(received) < len(log):
            received.append(socket.next(timeout=5)["change"])
        assert socket.silent_for(0.3)  # nothing more: each change once
    finally:
        socket.close()

    assert after <= ready <= log[-1]
    assert [change["seq"] for change in received] == log

    paged, position = [], after
    while True:
        page = api.get(admin, "/changes", params={"after": position, "limit": 3}).json()
        paged += [item["seq"] for item in page["items"]]
        if page["last_seq"] == position:
            break
        position = page["last_seq"]
    assert paged == log
