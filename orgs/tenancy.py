"""Tenant resolution for /api/org/{org_slug}/…: token → user, slug → org, (user, org) → member.

Warm, it is one Redis MGET and no SQL: the access-token keys of `users.auth` plus
`org:slug:{slug}`, `mem:{org_id}:{user_id}` and `ver:{org_id}`. The org id needed for the last
two keys comes from a process-local slug→id hint that the `org:slug` entry of the same MGET
confirms; a wrong or missing hint only costs a second round trip.

Anyone who is not an active member of an active org gets the same 404, whether the org
exists or not.
"""

from __future__ import annotations

from typing import Any

import structlog
from django.core.cache import cache

from core.errors import NotFound
from core.ratelimit import authentication_counted
from orgs import cache as org_cache
from orgs.changes import org_change_head
from orgs.models import Membership, Organization
from orgs.selectors import member_entry_load, org_entry_load
from users.auth import Bearer, identity_resolve
from users.tokens import token_peek_user_id

ORG_NOT_FOUND = "Organization not found."
_org_id_hints: dict[str, int] = {}


def _org_entry(
    slug: str, cached: dict[str, Any] | None
) -> tuple[dict[str, Any] | None, int | None]:
    """The org entry, and its change head when it was just read from PostgreSQL."""
    if cached is not None:
        return cached["org"], None
    org = org_entry_load(slug=slug)
    head = org.pop("change_seq") if org is not None else None
    org_cache.org_entry_store(slug=slug, org=org)
    return org, head


def _member_entry(org_id: int, user_id: int, cached: dict[str, Any] | None):
    if cached is not None:
        return cached["member"]
    member = member_entry_load(org_id=org_id, user_id=user_id)
    org_cache.member_entry_store(org_id=org_id, user_id=user_id, member=member)
    return member


def membership_resolve(*, token: str, slug: str, counted: bool = True) -> Membership:
    """The caller's membership in the org `slug`; `counted=False` for checks that are not
    the user's own requests (an open socket revalidating), which spend no rate budget."""
    user_id = token_peek_user_id(token)
    hinted_org_id = _org_id_hints.get(slug)
    slug_key = org_cache.org_slug_key(slug)
    keys = [slug_key]
    if hinted_org_id is not None:
        keys += [
            org_cache.member_key(hinted_org_id, user_id),
            org_cache.org_version_key(hinted_org_id),
            org_cache.org_head_key(hinted_org_id),
        ]
    identity, values = identity_resolve(
        token, user_id=user_id, extra_keys=keys, rate_scope=slug if counted else None
    )

    org, fresh_head = _org_entry(slug, values.get(slug_key))
    if org is None or not org["is_active"]:
        raise NotFound(ORG_NOT_FOUND)
    org_id = org["id"]
    if org_id != hinted_org_id:
        _org_id_hints[slug] = org_id
        values = cache.get_many(
            [
                org_cache.member_key(org_id, user_id),
                org_cache.org_version_key(org_id),
                org_cache.org_head_key(org_id),
            ]
        )
    member = _member_entry(org_id, user_id, values.get(org_cache.member_key(org_id, user_id)))
    if member is None or not member["is_active"]:
        raise NotFound(ORG_NOT_FOUND)
    head = values.get(org_cache.org_head_key(org_id))
    missing_head = head is None
    if missing_head:  # first use, or Redis lost it: the truth is in PostgreSQL
        head = fresh_head if fresh_head is not None else org_change_head(org_id=org_id)
    version = values.get(org_cache.org_version_key(org_id))
    if version is None:  # stores the head too, in the same round trip
        version = org_cache.org_version_get_or_init(org_id, head=head if missing_head else None)
    elif missing_head:
        org_cache.org_head_init(org_id=org_id, head=head)

    structlog.contextvars.bind_contextvars(org=slug)
    membership = membership_from_entries(org=org, member=member, version=version)
    membership.org.change_head = head
    return membership


def membership_from_entries(
    *, org: dict[str, Any], member: dict[str, Any], version: int | None
) -> Membership:
    """In-memory model instances built from the cache: services and selectors take them like
    rows from the database (`org=member.org`, `actor=member`)."""
    organization = Organization(
        id=org["id"],
        slug=org["slug"],
        name=org["name"],
        is_active=org["is_active"],
        rating_scale=org["rating_scale"],
    )
    organization.data_version = version
    membership = Membership(
        id=member["id"],
        org=organization,
        user_id=member["user_id"],
        role=member["role"],
        department_id=member["department_id"],
        supervisor_id=member["supervisor_id"],
        title=member["title"],
        is_active=member["is_active"],
        created_at=member["created_at"],
    )
    membership.item = member  # the member item of the API, for /me without SQL
    return membership


def org_id_hints_clear() -> None:
    _org_id_hints.clear()


class OrgMemberAuth(Bearer):
    """Router-level auth of every org-scoped path: `request.auth` is the caller's Membership."""

    def authenticate(self, request, token: str) -> Membership:
        slug = request.resolver_match.kwargs.get("org_slug", "")
        member = authentication_counted(request, lambda: membership_resolve(token=token, slug=slug))
        # The change-log position the response's data reflects (read before the view runs).
        request.change_seq = member.org.change_head
        return member


def account_identity_resolve(token: str) -> tuple[Any, Any]:
    """The token's identity and its user's cached account entry (`/api/auth/me`, orgs.cache),
    read in the same MGET as the token's own keys: warm, one Redis round trip and no SQL. The
    entry is used only once the token is verified (a revoked token is a 401 first)."""
    user_id = token_peek_user_id(token)
    key = org_cache.account_key(user_id)
    identity, values = identity_resolve(token, user_id=user_id, extra_keys=[key])
    return identity, values.get(key)


class AccountAuth(Bearer):
    """Any authenticated user, as `users.auth.BearerAuth`; `request.account_entry` is their
    cached account (None on a miss)."""

    def authenticate(self, request, token: str):
        identity, entry = authentication_counted(request, lambda: account_identity_resolve(token))
        request.account_entry = entry
        return identity
