"""W3C trace context (DESIGN.md §12): every response carries `traceparent`, every log line the
`trace_id`; with `OTEL_EXPORTER_OTLP_ENDPOINT` set, OpenTelemetry records spans for the request,
each SQL statement and each Redis round trip and exports them over OTLP/HTTP.

Off (the default), the cost is reading one header and drawing 24 random bytes; no SDK is
loaded. On, the Django instrumentation opens the server span (continuing an incoming
`traceparent`) and `request_trace` reads its ids, so the header and the logs name the span
the collector has.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from django.http import HttpRequest

TRACEPARENT_HEADER = "traceparent"
_TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
_NO_TRACE, _NO_SPAN = "0" * 32, "0" * 16
_enabled = False


@dataclass(frozen=True, slots=True)
class Trace:
    trace_id: str
    span_id: str
    flags: str

    @property
    def traceparent(self) -> str:
        return f"00-{self.trace_id}-{self.span_id}-{self.flags}"


def request_trace(request: HttpRequest) -> Trace:
    """This request's trace: the recording span's when OpenTelemetry is on, otherwise the
    incoming trace continued (a new span id under it) or a new one."""
    if _enabled:
        from opentelemetry import trace

        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            return Trace(
                trace_id=f"{context.trace_id:032x}",
                span_id=f"{context.span_id:016x}",
                flags=f"{int(context.trace_flags):02x}",
            )
    match = _TRACEPARENT.fullmatch(request.headers.get(TRACEPARENT_HEADER, "").strip())
    if match and match[1] != _NO_TRACE and match[2] != _NO_SPAN:
        return Trace(trace_id=match[1], span_id=os.urandom(8).hex(), flags=match[3])
    return Trace(trace_id=os.urandom(16).hex(), span_id=os.urandom(8).hex(), flags="00")


def telemetry_setup() -> bool:
    """Starts OpenTelemetry when `OTEL_EXPORTER_OTLP_ENDPOINT` is set (called once per process,
    before the middleware loads: CoreConfig.ready). The exporter reads the standard OTEL_*
    variables (endpoint, headers, OTEL_SERVICE_NAME, batch delays)."""
    global _enabled
    if _enabled or not os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        return _enabled
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
    _enabled = True
    return True
