"""Cache invalidations that must not be lost to a Redis outage (README, "Failure modes").

With `IGNORE_EXCEPTIONS` a failed cache call is silent. For reads that is the point (a miss);
for an invalidation it is not: Redis may come back *with its data* (a network partition, a
paused server), and the entry the write meant to remove would be served again. So a failed
invalidation is remembered by the process that made it and applied

- before that process next reads the cache (`pending_retry()` at the start of tenant and
  token resolution: free when nothing is pending), and
- by a background thread every `RETRY_INTERVAL` until it succeeds, so other processes, which
  cannot know, stop seeing the old entry within about a second of Redis coming back.

Invalidations are deletes of keys here; `orgs.cache` registers its version bumps as a retry
hook (a version only moves forward, so applying a bump twice is harmless).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable

from django.core.cache import cache
from django_redis import get_redis_connection
from redis.exceptions import RedisError

logger = logging.getLogger("cadence.cache")
RETRY_INTERVAL = 1.0

lock = threading.Lock()
_pending_deletes: set[str] = set()
# Each hook applies what its module has pending and tells whether anything is still pending.
_hooks: list[Callable[[], bool]] = []
_retry_thread: threading.Thread | None = None


def register_hook(hook: Callable[[], bool]) -> None:
    if hook not in _hooks:
        _hooks.append(hook)


def keys_delete(keys: Iterable[str]) -> None:
    """Deletes now; if Redis is unreachable, keeps the keys for the next retry."""
    with lock:
        made = {cache.make_key(key) for key in keys} | _pending_deletes
    if not made:
        return
    try:
        get_redis_connection("default").delete(*made)
    except (RedisError, OSError):
        logger.warning("cache invalidation failed; will retry", exc_info=True)
        with lock:
            _pending_deletes.update(made)
        retry_soon()
    else:
        with lock:
            _pending_deletes.difference_update(made)


def pending_retry() -> bool:
    """Applies every pending invalidation; True if some are still pending. Nothing pending
    (the usual case): no round trip."""
    if _pending_deletes:
        keys_delete(())
    still = bool(_pending_deletes)
    for hook in _hooks:
        still = hook() or still
    return still


def pending_clear() -> None:
    """Tests: forget what a previous test left pending."""
    with lock:
        _pending_deletes.clear()


def retry_soon() -> None:
    global _retry_thread
    with lock:
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
        still = pending_retry()
        with lock:
            if not still:
                _retry_thread = None
                return
