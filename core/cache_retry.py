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
Redis lost its data, so an old ETag can never match new data), each with a companion head
(an integer that only grows, set to the larger of itself and the new value in the same atomic
step as the INCR: whoever reads both in one MGET sees a pair that belongs together). One
`CacheRetry` object, `retrier`, holds everything pending in the process; the module functions
are its methods.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable

from django.core.cache import cache
from django_redis import get_redis_connection
from redis.exceptions import RedisError

from core.keyslots import keys_by_slot

logger = logging.getLogger("cadence.cache")


def version_seed() -> int:
    """Where a missing version counter starts: the clock in microseconds."""
    return time.time_ns() // 1000


# KEYS: version, head (one org's: the same hash tag, so one cluster slot); ARGV: seed, head.
# Returns the new version.
_BUMP = """
local head = tonumber(ARGV[2])
if head > 0 and head > tonumber(redis.call('get', KEYS[2]) or '0') then
    redis.call('set', KEYS[2], head)
end
redis.call('set', KEYS[1], ARGV[1], 'NX')
return redis.call('incr', KEYS[1])
"""


class CacheRetry:
    def __init__(self, interval: float = 1.0) -> None:
        self.interval = interval
        self._lock = threading.Lock()
        self._deletes: set[str] = set()  # full (prefixed) keys
        self._bumps: dict[tuple[str, str], int] = {}  # (version key, head key) → head
        self._thread: threading.Thread | None = None
        # Read on every request (`if retrier.pending`), so the usual case costs no call.
        self.pending = False

    def keys_delete(self, keys: Iterable[str]) -> None:
        """Deletes now; if Redis is unreachable, keeps the keys for the next retry."""
        with self._lock:
            made = {cache.make_key(key) for key in keys} | self._deletes
        if not made:
            return
        try:
            # One DEL per hash slot (a member's key and their account's are in different
            # ones; Redis Cluster refuses a DEL across slots), in one round trip.
            ordered = list(made)
            pipe = get_redis_connection("default").pipeline(transaction=False)
            for group in keys_by_slot(ordered):
                pipe.delete(*(ordered[position] for position in group))
            pipe.execute()
        except (RedisError, OSError):
            with self._lock:
                self._deletes.update(made)
                self.pending = True
            self._failed("invalidation")
        else:
            with self._lock:
                self._deletes.difference_update(made)
                self.pending = bool(self._deletes or self._bumps)

    def versions_bump(self, bumps: Iterable[tuple[str, str, int]]) -> None:
        """For each (version key, head key, head): the head raised to `head` (0: unchanged)
        and the version moved forward (seeded first if missing), atomically."""
        with self._lock:
            made = dict(self._bumps)
            for version_key, head_key, head in bumps:
                pair = (cache.make_key(version_key), cache.make_key(head_key))
                made[pair] = max(made.get(pair, 0), head)
        if not made:
            return
        try:
            pipe = get_redis_connection("default").pipeline(transaction=False)
            for (version_key, head_key), head in made.items():
                pipe.eval(_BUMP, 2, version_key, head_key, version_seed(), head)
            pipe.execute()
        except (RedisError, OSError):
            with self._lock:
                for pair, head in made.items():
                    self._bumps[pair] = max(self._bumps.get(pair, 0), head)
                self.pending = True
            self._failed("version bump")
        else:
            with self._lock:
                for pair, head in made.items():
                    if self._bumps.get(pair, -1) <= head:
                        self._bumps.pop(pair, None)
                self.pending = bool(self._deletes or self._bumps)

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
            self.pending = False

    def _failed(self, what: str) -> None:
        logger.warning("cache %s failed; will retry", what, exc_info=True)
        with self._lock:
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
