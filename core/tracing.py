"""W3C trace context (DESIGN.md §12): every response carries `traceparent`, every log line the
`trace_id`; with `OTEL_EXPORTER_OTLP_ENDPOINT` set, OpenTelemetry records spans for the request,
each SQL statement and each Redis round trip and exports them over OTLP/HTTP.

The header and the log field come from `core.middleware.request_trace`. Off (the default),
the cost is reading one header and drawing 24 random bytes (~3 µs); no SDK is loaded. On, the
Django instrumentation opens the server span (continuing an incoming `traceparent`) and
`request_trace` reads its ids, so the header and the logs name the span the collector has.
"""

from __future__ import annotations

import os

# Set once OpenTelemetry is recording (telemetry_setup): core.middleware reads the span's ids.
enabled = False


def telemetry_setup() -> bool:
    """Starts OpenTelemetry when `OTEL_EXPORTER_OTLP_ENDPOINT` is set (called once per process,
    before the middleware loads: CoreConfig.ready). The exporter reads the standard OTEL_*
    variables (endpoint, headers, OTEL_SERVICE_NAME, batch delays)."""
    global enabled
    if enabled or not os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        return enabled
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    service = os.environ.get("OTEL_SERVICE_NAME", "cadence")
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    DjangoInstrumentor().instrument()
    PsycopgInstrumentor().instrument(enable_commenter=False)
    RedisInstrumentor().instrument()
    enabled = True
    return True
