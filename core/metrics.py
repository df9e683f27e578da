"""Prometheus metrics of Cadence, next to django-prometheus's own.

Across gunicorn workers they are aggregated by prometheus_client's multiprocess mode when
`PROMETHEUS_MULTIPROC_DIR` is set (`make run` sets it; `config/gunicorn.conf.py` marks dead
workers).
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

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

# The job queue (jobs/, DESIGN.md §11). Durations and failures are observed by the worker
# process (shared PROMETHEUS_MULTIPROC_DIR: `make run` gives both the same); the queue gauges
# are read from PostgreSQL when /metrics is scraped, so they stay true with no worker running.
JOB_DURATION = Histogram(
    "cadence_job_duration_seconds",
    "Run time of background jobs by task and outcome (succeeded, failed, retried).",
    ["task", "outcome"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
)
JOB_FAILURES = Counter(
    "cadence_job_failures_total",
    "Background jobs that failed (an import refused or crashed; a webhook attempt that failed).",
    ["task"],
)
QUEUE_DEPTH = Gauge(
    "cadence_queue_depth",
    "Jobs waiting in the queue (due now), by queue.",
    ["queue"],
    multiprocess_mode="mostrecent",
)
QUEUE_OLDEST_AGE = Gauge(
    "cadence_queue_oldest_age_seconds",
    "Age of the oldest job waiting in the queue (0 when none waits).",
    multiprocess_mode="mostrecent",
)

# Refreshed when /metrics is scraped, not on every request: apps register a function that sets
# gauges read from elsewhere (the job queue's depth, from PostgreSQL).
_scrape_hooks: list = []


def scrape_hook_register(hook) -> None:
    if hook not in _scrape_hooks:
        _scrape_hooks.append(hook)


def scrape_hooks_run() -> None:
    for hook in _scrape_hooks:
        hook()
