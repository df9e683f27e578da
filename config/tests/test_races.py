"""Races: identical writes released at the same moment against a real gunicorn (several sync
workers) on the test database. Each race ends in one winner and clear 4xx for the others, never
a 5xx, and the data read back afterwards says so (DESIGN.md §4, "Hostile input, fixed").

The rows are committed (`transactional_db`) so the server's processes see them; each test
makes its own orgs, and the suite's cache flush before each test empties the server's cache
too (same key prefix). Where one pair of requests could miss each other, a test races several
independent pairs at once, so the interleaving it is about all but surely happens in
every run (the last-admin tests assert that it did).
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass
from typing import Any

import pytest

from core.tests.servers import gunicorn_start, process_stop, server_env
from evaluations.models import SelfAssessment
from goals.models import Goal
from goals.services._common import GOAL_NOT_SUBMITTED, WEIGHT_BUDGET
from goals.tests.factories import GoalFactory, PeriodFactory
from orgs.models import AuditEvent, Membership
from orgs.services.members import ALREADY_MEMBER, LAST_ADMIN
from orgs.tests.factories import MembershipFactory, OrganizationFactory
from users.models import RefreshToken, User
from users.services import auth_login
from users.tests.factories import TEST_PASSWORD
from users.tokens import access_token_encode

WORKERS = 10  # sync workers, one per racing request: none waits for a free worker
ADMIN, MANAGER, EMPLOYEE = Membership.Role.ADMIN, Membership.Role.MANAGER, Membership.Role.EMPLOYEE

pytestmark = pytest.mark.usefixtures("transactional_db")


@dataclass
class Reply:
    status: int
    body: Any


class Server:
    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"

    def call(self, method: str, path: str, data: Any = None, token: str | None = None) -> Reply:
        body = None if data is None else json.dumps(data).encode()
        request = urllib.request.Request(self.base + path, data=body, method=method)  # noqa: S310
        request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
        try:
            return Reply(status, json.loads(raw or b"null"))
        except ValueError:
            return Reply(status, raw.decode(errors="replace"))

    def race(self, calls: list[tuple[str, str, Any, str | None]]) -> list[Reply]:
        """Every call on its own thread, all released at once by a barrier; replies in order.
        No reply is a 5xx (asserted here, so every race checks it)."""
        barrier = threading.Barrier(len(calls))
        replies: list[Reply | BaseException | None] = [None] * len(calls)

        def run(i: int, call: tuple[str, str, Any, str | None]) -> None:
            try:
                barrier.wait(timeout=30)
                replies[i] = self.call(*call)
            except BaseException as exc:  # noqa: BLE001 - reported by the main thread
                replies[i] = exc

        threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        failed = [r for r in replies if not isinstance(r, Reply)]
        assert not failed, failed
        server_errors = [(r.status, r.body) for r in replies if r.status >= 500]
        assert not server_errors, server_errors
        return replies  # type: ignore[return-value]


@pytest.fixture(scope="module")
def server(django_db_setup):
    env = server_env(RATE_LIMITS_ENABLED="false")
    process, port = gunicorn_start(env, workers=WORKERS, preload=True)
    try:
        server = Server(port)
        for _ in range(2):  # every worker with a database connection in its pool
            server.race([("GET", "/health", None, None)] * (2 * WORKERS))
        yield server
    finally:
        process_stop(process)


_tokens: dict[tuple[int, int], str] = {}


def token(member: Membership | User) -> str:
    """One token per user and version, so the server's verified-token cache, once warm,
    serves every request of a race (a token minted a second later would be a new key)."""
    user = member.user if isinstance(member, Membership) else member
    key = (user.pk, user.token_version)
    if key not in _tokens:
        _tokens[key] = access_token_encode(user_id=user.pk, version=user.token_version)
    return _tokens[key]


def warm(server: Server, *members: Membership) -> None:
    """Token, org and membership cached: the racing requests reach the service within a
    millisecond or so of each other, instead of spreading out over cold-cache SQL."""
    for member in members:
        assert server.call("GET", org_path(member, "/me"), token=token(member)).status == 200


def org_path(member: Membership, path: str) -> str:
    return f"/api/org/{member.org.slug}{path}"


def statuses(replies: list[Reply]) -> Counter:
    return Counter(reply.status for reply in replies)


# --- bulk create: the same new email ---------------------------------------------------------


def _bulk_call(admin: Membership, email: str) -> tuple[str, str, Any, str]:
    row = {"email": email, "full_name": "Race Winner", "role": "employee"}
    return ("POST", org_path(admin, "/members/bulk"), {"members": [row]}, token(admin))


def test_one_new_email_bulk_created_ten_times_in_one_org_is_one_201_and_nine_409s(server):
    admin = MembershipFactory(role=ADMIN)
    email = "same-org@race.example"
    warm(server, admin)

    replies = server.race([_bulk_call(admin, email)] * 10)

    assert statuses(replies) == {201: 1, 409: 9}, [(r.status, r.body) for r in replies]
    for reply in replies:
        if reply.status == 409:
            assert reply.body["message"] == ALREADY_MEMBER, reply.body
            assert reply.body["details"] == [
                {"loc": ["body", "members", 0, "email"], "msg": ALREADY_MEMBER}
            ]
    assert User.objects.filter(email=email).count() == 1
    assert Membership.objects.filter(org=admin.org, user__email=email).count() == 1
    assert AuditEvent.objects.filter(org=admin.org, action="member.create").count() == 1


def test_one_new_email_bulk_created_into_two_orgs_at_once_is_one_user_with_two_memberships(
    server,
):
    first, second = MembershipFactory(role=ADMIN), MembershipFactory(role=ADMIN)
    emails = [f"two-orgs-{n}@race.example" for n in range(5)]  # five races in one round
    warm(server, first, second)

    replies = server.race(
        [_bulk_call(admin, email) for email in emails for admin in (first, second)]
    )

    assert statuses(replies) == {201: 10}, [(r.status, r.body) for r in replies]
    for n, email in enumerate(emails):
        user = User.objects.get(email=email)  # exactly one
        assert user.full_name == "Race Winner"
        orgs = Membership.objects.filter(user=user).values_list("org_id", flat=True)
        assert sorted(orgs) == sorted([first.org_id, second.org_id])
        items = [replies[2 * n].body["items"][0], replies[2 * n + 1].body["items"][0]]
        assert {item["user_id"] for item in items} == {user.pk}
        assert {item["full_name"] for item in items} == {"Race Winner"}


# --- the same goal -----------------------------------------------------------------------------


def test_ten_self_assessment_puts_on_one_goal_all_succeed_with_one_row(server):
    owner = MembershipFactory(role=EMPLOYEE)
    goal = GoalFactory(owner=owner, status=Goal.Status.APPROVED)
    call = (
        "PUT",
        org_path(owner, f"/goals/{goal.pk}/self-assessment"),
        {"rating": 4, "comment": "Went well.", "status": "draft"},
        token(owner),
    )
    warm(server, owner)

    replies = server.race([call] * 10)

    assert statuses(replies) == {200: 10}, [(r.status, r.body) for r in replies]
    assert SelfAssessment.objects.filter(goal=goal).count() == 1
    assert {reply.body["id"] for reply in replies} == {SelfAssessment.objects.get(goal=goal).pk}
    actions = Counter(
        AuditEvent.objects.filter(entity_type="self_assessment").values_list("action", flat=True)
    )
    assert actions == {"self_assessment.create": 1, "self_assessment.update": 9}


def test_approve_and_reject_of_one_submitted_goal_at_once_have_one_winner(server):
    org = OrganizationFactory()
    admin = MembershipFactory(org=org, role=ADMIN)
    manager = MembershipFactory(org=org, role=MANAGER)
    period = PeriodFactory(org=org)
    goals = [
        GoalFactory(
            owner=MembershipFactory(org=org, role=EMPLOYEE, supervisor=manager),
            period=period,
            status=Goal.Status.SUBMITTED,
        )
        for _ in range(5)
    ]  # five races in one round
    calls = []
    for goal in goals:
        calls.append(("POST", org_path(manager, f"/goals/{goal.pk}/approve"), None, token(manager)))
        calls.append(
            ("POST", org_path(admin, f"/goals/{goal.pk}/reject"), {"comment": "No."}, token(admin))
        )
    warm(server, admin, manager)

    replies = server.race(calls)

    for n, goal in enumerate(goals):
        approve, reject = replies[2 * n], replies[2 * n + 1]
        assert sorted([approve.status, reject.status]) == [200, 409], (approve, reject)
        loser = approve if approve.status == 409 else reject
        assert loser.body["message"] == GOAL_NOT_SUBMITTED
        goal.refresh_from_db()
        if approve.status == 200:
            assert (goal.status, goal.reviewed_by_id) == (Goal.Status.APPROVED, manager.pk)
        else:
            assert (goal.status, goal.reviewed_by_id) == (Goal.Status.REJECTED, admin.pk)
            assert goal.review_comment == "No."
        reviews = AuditEvent.objects.filter(entity_type="goal", entity_id=goal.pk)
        assert reviews.count() == 1  # the winner's only


def test_two_goals_that_fit_alone_but_not_together_submitted_at_once_one_is_409(server):
    org = OrganizationFactory()
    period = PeriodFactory(org=org)
    owners = [MembershipFactory(org=org, role=EMPLOYEE) for _ in range(5)]  # five races
    goals = {
        owner.pk: [GoalFactory(owner=owner, period=period, weight=60) for _ in range(2)]
        for owner in owners
    }
    calls = [
        ("POST", org_path(owner, f"/goals/{goal.pk}/submit"), None, token(owner))
        for owner in owners
        for goal in goals[owner.pk]
    ]
    warm(server, *owners)

    replies = server.race(calls)

    for n, owner in enumerate(owners):
        pair = replies[2 * n : 2 * n + 2]
        assert sorted(r.status for r in pair) == [200, 409], pair
        assert next(r for r in pair if r.status == 409).body["message"] == WEIGHT_BUDGET
        committed = Goal.objects.filter(
            owner=owner, status__in=[Goal.Status.SUBMITTED, Goal.Status.APPROVED]
        )
        assert [g.weight for g in committed] == [60]


# --- the last admin ----------------------------------------------------------------------------


def _demote(actor: Membership, target: Membership) -> tuple[str, str, Any, str]:
    return ("PATCH", org_path(actor, f"/members/{target.pk}"), {"role": "employee"}, token(actor))


def _orgs_with_admins(count: int, admins: int) -> list[list[Membership]]:
    orgs = [OrganizationFactory() for _ in range(count)]
    return [[MembershipFactory(org=org, role=ADMIN) for _ in range(admins)] for org in orgs]


def test_two_admins_demoting_each_other_with_a_third_admin_both_succeed_without_deadlock(
    server,
):
    """Both pass authorization as admins, then each waits for the other's locks: both 200, one
    admin left. A request authorized only after the other's demotion committed is a 403
    instead (its actor is no longer an admin); never a deadlock, a 409 or a 5xx."""
    orgs = _orgs_with_admins(5, admins=3)  # five races in one round
    warm(server, *(admin for admins in orgs for admin in admins[:2]))
    calls = [call for a, b, _ in orgs for call in (_demote(a, b), _demote(b, a))]

    replies = server.race(calls)

    outcomes = []
    for n, (a, b, third) in enumerate(orgs):
        by_a, by_b = replies[2 * n], replies[2 * n + 1]
        outcome = sorted([by_a.status, by_b.status])
        assert outcome in ([200, 200], [200, 403]), (by_a, by_b)
        outcomes.append(outcome)
        demoted = {b.pk} if by_a.status == 200 else set()
        demoted |= {a.pk} if by_b.status == 200 else set()
        still_admin = {a.pk, b.pk, third.pk} - demoted
        admins = Membership.objects.filter(org=third.org, role=ADMIN, is_active=True)
        assert set(admins.values_list("pk", flat=True)) == still_admin
    assert [200, 200] in outcomes, outcomes  # at least one pair really overlapped


def test_the_last_two_admins_demoting_each_other_keep_one_admin(server):
    """One 200; the other is a 409 (LAST_ADMIN) when both were authorized before either
    committed, or a 403 when its actor had already been demoted. One admin is left."""
    orgs = _orgs_with_admins(5, admins=2)  # five races in one round
    warm(server, *(admin for admins in orgs for admin in admins))
    calls = [call for a, b in orgs for call in (_demote(a, b), _demote(b, a))]

    replies = server.race(calls)

    losers = []
    for n, (a, b) in enumerate(orgs):
        by_a, by_b = replies[2 * n], replies[2 * n + 1]
        assert sorted([by_a.status, by_b.status]) in ([200, 403], [200, 409]), (by_a, by_b)
        loser = by_b if by_a.status == 200 else by_a
        if loser.status == 409:
            assert loser.body["message"] == LAST_ADMIN
        losers.append(loser.status)
        admins = Membership.objects.filter(org=a.org, role=ADMIN, is_active=True)
        assert list(admins.values_list("pk", flat=True)) == [a.pk if by_a.status == 200 else b.pk]
    assert 409 in losers, losers  # at least one pair really overlapped


# --- refresh-token reuse -----------------------------------------------------------------------


def test_one_refresh_token_presented_ten_times_at_once_is_used_once_then_revokes_the_family(
    server,
):
    member = MembershipFactory(role=EMPLOYEE)
    user = member.user
    pair = auth_login(email=user.email, password=TEST_PASSWORD)
    call = ("POST", "/api/auth/refresh", {"refresh_token": pair.refresh_token}, None)

    replies = server.race([call] * 10)

    assert statuses(replies) == {200: 1, 401: 9}, [(r.status, r.body) for r in replies]
    winner = next(r for r in replies if r.status == 200).body
    # Reuse detection: the family (the winner's new token too) and every token of the user
    # are revoked, since the thief cannot be told from the owner.
    family = RefreshToken.objects.filter(user=user)
    assert family.count() == 2
    assert not family.filter(revoked=False).exists()
    assert User.objects.get(pk=user.pk).token_version > user.token_version
    again = server.call("POST", "/api/auth/refresh", {"refresh_token": winner["refresh_token"]})
    assert again.status == 401
    assert server.call("GET", "/api/auth/me", token=winner["access_token"]).status == 401


def test_a_replayed_refresh_token_racing_its_successor_revokes_both_without_a_5xx(server):
    """Replays of a used token revoke its family while refreshes with the token it was rotated
    into run: at most one of those succeeds (before the revocation), and what it got is
    revoked too."""
    user = MembershipFactory(role=EMPLOYEE).user
    used = auth_login(email=user.email, password=TEST_PASSWORD).refresh_token
    rotated = server.call("POST", "/api/auth/refresh", {"refresh_token": used})
    assert rotated.status == 200, rotated
    successor = rotated.body["refresh_token"]
    calls = [("POST", "/api/auth/refresh", {"refresh_token": t}, None) for t in (used, successor)]

    replies = server.race(calls * 5)

    assert {r.status for r in replies[0::2]} == {401}  # every replay of the used token
    by_successor = statuses(replies[1::2])
    assert set(by_successor) <= {200, 401} and by_successor[200] <= 1, by_successor
    assert User.objects.get(pk=user.pk).token_version > user.token_version
    for reply in replies[1::2]:
        if reply.status == 200:
            pair = reply.body
            again = server.call(
                "POST", "/api/auth/refresh", {"refresh_token": pair["refresh_token"]}
            )
            assert again.status == 401
            assert server.call("GET", "/api/auth/me", token=pair["access_token"]).status == 401
