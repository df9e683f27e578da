"""Cache keys of tenancy (DESIGN.md §5). The only module that spells them.

Entries are wrapped (`{"org": …}`, `{"member": …}`) so a cached "no such org" or "not a member"
differs from a miss: a stranger's repeated requests cost no SQL either.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django_redis import get_redis_connection
from redis.exceptions import RedisError

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
        transaction.on_commit(lambda: keys_delete(keys))


def keys_delete(keys: Iterable[str]) -> None:
    """Deletes now; if Redis is unreachable, remembers the keys for `pending_retry`, so an
    entry cached before an outage is not served after it (Redis may come back with its data)."""
    with _pending_lock:
        made = {cache.make_key(key) for key in keys} | _pending_deletes
    if not made:
        return
    try:
        get_redis_connection("default").delete(*made)
    except (RedisError, OSError):
        logger.warning("cache invalidation failed; will retry", exc_info=True)
        with _pending_lock:
            _pending_deletes.update(made)
        _retry_soon()
    else:
        with _pending_lock:
            _pending_deletes.difference_update(made)


def _version_seed() -> int:
    # A fresh counter starts from the clock in microseconds, so after Redis loses its data the
    # version still moves forward and an old ETag can never match new data.
    return time.time_ns() // 1000


# Bumps and deletes that failed while Redis was unreachable. This process applies them before
# it next reads a version or an entry (`pending_retry`), and a background thread retries them
# every RETRY_INTERVAL meanwhile, so a write made during an outage still invalidates what was
# cached before it, even when Redis comes back with its data and this process gets no request.
_pending_bumps: set[int] = set()
_pending_deletes: set[str] = set()
_pending_lock = threading.Lock()
_retry_thread: threading.Thread | None = None
RETRY_INTERVAL = 1.0


def pending_retry() -> None:
    """Applies failed invalidations first; nothing to do (no round trip) on the usual path."""
    if _pending_deletes:
        keys_delete(())
    if _pending_bumps:
        org_versions_bump(set())


def _retry_soon() -> None:
    global _retry_thread
    with _pending_lock:
        if _retry_thread is not None:
            return
        _retry_thread = threading.Thread(
            target=_retry_loop, name="cadence-cache-retry", daemon=True
        )
        _retry_thread.start()


def _retry_loop() -> None:
    global _retry_thread
    while True:
        time.sleep(RETRY_INTERVAL)
        pending_retry()
        with _pending_lock:
            if not (_pending_bumps or _pending_deletes):
                _retry_thread = None
                return


def org_version_get_or_init(org_id: int) -> int | None:
    """The org data version; None when Redis is unreachable (then nothing is cached)."""
    pending_retry()
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
    with _pending_lock:
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
        with _pending_lock:
            _pending_bumps.update(org_ids)
        _retry_soon()
    else:
        with _pending_lock:
            _pending_bumps.difference_update(org_ids)


def bump_org_version_on_commit(*, org_id: int) -> None:
    transaction.on_commit(lambda: org_versions_bump({org_id}))
