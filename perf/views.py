"""`/metrics`: Prometheus text, for loopback callers or with the METRICS_TOKEN bearer."""

import hmac

from django.conf import settings
from django.http import HttpResponse
from django_prometheus.exports import ExportToDjangoView

from core.metrics import scrape_hooks_run

LOOPBACK = {"127.0.0.1", "::1"}


def metrics(request):
    token = settings.METRICS_TOKEN
    presented = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    allowed = request.META.get("REMOTE_ADDR") in LOOPBACK or (
        bool(token) and hmac.compare_digest(presented, token)
    )
    if not allowed:
        return HttpResponse("Forbidden\n", status=403, content_type="text/plain")
    scrape_hooks_run()
    return ExportToDjangoView(request)
