"""Per-request counters for SQL queries and Redis round trips.

The counters live in a context variable that `perf.middleware` opens for each request, so
they are exact per request under threads and under asyncio alike. Redis is counted at the
connection: one `send_packed_command` is one round trip (an MGET or a whole pipeline is one).

`JsonLineFormatter` writes the log lines (config.settings LOGGING).
"""

from __future__ import annotations

import time
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cache

import orjson
import redis
from django_redis.client import DefaultClient
from structlog.stdlib import ProcessorFormatter

from core.metrics import CACHE_LOOKUPS

_MISSING = object()
REQUEST_LOGGER = "cadence.request"


@dataclass(slots=True)
class RequestStats:
    db_queries: int = 0
    db_seconds: float = 0.0
    cache_calls: int = 0
    cache_seconds: float = 0.0


current_stats: ContextVar[RequestStats | None] = ContextVar("current_stats", default=None)


def count_queries(execute, sql, params, many, context):
    """A `connection.execute_wrapper` that counts and times every SQL statement."""
    stats = current_stats.get()
    if stats is None:
        return execute(sql, params, many, context)
    started = time.perf_counter()
    try:
        return execute(sql, params, many, context)
    finally:
        stats.db_queries += 1
        stats.db_seconds += time.perf_counter() - started


@cache
def _instrumented(connection_class: type) -> type:
    class InstrumentedConnection(connection_class):
        def send_packed_command(self, command, check_health=True):
            stats = current_stats.get()
            if stats is None:
                return super().send_packed_command(command, check_health)
            started = time.perf_counter()
            try:
                return super().send_packed_command(command, check_health)
            finally:
                stats.cache_calls += 1
                stats.cache_seconds += time.perf_counter() - started

        def read_response(self, *args, **kwargs):
            stats = current_stats.get()
            if stats is None:
                return super().read_response(*args, **kwargs)
            started = time.perf_counter()
            try:
                return super().read_response(*args, **kwargs)
            finally:
                stats.cache_seconds += time.perf_counter() - started

    InstrumentedConnection.__name__ = f"Instrumented{connection_class.__name__}"
    return InstrumentedConnection


class InstrumentedConnectionPool(redis.ConnectionPool):
    """A redis-py pool whose connections (TCP or unix socket) report to `current_stats`."""

    def __init__(self, connection_class=redis.Connection, **kwargs):
        super().__init__(connection_class=_instrumented(connection_class), **kwargs)


class InstrumentedRedisClient(DefaultClient):
    """django-redis's client, counting cache hits and misses for /metrics."""

    def get(self, key, default=None, version=None, client=None):
        value = super().get(key, default=_MISSING, version=version, client=client)
        if value is _MISSING:
            CACHE_LOOKUPS.labels("miss").inc()
            return default
        CACHE_LOOKUPS.labels("hit").inc()
        return value

    def get_many(self, keys, version=None, client=None):
        found = super().get_many(keys, version=version, client=client)
        if found:
            CACHE_LOOKUPS.labels("hit").inc(len(found))
        if len(keys) > len(found):
            CACHE_LOOKUPS.labels("miss").inc(len(keys) - len(found))
        return found


class JsonLineFormatter(ProcessorFormatter):
    """structlog's JSON lines, with a fast path for the per-request line: perf.middleware hands
    it over as a finished flat dict, written here with one `orjson.dumps` (through structlog's
    chain and `json.dumps` the line cost ~60 µs of CPU, now ~30, most of it the LogRecord and
    the write). Every other record goes through structlog."""

    def format(self, record):
        if record.name == REQUEST_LOGGER and type(record.msg) is dict:
            return orjson.dumps(record.msg, default=str).decode()
        return super().format(record)
