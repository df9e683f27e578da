"""The team page reads its counts from a rollup that triggers keep (evaluations.models
.OwnerGoalRollup): after every kind of write, through the API and the admin, the counts it serves
are the ones computed here by hand, and `manage.py rollups --verify` agrees with the base tables.
A trigger missing or wrong shows as a wrong count served."""

from __future__ import annotations

import io

from django.core.management import call_command
from django.urls import reverse

from core.tests.admin import admin_action, change_form_data, messages_of
from goals.models import Goal
from goals.tests.factories import PERFORMANCE, GoalFactory, PeriodFactory
from orgs.cache import org_versions_bump
from orgs.tests.factories import MembershipFactory

TEAM = "/evaluation/team-page"


def counts(*, draft=0, submitted=0, approved=0, rejected=0, assessed=0, published=0,
           score=None) -> dict:  # fmt: skip
    """A team page item's counts, as the page serves them."""
    by_status = {"draft": draft, "submitted": submitted, "approved": approved,
                 "rejected": rejected}  # fmt: skip
    return {
        "goals": {"total": sum(by_status.values()), "by_status": by_status},
        "self_assessments_submitted": assessed,
        "feedback_published": published,
        "weighted_score": score,
    }


def served(api, actor, member, **params) -> dict:
    """The counts of `member` on `actor`'s team page, read cold (as after a committed write)."""
    org_versions_bump({actor.org_id})
    response = api.get(actor, TEAM, params or None)
    assert response.status_code == 200, response.content
    item = next(i for i in response.json()["items"] if i["member"]["id"] == member.pk)
    return {name: value for name, value in item.items() if name != "member"}


def verified() -> str:
    out = io.StringIO()
    call_command("rollups", "--verify", stdout=out)  # CommandError (exit 1) on a difference
    return out.getvalue()


def ok(response, status=200):
    assert response.status_code == status, response.content
    return response.json() if status != 204 else None


def _admin_change_weight(client, goal_id: int, weight: int) -> None:
    url = reverse("admin:goals_goal_change", args=[goal_id])
    response = client.post(url, change_form_data(client.get(url), weight=weight))
    assert response.status_code == 302, messages_of(response)


def test_the_team_page_counts_stay_exact_through_every_write(
    api, admin, manager, employee, period, superuser_client
):
    def goal(actor, weight, **extra) -> int:
        body = {"period_id": period.pk, "category": "performance", "title": "Goal",
                "weight": weight, "target_data": PERFORMANCE, **extra}  # fmt: skip
        return ok(api.post(actor, "/goals", body), 201)["id"]

    assert served(api, manager, employee) == counts()

    first = goal(employee, 30)
    second = goal(admin, 20, owner_id=employee.pk)
    assert served(api, manager, employee) == counts(draft=2)

    ok(api.patch(employee, f"/goals/{first}", {"weight": 40}))
    _admin_change_weight(superuser_client, second, 25)  # a support edit, through goal_update
    assert Goal.objects.get(pk=second).weight == 25
    dropped = goal(employee, 10)
    assert served(api, manager, employee) == counts(draft=3)
    ok(api.delete(employee, f"/goals/{dropped}"), 204)
    assert served(api, manager, employee) == counts(draft=2)

    ok(api.post(employee, f"/goals/{first}/submit"))
    ok(api.post(employee, f"/goals/{second}/submit"))
    assert served(api, manager, employee) == counts(submitted=2)
    ok(api.post(manager, f"/goals/{first}/approve"))
    ok(api.post(manager, f"/goals/{second}/reject", {"comment": "Needs a number."}))
    assert served(api, manager, employee) == counts(approved=1, rejected=1)

    assessment = f"/goals/{first}/self-assessment"
    ok(api.put(employee, assessment, {"rating": 3, "status": "draft"}))
    assert served(api, manager, employee) == counts(approved=1, rejected=1)
    ok(api.put(employee, assessment, {"rating": 3, "status": "submitted"}))
    assert served(api, manager, employee) == counts(approved=1, rejected=1, assessed=1)

    ok(api.put(manager, f"/goals/{first}/feedback", {"rating": 4, "status": "draft"}))
    assert served(api, manager, employee) == counts(approved=1, rejected=1, assessed=1)
    ok(api.put(manager, f"/goals/{first}/feedback", {"rating": 4, "status": "published"}))
    assert served(api, manager, employee) == counts(
        approved=1, rejected=1, assessed=1, published=1, score=4.0
    )

    ok(api.post(employee, f"/goals/{second}/submit"))
    bulk = {"goal_ids": [second], "action": "approve", "comment": "Reviewed"}
    ok(api.post(admin, "/goals/bulk-status", bulk))
    ok(api.put(manager, f"/goals/{second}/feedback", {"rating": 1, "status": "published"}))
    # (40 × 4 + 25 × 1) / (40 + 25)
    scored = counts(approved=2, assessed=1, published=2, score=round(185 / 65, 2))
    assert served(api, manager, employee) == scored
    ok(api.put(admin, f"/goals/{second}/feedback", {"rating": 3, "status": "published"}))
    # (40 × 4 + 25 × 3) / (40 + 25): a re-rating moves the score
    scored = counts(approved=2, assessed=1, published=2, score=round(235 / 65, 2))
    assert served(api, manager, employee) == scored

    returned = goal(employee, 10)
    ok(api.post(employee, f"/goals/{returned}/submit"))
    ok(api.post(manager, f"/goals/{returned}/approve"))
    assert served(api, manager, employee) == counts(
        approved=3, assessed=1, published=2, score=scored["weighted_score"]
    )
    response = admin_action(superuser_client, "goals_goal", "return_to_draft", returned)
    assert any("returned to draft" in m for m in messages_of(response))
    assert served(api, manager, employee) == counts(
        draft=1, approved=2, assessed=1, published=2, score=scored["weighted_score"]
    )
    assert served(api, admin, employee) == served(api, manager, employee)
    assert "match" in verified()


