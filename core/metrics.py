"""Prometheus metrics of Cadence, next to django-prometheus's own.

Across gunicorn workers they are aggregated by prometheus_client's multiprocess mode when
`PROMETHEUS_MULTIPROC_DIR` is set (`make run` sets it; `config/gunicorn.conf.py` marks dead
workers).
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

REQUEST_LATENCY = Histogram(
    "cadence_request_latency_seconds",
    "Request latency by route template.",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
REQUEST_QUERIES = Histogram(
    "cadence_request_sql_queries",
    "SQL queries per request by route template.",
    ["method", "route"],
    buckets=(0, 1, 2, 3, 4, 5, 8, 13, 21, 50),
)
CACHE_LOOKUPS = Counter(
    "cadence_cache_lookups_total", "Cache keys looked up, by result.", ["result"]
)
