"""Page and dashboard reads from a streaming read replica (DESIGN.md §9), correct after writes.

With `DATABASE_REPLICA_URL` set, the settings add the `replica` alias and `ReplicaRouter`. The
router sends a read to the replica only inside `replica_build`, which `core.pagecache` wraps
around a page's build — the one place every page and dashboard is built — so writes, auth,
tenancy, the admin and every other read stay on the primary without any selector knowing.
Without the setting nothing here runs a query: no alias, no router, no check.

Reads after writes: every write moves its org's change head (`Organization.change_seq`) in its
own transaction, and after the commit publishes the head to Redis with the org's data version
(one atomic step, orgs.audit); tenant resolution reads both in its one MGET. So the request
knows the head its page key's version stands for, and asks the replica, first, for its own
view of it (one primary-key lookup). A replica that has not replayed that head would show the
pre-write state: the page is built on the primary instead, and cached, since it is correct for
its key. A replica that has replayed it shows at least that state (a standby replays whole
transactions in commit order, and one request uses one replica connection, so it does not go
back). The check is a callable the caller passes, so core/ names no app's table.

A replica that cannot be reached costs one pool timeout, then the primary serves the pages
for `REPLICA_DOWN_SECONDS` before the replica is tried again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

import structlog
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db import Error as DatabaseError
from prometheus_client import Counter

from core.errors import is_database_unavailable

REPLICA = "replica"
REPLICA_DOWN_SECONDS = 5.0
PAGE_BUILDS = Counter(
    "cadence_page_builds_total",
    "Page and dashboard builds with a replica configured, by where they read: replica; "
    "primary_lag (the replica had not replayed the caller's last write); primary_error "
    "(the replica failed or was unreachable).",
    ["source"],
)
logger = structlog.get_logger("cadence.replica")
T = TypeVar("T")

_reading_replica: ContextVar[bool] = ContextVar("reading_replica", default=False)
_replica_down_until = 0.0


def replica_configured() -> bool:
    return REPLICA in settings.DATABASES


@contextmanager
def _replica_reads() -> Iterator[None]:
    token = _reading_replica.set(True)
    try:
        yield
    finally:
        _reading_replica.reset(token)


def _replica_failed(exc: DatabaseError) -> None:
    """An unreachable replica is not asked again for `REPLICA_DOWN_SECONDS`, by page builds
    and `/health` alike (a replay conflict is not an outage: it is asked again at once)."""
    global _replica_down_until
    if is_database_unavailable(exc):
        _replica_down_until = time.monotonic() + REPLICA_DOWN_SECONDS


def replica_build(build: Callable[[], T], *, caught_up: Callable[[], bool] | None) -> T:
    """`build()`, reading from the replica when `caught_up()` (run there first) says it has
    replayed what the caller must see; else, or when the replica fails, from the primary.
    `caught_up=None` (nothing to compare with: Redis was unreachable) means the primary."""
    if caught_up is None or not replica_configured() or time.monotonic() < _replica_down_until:
        return build()
    try:
        with _replica_reads():
            if caught_up():
                page = build()
                PAGE_BUILDS.labels("replica").inc()
                return page
        PAGE_BUILDS.labels("primary_lag").inc()
    except DatabaseError as exc:  # a replay conflict, or the replica is gone: the primary answers
        _replica_failed(exc)
        logger.warning("replica read failed", error=str(exc).strip()[:200])
        PAGE_BUILDS.labels("primary_error").inc()
    return build()


# Seconds since the last replayed transaction, 0 when the standby has replayed all it received.
_LAG_SQL = """
SELECT CASE WHEN pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn() THEN 0
            ELSE EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()) END
"""


def replica_check() -> dict[str, Any]:
    """`/health`'s `replica` entry (with `DATABASE_REPLICA_URL`; core.apps registers it): its
    replay lag, or `down` (the service is then `degraded`: pages are built on the primary). In
    the `REPLICA_DOWN_SECONDS` after a failure it is reported down without a new attempt, so
    `/health` does not wait a pool timeout each time."""
    if time.monotonic() < _replica_down_until:
        return {"status": "down"}
    try:
        with connections[REPLICA].cursor() as cursor:
            cursor.execute(_LAG_SQL)
            (lag,) = cursor.fetchone()
    except DatabaseError as exc:
        _replica_failed(exc)
        raise
    return {"lag_seconds": round(float(lag or 0), 3)}


class ReplicaRouter:
    """Reads inside `replica_build` go to the replica; nothing else has an opinion here, so
    Django's default (the primary) holds. The replica is never migrated: it replays the
    primary's schema."""

    def db_for_read(self, model: Any, **hints: Any) -> str | None:
        return REPLICA if _reading_replica.get() else None

    def db_for_write(self, model: Any, **hints: Any) -> str | None:
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool:
        return True  # the same rows on both: an object read from either may relate to another

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool:
        return db != REPLICA
