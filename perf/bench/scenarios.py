"""What the bench measures: one `Scenario` per endpoint and the seeded members who call it."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.test import Client

from goals.models import Goal, Period
from orgs.cache import org_versions_bump
from orgs.models import Membership
from perf.bench.bare import BARE_PATH
from users.tokens import access_token_encode

BENCH_TITLE = "bench: "  # prefixes every goal a scenario writes, so teardown finds them all
_TARGET_DATA = {"type": "performance", "metric": "Latency", "target": 1.0, "unit": "ms",
                "direction": "decrease"}  # fmt: skip


@dataclass
class Actors:
    org_id: int
    slug: str
    tokens: dict[str, str]
    ids: dict[str, int]
    period_id: int | None
    extra: dict[str, Any] = field(default_factory=dict)

    def bearer(self, actor: str) -> str:
        return f"Bearer {self.tokens[actor]}"


@dataclass
class Scenario:
    name: str
    actor: str | None
    path: str  # relative to /api/org/{slug} when it starts with "/org", else absolute
    method: str = "GET"
    before_each: Callable[[Actors], None] | None = None
    headers: Callable[[Actors, Client], dict[str, str]] | None = None
    body: Callable[[Actors], dict[str, Any]] | None = None
    setup: Callable[[Actors], None] | None = None  # rows the scenario writes to, made first
    serial: bool = False  # one client at a time in HTTP mode (before_each resets shared rows)
    teardown: Callable[[Actors], None] | None = None  # and removed after
    http_only: bool = False  # served by config.bench, which the test client does not go through


def _cold(actors: Actors) -> None:
    org_versions_bump({actors.org_id})


def _etag_of(path: str) -> Callable[[Actors, Client], dict[str, str]]:
    def headers(actors: Actors, client: Client) -> dict[str, str]:
        response = client.get(
            f"/api/org/{actors.slug}{path}", HTTP_AUTHORIZATION=actors.bearer("admin")
        )
        return {"HTTP_IF_NONE_MATCH": response.get("ETag", "")}

    return headers


def _new_goal_body(actors: Actors) -> dict[str, Any]:
    return {
        "period_id": actors.period_id,
        "category": "performance",
        "title": f"{BENCH_TITLE}created",
        "weight": 1,
        "target_data": _TARGET_DATA,
    }


def _bench_goals(actors: Actors, *, owner: str, count: int, status: str) -> list[int]:
    goals = Goal.objects.bulk_create(
        Goal(
            org_id=actors.org_id,
            period_id=actors.period_id,
            owner_id=actors.ids[owner],
            category="performance",
            title=f"{BENCH_TITLE}{status}",
            weight=1,
            target_data=_TARGET_DATA,
            status=status,
        )
        for _ in range(count)
    )
    return [goal.pk for goal in goals]


def _setup_assessable(actors: Actors) -> None:
    actors.ids["assessable_goal"] = _bench_goals(
        actors, owner="employee", count=1, status="approved"
    )[0]


def _setup_reviewable(actors: Actors) -> None:
    actors.extra["bulk_ids"] = _bench_goals(actors, owner="employee", count=100, status="submitted")


def _resubmit(actors: Actors) -> None:
    Goal.objects.filter(pk__in=actors.extra["bulk_ids"]).update(status="submitted")


def _remove_bench_goals(actors: Actors) -> None:
    Goal.objects.filter(org_id=actors.org_id, title__startswith=BENCH_TITLE).delete()
    _cold(actors)


SCENARIOS: list[Scenario] = [
    Scenario("floor", None, "/api/perf/floor"),
    # The floor's SELECT 1 in a Django view with no middleware, same server (DESIGN.md §6).
    Scenario("bare", None, BARE_PATH, http_only=True),
    Scenario("auth_me", "employee", "/api/auth/me"),
    Scenario("org_me", "employee", "/org/me"),
    Scenario("members_list", "admin", "/org/members?limit=100"),  # 100 rows, with count
    Scenario("members_search", "admin", "/org/members?search=member12&limit=50"),
    # Pages are measured cold (the org version bumped before each request): the SQL path.
    Scenario("goal_list_page", "employee", "/org/evaluation/goal-list-page", before_each=_cold),
    Scenario(
        "input_page", "manager", "/org/evaluation/input-page?member_id={employee}",
        before_each=_cold,
    ),
    Scenario("team_page", "manager", "/org/evaluation/team-page", before_each=_cold),
    Scenario("dashboard_stats_cold", "admin", "/org/dashboards/stats", before_each=_cold),
    Scenario("dashboard_stats_warm", "admin", "/org/dashboards/stats"),
    Scenario("dashboard_admin_cold", "admin", "/org/dashboards/admin", before_each=_cold),
    Scenario("dashboard_admin_warm", "admin", "/org/dashboards/admin"),
    Scenario("page_304", "admin", "/org/dashboards/stats", headers=_etag_of("/dashboards/stats")),
    Scenario(
        "goal_create", "employee", "/org/goals", method="POST", body=_new_goal_body,
        teardown=_remove_bench_goals,
    ),
    Scenario(
        "self_assessment_put", "employee", "/org/goals/{assessable_goal}/self-assessment",
        method="PUT", body=lambda a: {"rating": 3, "comment": "bench", "status": "draft"},
        setup=_setup_assessable, teardown=_remove_bench_goals,
    ),
    Scenario(
        "bulk_status_100", "manager", "/org/goals/bulk-status", method="POST",
        body=lambda a: {"goal_ids": a.extra["bulk_ids"], "action": "approve"},
        setup=_setup_reviewable, before_each=_resubmit, teardown=_remove_bench_goals,
        serial=True,
    ),
]  # fmt: skip


def actors_for(slug: str) -> Actors:
    """The org's admin, its first manager with reports, and one of that manager's reports."""
    members = Membership.objects.select_related("user", "org").filter(
        org__slug=slug, is_active=True
    )
    admin = members.filter(role="admin").first()
    employee = members.filter(role="employee", supervisor__role="manager").first()
    if admin is None or employee is None:
        raise LookupError(f"org {slug!r} needs an admin and a manager with reports: run seed")
    manager = members.get(pk=employee.supervisor_id)
    chosen = {"admin": admin, "manager": manager, "employee": employee}
    period = Period.objects.filter(org=admin.org, status="active").values_list("id", flat=True)
    return Actors(
        org_id=admin.org_id,
        slug=slug,
        tokens={
            role: access_token_encode(user_id=m.user_id, version=m.user.token_version)
            for role, m in chosen.items()
        },
        ids={role: m.pk for role, m in chosen.items()},
        period_id=period.first(),
    )


def url_for(scenario: Scenario, actors: Actors) -> str:
    path = scenario.path.format(**actors.ids)
    return f"/api/org/{actors.slug}{path[4:]}" if path.startswith("/org/") else path


def body_json(scenario: Scenario, actors: Actors) -> str | None:
    return json.dumps(scenario.body(actors)) if scenario.body else None


def request_kwargs(scenario: Scenario, actors: Actors) -> dict[str, Any]:
    """The body as keyword arguments of Django's test client."""
    body = body_json(scenario, actors)
    return {} if body is None else {"data": body, "content_type": "application/json"}


@contextmanager
def staged(scenario: Scenario, actors: Actors) -> Iterator[None]:
    """The scenario's own rows exist for the duration of the block (teardown runs on error)."""
    if scenario.setup:
        scenario.setup(actors)
    try:
        yield
    finally:
        if scenario.teardown:
            scenario.teardown(actors)
