"""Times every request, counts its SQL queries and Redis round trips, and reports them.

Each response gets a `Server-Timing` header (DESIGN.md §4), e.g.
`app;dur=2.1, db;dur=0.8;desc="2 queries", cache;dur=0.2;desc="1 calls"`, unless
`SERVER_TIMING=false`; each request writes one structured JSON log line.
"""

from __future__ import annotations

import time

import structlog
from django.conf import settings
from django.db import connection

from core.metrics import REQUEST_LATENCY, REQUEST_QUERIES
from perf.instrumentation import RequestStats, count_queries, current_stats

logger = structlog.get_logger("cadence.request")


def server_timing(duration_ms: float, stats: RequestStats) -> str:
    return (
        f"app;dur={duration_ms:.1f}, "
        f'db;dur={stats.db_seconds * 1000:.1f};desc="{stats.db_queries} queries", '
        f'cache;dur={stats.cache_seconds * 1000:.1f};desc="{stats.cache_calls} calls"'
    )


class InstrumentationMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        stats = RequestStats()
        token = current_stats.set(stats)
        started = time.perf_counter()
        try:
            with connection.execute_wrapper(count_queries):
                response = self.get_response(request)
        finally:
            current_stats.reset(token)
        duration_ms = (time.perf_counter() - started) * 1000
        request.stats = stats
        if settings.SERVER_TIMING:
            response["Server-Timing"] = server_timing(duration_ms, stats)
        match = getattr(request, "resolver_match", None)
        route = match.route if match else "unmatched"
        REQUEST_LATENCY.labels(request.method, route).observe(duration_ms / 1000)
        REQUEST_QUERIES.labels(request.method, route).observe(stats.db_queries)
        logger.info(
            "request",
            method=request.method,
            route=route,
            status=response.status_code,
            duration_ms=round(duration_ms, 2),
            db_queries=stats.db_queries,
            db_ms=round(stats.db_seconds * 1000, 2),
            cache_calls=stats.cache_calls,
            cache_ms=round(stats.cache_seconds * 1000, 2),
        )
        return response
