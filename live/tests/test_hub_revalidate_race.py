"""The upkeep's verdict of a socket must come from entries read before its check (live.hub
Upkeep): a change landing between a socket's check and the round's next read of the entries
would otherwise be taken as already judged, and never judged again.

The race is made deterministic by running the change inside the round, right after the first
membership check returns (the check itself and Redis and PostgreSQL are real)."""

from __future__ import annotations

import asyncio

import pytest
from django.core.cache import cache

from live import hub
from orgs import cache as org_cache
from orgs.models import Membership
from users import cache as auth_cache


@pytest.mark.django_db(transaction=True)
def test_a_member_deactivated_while_the_org_entry_is_checked_again_is_closed(
    api, org, admin, employee, monkeypatch
):
    monkeypatch.setattr(hub.Upkeep, "watched", {})
    monkeypatch.setattr(hub, "_caller_task", None)
    monkeypatch.setattr(hub, "_calls", None)
    token = api.token_for(employee.user)
    assert api.get(employee, "/me", token=token).status_code == 200  # entries cached
    verdicts: list[Membership | int] = []
    keys = (
        auth_cache.token_key(token),
        auth_cache.user_version_key(employee.user_id),
        org_cache.org_slug_key(org.slug),
        org_cache.member_key(org.pk, employee.user_id),
    )
    hub.Upkeep.watched["socket"] = hub._Watched(
        token, org.slug, keys, {}, revalidated=verdicts.append, ping=lambda: None
    )

    async def upkeep() -> None:  # rounds of the upkeep (each WS_REVALIDATE_SECONDS apart)
        await hub.Upkeep._revalidate()  # the first verdict: a member
        assert isinstance(verdicts[-1], Membership)
        await hub.Upkeep._revalidate()  # nothing changed: no verdict
        assert len(verdicts) == 1
        monkeypatch.setattr(hub, "_resolve_many", check_then_deactivate)
        cache.delete(org_cache.org_slug_key(org.slug))  # as its expiry (ORG_TTL) does
        for _ in range(3):
            await hub.Upkeep._revalidate()

    checked = hub._resolve_many

    def check_then_deactivate(pairs):
        outcomes = checked(pairs)
        if len(verdicts) == 1:  # the round's first check: the member is deactivated now
            patched = api.patch(admin, f"/members/{employee.pk}", {"is_active": False})
            assert patched.status_code == 200
            # ... and a request of theirs stores their (inactive) entry again
            assert api.get(employee, "/me", token=token).status_code == 404
        return outcomes

    asyncio.run(upkeep())
    assert verdicts[-1] == hub.NOT_MEMBER, verdicts
