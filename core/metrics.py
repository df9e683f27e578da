"""Prometheus metrics of Cadence, next to django-prometheus's own.

Across gunicorn workers they are aggregated by prometheus_client's multiprocess mode when
`PROMETHEUS_MULTIPROC_DIR` is set (`make run` sets it; `config/gunicorn.conf.py` marks dead
workers).
"""

from __future__ import annotations

import atexit
import os
import threading
from bisect import bisect_left

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


class DeferredMetrics:
    """Counter increments and histogram observations of the request path, added up in memory
    and written to prometheus_client's values at most `interval` seconds later: by a daemon
    thread of this process, and before every scrape (a scrape hook), so /metrics served by this
    process is exact and another process's view is at most `interval` behind.

    Why: in multiprocess mode (production) every increment locks, checks the pid and writes
    to an mmapped file (~1 µs a counter, ~2 µs a histogram observation); a request recorded
    ~20 of them, ~35 µs of CPU per floor request measured. Here one lock per request and a
    dict update per value; the writes happen once per value per interval, whatever the rate.

    The values are prometheus_client's own (`_value`, `_sum`, `_buckets`: the version is
    pinned, and perf/tests/test_metrics.py reads the exposition). Histogram buckets are
    per-bucket counts there (the exposition accumulates them), so one bucket is added to.
    """

    def __init__(self, interval: float = 1.0) -> None:
        self.interval = interval
        self._pending: dict = {}
        self._lock = threading.Lock()
        self._flusher_pid: int | None = None

    def record(self, counters, observations) -> None:
        """Adds 1 to each counter child of `counters` and observes each (histogram child,
        amount) of `observations`."""
        if self._flusher_pid != os.getpid():
            self._flusher_start()
        with self._lock:
            pending = self._pending
            for child in counters:
                value = child._value
                pending[value] = pending.get(value, 0) + 1
            for child, amount in observations:
                value = child._sum
                pending[value] = pending.get(value, 0) + amount
                value = child._buckets[bisect_left(child._upper_bounds, amount)]
                pending[value] = pending.get(value, 0) + 1

    def flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, {}
        for value, amount in pending.items():
            value.inc(amount)

    def _flusher_start(self) -> None:
        # Once per process (a forked worker starts its own: threads do not survive fork).
        with self._lock:
            if self._flusher_pid == os.getpid():
                return
            self._flusher_pid = os.getpid()
            self._pending = {}  # a parent's pending counts are the parent's
        threading.Thread(target=self._flush_forever, name="metrics-flush", daemon=True).start()

    def _flush_forever(self) -> None:
        wake = threading.Event()
        while not wake.wait(self.interval):
            self.flush()


deferred_metrics = DeferredMetrics()
scrape_hook_register(deferred_metrics.flush)
atexit.register(deferred_metrics.flush)
