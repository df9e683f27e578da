"""WebSocket rooms against a real uvicorn, Redis and PostgreSQL (DESIGN.md §10): the protocol,
its close codes, replay then live with no gap or duplicate, visibility, revocation."""

from __future__ import annotations

import json
import time

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from core.tests.servers import process_stop, server_env, uvicorn_start
from goals.models import Goal
from goals.tests.factories import GoalFactory
from orgs.tests.factories import MembershipFactory

pytestmark = pytest.mark.usefixtures("transactional_db")
PERFORMANCE = {
    "type": "performance",
    "metric": "NPS",
    "target": 5,
    "unit": "pt",
    "direction": "increase",
}


@pytest.fixture(scope="module")
def ws_port(django_db_setup, django_db_blocker):
    env = server_env(
        RATE_LIMITS_ENABLED="false",
        WS_HELLO_SECONDS="1",
        WS_REVALIDATE_SECONDS="0.3",
        WS_MAX_PER_USER="3",
    )
    server, port = uvicorn_start(env)
    yield port
    process_stop(server)


class Socket:
    def __init__(self, port: int, slug: str) -> None:
        self._connection = connect(f"ws://127.0.0.1:{port}/ws/org/{slug}/", open_timeout=5)
        self.ws = self._connection.__enter__()

    def hello(self, token: str, after: int | None = None) -> None:
        self.ws.send(json.dumps({"type": "hello", "token": token, "after": after}))

    def next(self, timeout: float = 3) -> dict:
        while True:
            message = json.loads(self.ws.recv(timeout=timeout))
            if message["type"] != "ping":
                return message

    def changes_until_ready(self) -> tuple[list[dict], int]:
        changes = []
        while (message := self.next())["type"] != "ready":
            changes.append(message["change"])
        return changes, message["seq"]

    def silent_for(self, seconds: float) -> bool:
        try:
            message = self.next(timeout=seconds)
        except TimeoutError:
            return True
        raise AssertionError(f"unexpected message {message}")

    def close_code(self, timeout: float = 3) -> int:
        try:
            while True:
                self.ws.recv(timeout=timeout)
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else 1006

    def close(self) -> None:
        self._connection.__exit__(None, None, None)


@pytest.fixture
def sockets(ws_port):
    opened: list[Socket] = []

    def open_socket(member_or_slug) -> Socket:
        slug = getattr(getattr(member_or_slug, "org", None), "slug", member_or_slug)
        socket = Socket(ws_port, slug)
        opened.append(socket)
        return socket

    yield open_socket
    for socket in opened:
        socket.close()


def _ready(sockets, api, member, after=None) -> Socket:
    socket = sockets(member)
    socket.hello(api.token_for(member.user), after)
    changes, _ = socket.changes_until_ready()
    assert changes == [] or after is not None
    return socket


def _create_goal(api, member, period, title="Grow"):
    body = {"period_id": period.pk, "category": "performance", "title": title, "weight": 10,
            "target_data": PERFORMANCE}  # fmt: skip
    response = api.post(member, "/goals", body)
    assert response.status_code == 201, response.content
    return response.json()["id"]


def test_hello_ready_then_each_write_arrives_live(api, sockets, employee, period):
    socket = sockets(employee)
    socket.hello(api.token_for(employee.user))
    assert socket.next() == {"type": "ready", "seq": 0}

    goal_id = _create_goal(api, employee, period)

    message = socket.next()
    assert message["type"] == "change"
    change = message["change"]
    assert set(change) == {"seq", "type", "entity_type", "entity_id", "actor_id", "fields", "at"}
    assert (change["seq"], change["type"], change["entity_id"]) == (1, "goal.created", goal_id)
    assert change["actor_id"] == employee.pk


def test_replay_then_live_with_no_gap_and_no_duplicate(api, sockets, admin, period):
    for n in range(3):
        _create_goal(api, admin, period, title=f"Before {n}")
    socket = sockets(admin)
    socket.hello(api.token_for(admin.user), after=1)

    replayed, ready = socket.changes_until_ready()
    _create_goal(api, admin, period, title="After")
    live = socket.next()["change"]

    assert [c["seq"] for c in replayed] == [2, 3]
    assert ready == 3
    assert live["seq"] == 4
    assert socket.silent_for(0.5)


