"""Test-only URLconf: the real one plus a plain Django view under /api/ that raises."""

from django.urls import path

from config.urls import urlpatterns as real_urlpatterns

CRASH_SECRET = "secret-internals-of-the-crash-0451"


def crash(request):
    raise RuntimeError(CRASH_SECRET)


urlpatterns = [path("api/test-crash", crash), *real_urlpatterns]
