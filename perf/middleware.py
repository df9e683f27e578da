"""Everything a request reports, in one wrap around the whole stack (DESIGN.md §4, §12).

`ObservabilityMiddleware` (first in MIDDLEWARE) gives every response, even one made by a later
layer, its `X-Request-ID`, `traceparent` and `Server-Timing` (e.g. `app;dur=2.1,
db;dur=0.8;desc="2 queries", cache;dur=0.2;desc="1 calls"`; off with `SERVER_TIMING=false`),
writes one structured JSON log line (logger `cadence.request`), and records the Prometheus
metrics: Cadence's per-route histograms (core.metrics) and every metric django-prometheus's
before/after pair recorded, under the same names and labels (dashboards keep working).
`ExceptionMetricsMiddleware` (last in MIDDLEWARE) counts the exceptions of views, before the
error envelope turns them into responses.

Why one wrap: the four layers it replaces (django-prometheus's two, the request id, the timing
layer) cost ~110-130 µs of CPU per floor request, measured in process (README "Known costs");
these two cost ~35. The savings, each measured:
- one call frame instead of four, no `MiddlewareMixin` dispatch, no `process_view` hook;
- the labelled Prometheus children looked up once per (method, status, view, route, …) key
  (`metric.labels()` validates and hashes on every call), and their ~20 writes per request
  added up in memory and written once a second (core.metrics.DeferredMetrics);
- the log line is skipped entirely when `cadence.request` is filtered out (structlog ran its
  whole processor chain before the level check), and otherwise built as one flat dict that
  `perf.instrumentation.JsonLineFormatter` writes with one `orjson.dumps`;
- headers read from `request.META` (`request.headers` copies every header on first use).

Both latencies of django-prometheus (`…_including_middlewares_seconds` and
`…_seconds_by_view_method`) are now the same measurement, around the whole stack: with one
wrap there is no inner point to start the second from.
"""

from __future__ import annotations

import datetime
import logging
import time

import structlog
from django.conf import settings
from django.db import connection
from django_prometheus.middleware import Metrics

from core.metrics import REQUEST_LATENCY, REQUEST_QUERIES, deferred_metrics
from core.middleware import REQUEST_ID_HEADER, TRACEPARENT_HEADER, request_id_of, request_trace
from perf.instrumentation import REQUEST_LOGGER, RequestStats, count_queries, current_stats

request_log = logging.getLogger(REQUEST_LOGGER)
_INFO = logging.INFO
_UTC = datetime.UTC
_clear_contextvars = structlog.contextvars.clear_contextvars
_bind_contextvars = structlog.contextvars.bind_contextvars
_get_contextvars = structlog.contextvars.get_contextvars

# django-prometheus's label for methods outside this set (so attackers cannot grow /metrics).
_KNOWN_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "DELETE", "TRACE", "OPTIONS", "CONNECT", "PATCH"}
)
_UNNAMED_VIEW = "<unnamed view>"
# The label children of one kind of request; the key's values are bounded (known methods,
# statuses, the URLconf's routes, the app's charsets); the bound guards against surprises.
_CHILDREN_MAX = 10_000


def server_timing(duration_ms: float, stats: RequestStats) -> str:
    return (
        f"app;dur={duration_ms:.1f}, "
        f'db;dur={stats.db_seconds * 1000:.1f};desc="{stats.db_queries} queries", '
        f'cache;dur={stats.cache_seconds * 1000:.1f};desc="{stats.cache_calls} calls"'
    )


class _Children:
    """The labelled metric children one kind of request writes to: the counters it adds 1 to
    (django-prometheus's unlabelled request/response totals included) and its histograms."""

    __slots__ = ("counters", "latency_histograms", "queries")

    def __init__(self, metrics: Metrics, key: tuple) -> None:
        method, transport, status, view, route, charset, raw_method, resolved = key
        counters = [
            metrics.requests_total,
            metrics.responses_total,
            metrics.requests_by_method.labels(method=method),
            metrics.requests_by_transport.labels(transport=transport),
            metrics.responses_by_status.labels(status=status),
            metrics.responses_by_status_view_method.labels(status=status, view=view, method=method),
        ]
        if resolved:  # django-prometheus counted it in process_view: the view was reached
            counters.append(
                metrics.requests_by_view_transport_method.labels(
                    view=view, transport=transport, method=method
                )
            )
        if charset is not None:
            counters.append(metrics.responses_by_charset.labels(charset=charset))
        self.counters = tuple(counters)
        self.latency_histograms = (
            metrics.requests_latency_before,
            metrics.requests_latency_by_view_method.labels(view=view, method=raw_method),
            REQUEST_LATENCY.labels(raw_method, route),
        )
        self.queries = REQUEST_QUERIES.labels(raw_method, route)


class ObservabilityMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.metrics = Metrics.get_instance()
        self._children: dict[tuple, _Children] = {}

    def __call__(self, request):
        started = time.perf_counter()
        request_id = request.request_id = request_id_of(request)
        trace = request_trace(request)
        # Auth adds org and user_id to this context; the request log line carries them all.
        _clear_contextvars()
        _bind_contextvars(request_id=request_id, trace_id=trace.trace_id)
        stats = RequestStats()
        token = current_stats.set(stats)
        wrappers = connection.execute_wrappers
        wrappers.append(count_queries)
        try:
            response = self.get_response(request)
        finally:
            wrappers.remove(count_queries)
            current_stats.reset(token)
        try:
            duration = time.perf_counter() - started
            request.stats = stats
            response[REQUEST_ID_HEADER] = request_id
            response[TRACEPARENT_HEADER] = trace.traceparent
            if settings.SERVER_TIMING:
                response["Server-Timing"] = server_timing(duration * 1000, stats)
            route = self._observe(request, response, duration, stats)
            if request_log.isEnabledFor(_INFO):
                _log_line(request, response, route, duration, stats)
        finally:
            _clear_contextvars()
        return response

    def _observe(self, request, response, duration: float, stats: RequestStats) -> str:
        """Records the metrics of a served request (core.metrics.deferred_metrics); returns
        its route template."""
        metrics = self.metrics
        raw_method = request.method
        method = raw_method if raw_method in _KNOWN_METHODS else "<invalid method>"
        match = getattr(request, "resolver_match", None)
        if match is not None:
            view, route = match.view_name or _UNNAMED_VIEW, match.route
        else:
            view, route = _UNNAMED_VIEW, "unmatched"
        transport = "https" if request.is_secure() else "http"
        charset = str(response.charset) if hasattr(response, "charset") else None
        status = str(response.status_code)
        key = (method, transport, status, view, route, charset, raw_method, match is not None)
        children = self._children.get(key)
        if children is None:
            children = _Children(metrics, key)
            # An unknown method's raw label is the client's to choose: never kept.
            if method == raw_method and len(self._children) < _CHILDREN_MAX:
                self._children[key] = children

        meta = request.META
        counters = children.counters
        if meta.get("HTTP_X_REQUESTED_WITH") == "XMLHttpRequest":
            counters += (metrics.requests_ajax,)
        if hasattr(response, "template_name"):
            counters += (
                metrics.responses_by_templatename.labels(templatename=str(response.template_name)),
            )
        observations = [(histogram, duration) for histogram in children.latency_histograms]
        observations.append((children.queries, stats.db_queries))
        observations.append(
            (metrics.requests_body_bytes, _content_length(meta.get("CONTENT_LENGTH")))
        )
        if response.streaming:
            counters += (metrics.responses_streaming,)
        else:
            observations.append((metrics.responses_body_bytes, len(response.content)))
        deferred_metrics.record(counters, observations)
        return route


def _content_length(value: str | None) -> int:
    if not value:
        return 0
    try:
        return int(value)
    except ValueError:
        return 0


def _log_line(request, response, route: str, duration: float, stats: RequestStats) -> None:
    """One flat dict, the fields structlog's chain gave it (context first: request_id,
    trace_id, org, user_id), handed to the handlers as the record's msg; formatted by
    `JsonLineFormatter` with one orjson call. `makeRecord` directly: `Logger.info` would walk
    the stack to find the caller, which this line never reports."""
    line = _get_contextvars()
    line["event"] = "request"
    line["method"] = request.method
    line["route"] = route
    line["status"] = response.status_code
    line["duration_ms"] = round(duration * 1000, 2)
    line["db_queries"] = stats.db_queries
    line["db_ms"] = round(stats.db_seconds * 1000, 2)
    line["cache_calls"] = stats.cache_calls
    line["cache_ms"] = round(stats.cache_seconds * 1000, 2)
    line["level"] = "info"
    line["logger"] = REQUEST_LOGGER
    line["timestamp"] = datetime.datetime.now(_UTC).isoformat().replace("+00:00", "Z")
    request_log.handle(request_log.makeRecord(REQUEST_LOGGER, _INFO, __file__, 0, line, (), None))


class ExceptionMetricsMiddleware:
    """django-prometheus's exception counters. Last in MIDDLEWARE: Django asks the innermost
    layer's `process_exception` first, before the error envelope answers the exception."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.metrics = Metrics.get_instance()

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        self.metrics.exceptions_by_type.labels(type=type(exception).__name__).inc()
        match = getattr(request, "resolver_match", None)
        if match is not None:
            self.metrics.exceptions_by_view.labels(view=match.view_name or _UNNAMED_VIEW).inc()
        return None