def test_each_socket_receives_only_what_its_member_could_read(
    api, sockets, admin, manager, employee, period, outsider
):
    other = MembershipFactory(org=admin.org, role="employee")
    watching = {m: _ready(sockets, api, m) for m in (admin, manager, employee, other)}
    foreign = _ready(sockets, api, outsider)

    employee_goal = _create_goal(api, employee, period, "Employee's")
    other_goal = _create_goal(api, other, period, "Other's")

    def received(member, count):
        return [watching[member].next()["change"]["entity_id"] for _ in range(count)]

    assert received(admin, 2) == [employee_goal, other_goal]
    assert received(manager, 1) == [employee_goal]  # a direct report's goal
    assert received(employee, 1) == [employee_goal]
    assert received(other, 1) == [other_goal]
    for socket in (watching[manager], watching[employee], watching[other], foreign):
        assert socket.silent_for(0.4)


def test_a_draft_feedback_never_reaches_the_owner(api, sockets, manager, employee, period):
    goal = GoalFactory(owner=employee, status=Goal.Status.APPROVED)
    owner, reviewer = _ready(sockets, api, employee), _ready(sockets, api, manager)

    api.put(manager, f"/goals/{goal.pk}/feedback", {"rating": 4, "status": "draft"})
    api.put(manager, f"/goals/{goal.pk}/feedback", {"rating": 4, "status": "published"})

    assert [reviewer.next()["change"]["type"] for _ in range(2)] == [
        "feedback.saved",
        "feedback.published",
    ]
    assert owner.next()["change"]["type"] == "feedback.published"


def test_a_write_that_fails_sends_nothing(api, sockets, admin, department):
    socket = _ready(sockets, api, admin)
    assert api.post(admin, "/departments", {"name": department.name}).status_code == 409
    assert socket.silent_for(0.6)


@pytest.mark.parametrize(
    ("slug", "hello", "code"),
    [
        ("{org}", {"type": "hello", "token": "not-a-jwt", "after": None}, 4401),
        ("no-such-org", {"type": "hello", "token": "not-a-jwt", "after": None}, 4401),
        ("no-such-org", "valid", 4404),
        ("{other}", "valid", 4404),  # an org the caller is not a member of
        ("{org}", {"type": "subscribe"}, 4401),
        ("{org}", {"type": "hello", "token": "valid", "after": "x"}, 4410),
    ],
)
def test_the_close_codes_after_the_hello(api, sockets, employee, other_org, slug, hello, code):
    socket = sockets(slug.format(org=employee.org.slug, other=other_org.slug))
    token = api.token_for(employee.user)
    if hello == "valid":
        hello = {"type": "hello", "token": token, "after": None}
    elif hello.get("token") == "valid":
        hello = {**hello, "token": token}
    socket.ws.send(json.dumps(hello))
    assert socket.close_code() == code


def test_no_hello_in_time_is_4408(sockets, employee):
    socket = sockets(employee)
    started = time.monotonic()
    assert socket.close_code(timeout=5) == 4408
    assert 0.8 < time.monotonic() - started < 3


def test_a_cursor_behind_the_retention_is_4410(api, sockets, admin, period):
    _create_goal(api, admin, period)
    socket = sockets(admin)
    socket.hello(api.token_for(admin.user), after=50)  # ahead of the head: not this org's
    assert socket.close_code() == 4410


def test_more_sockets_than_allowed_per_user_is_4429(api, sockets, employee):
    for _ in range(3):  # WS_MAX_PER_USER=3 for this server
        _ready(sockets, api, employee)
    extra = sockets(employee)
    extra.hello(api.token_for(employee.user))
    assert extra.close_code() == 4429


def test_logout_closes_open_sockets_within_a_second(api, sockets, employee):
    socket = _ready(sockets, api, employee)
    assert api.post(employee.user, "/api/auth/logout").status_code == 204
    started = time.monotonic()
    assert socket.close_code() == 4401
    assert time.monotonic() - started < 1.5


def test_a_deactivated_member_is_closed_and_a_role_change_takes_effect(
    api, sockets, admin, manager, employee, period
):
    employee_socket = _ready(sockets, api, employee)
    manager_socket = _ready(sockets, api, manager)
    other = MembershipFactory(org=admin.org, role="employee")

    assert api.patch(admin, f"/members/{manager.pk}", {"role": "admin"}).status_code == 200
    manager_socket.next()  # the member change itself (managers read members)
    time.sleep(0.8)  # revalidation picks up the new role
    goal = _create_goal(api, other, period, "Not a report's")
    assert manager_socket.next()["change"]["entity_id"] == goal  # an admin now sees all

    assert api.patch(admin, f"/members/{employee.pk}", {"is_active": False}).status_code == 200
    assert employee_socket.close_code() == 4404
