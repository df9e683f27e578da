"""Cache keys of tenancy (DESIGN.md §5). The only module that spells them.

Every key of one org's data carries the hash tag `{<org_id>}` (core.keyslots), so the tenant
MGET of membership, version and head, and the Lua script that bumps version and head, each
stay in one Redis Cluster slot. The slug key cannot: it is how the org id is found.

Entries are wrapped (`{"org": …}`, `{"member": …}`) so a cached "no such org" or "not a member"
differs from a miss: a stranger's repeated requests cost no SQL either.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django_redis import get_redis_connection
from redis.exceptions import RedisError

from core import cache_retry
from core.expiry import jittered
from core.keyslots import org_tag

ORG_TTL = 300
MEMBER_TTL = 300
ACCOUNT_TTL = 300
logger = logging.getLogger("cadence.cache")


def org_slug_key(slug: str) -> str:
    return f"org:slug:{slug}"


def member_key(org_id: int, user_id: int) -> str:
    return f"mem:{org_tag(org_id)}:{user_id}"


def org_version_key(org_id: int) -> str:
    return f"ver:{org_tag(org_id)}"


def org_head_key(org_id: int) -> str:
    """The org's change-log head (orgs.changes), published with each version bump."""
    return f"head:{org_tag(org_id)}"


def account_key(user_id: int) -> str:
    """`/api/auth/me` of a user: who they are and their memberships."""
    return f"acct:{user_id}"


def org_entry_store(*, slug: str, org: dict[str, Any] | None) -> None:
    cache.set(org_slug_key(slug), {"org": org}, jittered(ORG_TTL))


def member_entry_store(*, org_id: int, user_id: int, member: dict[str, Any] | None) -> None:
    cache.set(member_key(org_id, user_id), {"member": member}, jittered(MEMBER_TTL))


def account_entry_store(*, user_id: int, account: dict[str, Any]) -> None:
    cache.set(account_key(user_id), account, jittered(ACCOUNT_TTL))


def member_entries_forget_on_commit(pairs: Iterable[tuple[int, int]]) -> None:
    """After commit, the cached member entries of these (org id, user id) pairs go, and with
    them each user's account entry (it lists their memberships)."""
    keys: list[str] = []
    for org_id, user_id in pairs:
        keys += [member_key(org_id, user_id), account_key(user_id)]
    keys_delete_on_commit(keys)


def keys_delete_on_commit(keys: Iterable[str]) -> None:
    """Invalidation runs after commit: a rolled-back write never touches the cache."""
    keys = list(keys)
    if keys:
        transaction.on_commit(lambda: cache_retry.keys_delete(keys))


def org_version_get_or_init(org_id: int, *, head: int | None = None) -> int | None:
    """The org data version; None when Redis is unreachable (then nothing is cached). A
    `head` read from PostgreSQL is stored in the same round trip unless one is there."""
    if cache_retry.retrier.pending:  # failed invalidations first
        cache_retry.pending_retry()
    key = cache.make_key(org_version_key(org_id))
    try:
        pipe = get_redis_connection("default").pipeline(transaction=False)
        pipe.set(key, cache_retry.version_seed(), nx=True)
        pipe.get(key)
        if head is not None:
            pipe.set(cache.make_key(org_head_key(org_id)), head, nx=True)
        return int(pipe.execute()[1])
    except (RedisError, OSError, TypeError, ValueError):
        logger.warning("org version unavailable", exc_info=True)
        return None


def org_versions_bump(org_ids: set[int], *, head: int = 0) -> None:
    """Moves each org's data version forward (and its change head up to `head`)."""
    cache_retry.versions_bump(
        (org_version_key(org_id), org_head_key(org_id), head) for org_id in org_ids
    )


def org_head_init(*, org_id: int, head: int) -> None:
    """A head read from PostgreSQL, stored unless a newer one got there first."""
    cache.add(org_head_key(org_id), head, timeout=None)
