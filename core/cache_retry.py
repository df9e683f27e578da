"""Cache invalidations that must not be lost to a Redis outage (README, "Failure modes").

With `IGNORE_EXCEPTIONS` a failed cache call is silent. For reads that is the point (a miss);
for an invalidation it is not: Redis may come back *with its data* (a network partition, a
paused server), and the entry the write meant to remove would be served again. So a failed
invalidation is remembered by the process that made it and applied

- before that process next reads the cache (`pending_retry()` at the start of token and
  tenant resolution: free when nothing is pending), and
- by a background thread every `interval` until it succeeds, so other processes, which
  cannot know, stop seeing the old entry within about a second of Redis coming back.

Two kinds of invalidation, both safe to apply twice: deleting keys, and moving version
counters forward (a version seeded from the clock, then INCR: it never goes back, even after
Redis lost its data, so an old ETag can never match new data). One `CacheRetry` object,
`retrier`, holds everything pending in the process; the module functions are its methods.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable

from django.core.cache import cache
from django_redis import get_redis_connection
from redis.exceptions import RedisError

logger = logging.getLogger("cadence.cache")


def version_seed() -> int:
    """Where a missing version counter starts: the clock in microseconds."""
    return time.time_ns() // 1000


class CacheRetry:
    def __init__(self, interval: float = 1.0) -> None:
        self.interval = interval
        self._lock = threading.Lock()
        self._deletes: set[str] = set()  # full (prefixed) keys
        self._bumps: set[str] = set()
        self._thread: threading.Thread | None = None

    def keys_delete(self, keys: Iterable[str]) -> None:
        """Deletes now; if Redis is unreachable, keeps the keys for the next retry."""
        with self._lock:
            made = {cache.make_key(key) for key in keys} | self._deletes
        if not made:
            return
        try:
            get_redis_connection("default").delete(*made)
        except (RedisError, OSError):
            self._failed("invalidation", self._deletes, made)
        else:
            with self._lock:
                self._deletes.difference_update(made)

    def versions_bump(self, keys: Iterable[str]) -> None:
        """Moves each version counter forward (seeding a missing one first)."""
        with self._lock:
            made = {cache.make_key(key) for key in keys} | self._bumps
        if not made:
            return
        try:
            pipe = get_redis_connection("default").pipeline(transaction=False)
            for key in made:
                pipe.set(key, version_seed(), nx=True)
                pipe.incr(key)
            pipe.execute()
        except (RedisError, OSError):
            self._failed("version bump", self._bumps, made)
        else:
            with self._lock:
                self._bumps.difference_update(made)

    def pending_retry(self) -> bool:
        """Applies everything pending; True if some is still pending. Nothing pending (the
        usual case): no round trip."""
        if self._deletes:
            self.keys_delete(())
        if self._bumps:
            self.versions_bump(())
        return bool(self._deletes or self._bumps)

    def clear(self) -> None:
        """Tests: forget what a previous test left pending."""
        with self._lock:
            self._deletes.clear()
            self._bumps.clear()

    def _failed(self, what: str, pending: set[str], keys: set[str]) -> None:
        logger.warning("cache %s failed; will retry", what, exc_info=True)
        with self._lock:
            pending.update(keys)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._retry_loop, name="cadence-cache-retry", daemon=True
                )
                self._thread.start()

    def _retry_loop(self) -> None:
        while True:
            time.sleep(self.interval)
            self.pending_retry()
            with self._lock:  # checked under the lock: a failure now would find no thread
                if not (self._deletes or self._bumps):
                    self._thread = None
                    return


retrier = CacheRetry()
keys_delete = retrier.keys_delete
versions_bump = retrier.versions_bump
pending_retry = retrier.pending_retry