def test_a_goal_counts_in_its_own_period_only(api, admin, employee, manager, period):
    planned = PeriodFactory(org=admin.org, name="2027 H1", status="planned")
    body = {"period_id": planned.pk, "category": "performance", "title": "Next year",
            "weight": 50, "target_data": PERFORMANCE}  # fmt: skip
    ok(api.post(employee, "/goals", body), 201)

    assert served(api, manager, employee) == counts()
    assert served(api, manager, employee, period_id=planned.pk) == counts(draft=1)


def test_a_member_whose_goals_are_gone_reads_like_one_who_never_had_any(
    api, manager, employee, period
):
    newcomer = MembershipFactory(org=manager.org, supervisor=manager)
    body = {"period_id": period.pk, "category": "performance", "title": "Short-lived",
            "weight": 10, "target_data": PERFORMANCE}  # fmt: skip
    created = ok(api.post(employee, "/goals", body), 201)
    ok(api.delete(employee, f"/goals/{created['id']}"), 204)  # leaves a row of zeros

    assert served(api, manager, employee) == served(api, manager, newcomer) == counts()


def test_a_data_fix_moving_goals_to_another_owner_and_period_moves_their_counts(
    api, admin, manager, employee, period
):
    """No API changes a goal's owner or period; a data fix (a queryset update, raw SQL) may,
    and takes the goal's evaluations along to the new owner's row."""
    colleague = MembershipFactory(org=admin.org, supervisor=manager)
    planned = PeriodFactory(org=admin.org, name="2027 H1", status="planned")
    goal = GoalFactory(owner=employee, period=period, status="approved", weight=20)
    ok(api.put(employee, f"/goals/{goal.pk}/self-assessment", {"rating": 2, "status": "submitted"}))
    ok(api.put(manager, f"/goals/{goal.pk}/feedback", {"rating": 5, "status": "published"}))
    moved = counts(approved=1, assessed=1, published=1, score=5.0)
    assert served(api, manager, employee) == moved

    Goal.objects.filter(pk=goal.pk).update(owner=colleague)
    assert served(api, manager, employee) == counts()
    assert served(api, manager, colleague) == moved

    Goal.objects.filter(pk=goal.pk).update(period=planned, weight=40)
    assert served(api, manager, colleague) == counts()
    assert served(api, manager, colleague, period_id=planned.pk) == moved
    assert "match" in verified()
