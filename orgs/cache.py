"""Cache keys of tenancy (DESIGN.md §5). The only module that spells them.

Entries are wrapped (`{"org": …}`, `{"member": …}`) so a cached "no such org" or "not a member"
differs from a miss: a stranger's repeated requests cost no SQL either.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django_redis import get_redis_connection
from redis.exceptions import RedisError

from config import cache_retry

ORG_TTL = 300
MEMBER_TTL = 300
logger = logging.getLogger("cadence.cache")


def org_slug_key(slug: str) -> str:
    return f"org:slug:{slug}"


def member_key(org_id: int, user_id: int) -> str:
    return f"mem:{org_id}:{user_id}"


def org_version_key(org_id: int) -> str:
    return f"ver:{org_id}"


def org_entry_store(*, slug: str, org: dict[str, Any] | None) -> None:
    cache.set(org_slug_key(slug), {"org": org}, ORG_TTL)


def member_entry_store(*, org_id: int, user_id: int, member: dict[str, Any] | None) -> None:
    cache.set(member_key(org_id, user_id), {"member": member}, MEMBER_TTL)


def keys_delete_on_commit(keys: Iterable[str]) -> None:
    """Invalidation runs after commit: a rolled-back write never touches the cache."""
    keys = list(keys)
    if keys:
        transaction.on_commit(lambda: cache_retry.keys_delete(keys))


def _version_seed() -> int:
    # A fresh counter starts from the clock in microseconds, so after Redis loses its data the
    # version still moves forward and an old ETag can never match new data.
    return time.time_ns() // 1000


# Version bumps that failed while Redis was unreachable, applied by config.cache_retry: before
# this process reads a version again, and by its background retry.
_pending_bumps: set[int] = set()


def _retry_bumps() -> bool:
    if _pending_bumps:
        org_versions_bump(set())
    return bool(_pending_bumps)


cache_retry.register_hook(_retry_bumps)


def org_version_get_or_init(org_id: int) -> int | None:
    """The org data version; None when Redis is unreachable (then nothing is cached)."""
    cache_retry.pending_retry()  # failed invalidations first; no round trip when none
    key = cache.make_key(org_version_key(org_id))
    try:
        pipe = get_redis_connection("default").pipeline(transaction=False)
        pipe.set(key, _version_seed(), nx=True)
        pipe.get(key)
        return int(pipe.execute()[1])
    except (RedisError, OSError, TypeError, ValueError):
        logger.warning("org version unavailable", exc_info=True)
        return None


def org_versions_bump(org_ids: set[int]) -> None:
    with cache_retry.lock:
        org_ids = org_ids | _pending_bumps
    if not org_ids:
        return
    try:
        pipe = get_redis_connection("default").pipeline(transaction=False)
        for org_id in org_ids:
            key = cache.make_key(org_version_key(org_id))
            pipe.set(key, _version_seed(), nx=True)
            pipe.incr(key)
        pipe.execute()
    except (RedisError, OSError):
        logger.warning("org version bump failed; will retry", exc_info=True)
        with cache_retry.lock:
            _pending_bumps.update(org_ids)
        cache_retry.retry_soon()
    else:
        with cache_retry.lock:
            _pending_bumps.difference_update(org_ids)


def bump_org_version_on_commit(*, org_id: int) -> None:
    transaction.on_commit(lambda: org_versions_bump({org_id}))
