"""The per-process upkeep of open sockets (live.hub.Upkeep) against a real uvicorn: pings come
every `WS_PING_SECONDS` without a task per socket; revocation is tested in test_sockets."""

from __future__ import annotations

import contextlib
import json
import time

import pytest
from websockets.sync.client import connect

from core.tests.servers import process_stop, server_env, uvicorn_start

pytestmark = pytest.mark.usefixtures("transactional_db")


@pytest.fixture(scope="module")
def ws_port(django_db_setup, django_db_blocker):
    server, port = uvicorn_start(server_env(RATE_LIMITS_ENABLED="false", WS_PING_SECONDS="0.5"))
    yield port
    process_stop(server)


def test_every_open_socket_is_pinged(api, admin, employee, ws_port):
    with contextlib.ExitStack() as stack:
        sockets = []
        for member in (admin, employee):
            url = f"ws://127.0.0.1:{ws_port}/ws/org/{member.org.slug}/"
            socket = stack.enter_context(connect(url))
            socket.send(json.dumps({"type": "hello", "token": api.token_for(member.user)}))
            assert json.loads(socket.recv(timeout=5))["type"] == "ready"
            sockets.append(socket)
        started = time.monotonic()
        for socket in sockets:
            assert json.loads(socket.recv(timeout=3)) == {"type": "ping"}
            assert json.loads(socket.recv(timeout=3)) == {"type": "ping"}
        assert time.monotonic() - started < 4
