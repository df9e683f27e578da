"""What a server process's sockets share (live.hub) against a real uvicorn, Redis and
PostgreSQL: pings come every `WS_PING_SECONDS` without a task per socket (revocation is tested
in test_sockets); a change whose tick came but whose content was lost is read from the log."""

from __future__ import annotations

import contextlib
import json
import time
import urllib.request

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.cache import cache
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from core.tests.servers import process_stop, server_env, uvicorn_start
from live.publisher import TICK_MESSAGE, changes_publish
from live.rooms import rooms_of, seq_room
from orgs.cache import org_slug_key
from orgs.changes import changes_committed
from orgs.tests.factories import MembershipFactory

PERFORMANCE = {"type": "performance", "metric": "NPS", "target": 5, "unit": "pt",
               "direction": "increase"}  # fmt: skip

pytestmark = pytest.mark.usefixtures("transactional_db")


@pytest.fixture(scope="module")
def ws_port(django_db_setup, django_db_blocker):
    env = server_env(RATE_LIMITS_ENABLED="false", WS_PING_SECONDS="0.5", WS_GAP_SECONDS="0.5")
    server, port = uvicorn_start(env)
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


def _next_change(socket, *, deadline: float) -> dict:
    while (left := deadline - time.monotonic()) > 0:
        message = json.loads(socket.recv(timeout=left))
        if message["type"] == "change":
            return message["change"]
    raise TimeoutError("no change before the deadline")


@pytest.fixture
def contents_lost():
    """Commits publish nothing (the live publisher is disconnected in this process): the test
    sends the ticks itself, as if the contents were lost on the way (pub/sub is at most once)."""
    changes_committed.disconnect(dispatch_uid="live.changes_publish")
    yield
    changes_committed.connect(changes_publish, dispatch_uid="live.changes_publish")


def test_a_change_whose_content_is_lost_is_read_from_the_log(
    api, admin, period, ws_port, contents_lost
):
    with connect(f"ws://127.0.0.1:{ws_port}/ws/org/{admin.org.slug}/") as socket:
        socket.send(json.dumps({"type": "hello", "token": api.token_for(admin.user)}))
        head = json.loads(socket.recv(timeout=5))["seq"]
        body = {"period_id": period.pk, "category": "performance", "title": "Lost",
                "weight": 10, "target_data": PERFORMANCE}  # fmt: skip
        goal = api.post(admin, "/goals", body).json()
        rooms = rooms_of(org_id=admin.org_id, member_id=admin.pk, role=admin.role)
        tick = {"type": TICK_MESSAGE, "seq": head + 1, "rooms": rooms}
        async_to_sync(get_channel_layer().group_send)(seq_room(admin.org_id), tick)
        started = time.monotonic()

        change = _next_change(socket, deadline=started + 3)
    assert (change["seq"], change["type"], change["entity_id"]) == (
        head + 1,
        "goal.created",
        goal["id"],
    )
    assert 0.4 < time.monotonic() - started < 3  # after WS_GAP_SECONDS, from the log


def _membership_checks(port: int) -> float:
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()  # noqa: S310
    for line in body.splitlines():
        if line.startswith("cadence_live_membership_checks_total "):
            return float(line.split()[1])
    return 0.0


def _open(stack: contextlib.ExitStack, api, member, port: int):
    socket = stack.enter_context(connect(f"ws://127.0.0.1:{port}/ws/org/{member.org.slug}/"))
    socket.send(json.dumps({"type": "hello", "token": api.token_for(member.user)}))
    assert json.loads(socket.recv(timeout=5))["type"] == "ready"
    return socket


def test_an_expired_org_entry_costs_one_membership_check_not_one_per_socket(api, org, ws_port):
    members = MembershipFactory.create_batch(8, org=org, role="employee")
    with contextlib.ExitStack() as stack:
        sockets = [_open(stack, api, member, ws_port) for member in members]
        time.sleep(2.5)  # every socket's first verdict taken
        before = _membership_checks(ws_port)
        cache.delete(org_slug_key(org.slug))  # as its expiry does (ORG_TTL)
        time.sleep(2.5)
        checks = _membership_checks(ws_port) - before
        for socket in sockets:  # all still open: pinged
            assert json.loads(socket.recv(timeout=3)) == {"type": "ping"}
    assert checks == 1, checks  # one socket's check stored the entry again; 8 before


def test_a_deactivated_org_closes_every_socket_in_the_same_round(api, org, ws_port):
    members = MembershipFactory.create_batch(4, org=org, role="employee")
    with contextlib.ExitStack() as stack:
        sockets = [_open(stack, api, member, ws_port) for member in members]
        time.sleep(1.5)
        org.is_active = False
        org.save()  # the org's entry is deleted on commit (orgs.signals)
        started = time.monotonic()
        for socket in sockets:
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    socket.recv(timeout=3)
            assert closed.value.rcvd.code == 4404
        assert time.monotonic() - started < 2
