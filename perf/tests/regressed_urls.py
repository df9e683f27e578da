"""A test URLconf: the project's URLs with two regressions injected, for the perf gate's test
(`test_gate.py`, which points `ROOT_URLCONF` here): `org/me` made `SLEEP_SECONDS` slower by a
`time.sleep` in front of its view, and the team page one SQL query heavier. Every other URL
is the project's own; no production code path knows of this module.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable

from django.conf import settings
from django.db import connection
from django.urls import URLPattern, include, path, resolve

PROJECT_URLCONF = settings.ROOT_URLCONF  # read when the test module imports this one
# org_me takes ~1 ms and its budget is 3× the floor's p95. With load average 9–10 on 2 cores
# the floor's p95 reached ~15 ms and a 50 ms sleep measured only 3.6–3.7× (once under 3):
# 150 ms keeps the injected regression far over the budget on a machine that busy.
SLEEP_SECONDS = 0.15


def _slower(view: Callable) -> Callable:
    @functools.wraps(view)
    def slower(request, *args, **kwargs):
        time.sleep(SLEEP_SECONDS)
        return view(request, *args, **kwargs)

    return slower


def _one_more_query(view: Callable) -> Callable:
    @functools.wraps(view)
    def heavier(request, *args, **kwargs):
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return view(request, *args, **kwargs)

    return heavier


def _wrapped(example: str, wrap: Callable[[Callable], Callable]) -> URLPattern:
    """The project's route serving `example`, its view wrapped; listed first, so it wins."""
    match = resolve(example, urlconf=PROJECT_URLCONF)
    return path(match.route, wrap(match.func), name=match.url_name)


urlpatterns = [
    _wrapped("/api/org/any/me", _slower),
    _wrapped("/api/org/any/evaluation/team-page", _one_more_query),
    path("", include(PROJECT_URLCONF)),
]
