"""Rate limits hold across processes: two real gunicorn servers share one budget in Redis."""

import json
import os
import time
import urllib.error
import urllib.request
from contextlib import ExitStack

from django.conf import settings

from conftest import RUN_PREFIX
from core.tests.servers import gunicorn_start, process_stop

LIMIT = 6


def _get(port: int, path: str) -> tuple[int, dict, dict]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as resp:  # noqa: S310
            return resp.status, dict(resp.headers), {}
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), json.loads(exc.read() or b"{}")


def _start_server(stack: ExitStack) -> int:
    env = {
        **os.environ,
        "DEBUG": "true",
        "REDIS_URL": settings.CACHES["default"]["LOCATION"],
        "CACHE_KEY_PREFIX": RUN_PREFIX,  # the suite's prefix: its cache flush cleans up
        "RATE_LIMITS_ENABLED": "true",
        "RATE_LIMIT_ANON": f"{LIMIT}/h",  # an hour window: no boundary in the middle of the test
        "LOG_LEVEL": "warning",
    }
    server, port = gunicorn_start(env)
    stack.callback(process_stop, server)
    return port


def test_two_servers_share_one_anonymous_budget_per_ip():
    if time.time() % 3600 > 3600 - 30:
        time.sleep(31)  # let the hour window turn before starting
    with ExitStack() as stack:
        ports = [_start_server(stack), _start_server(stack)]

        statuses = [_get(ports[n % 2], "/api/no-such-path")[0] for n in range(LIMIT)]
        assert statuses == [404] * LIMIT
        for port in ports:
            status, headers, body = _get(port, "/api/no-such-path")
            assert status == 429, (status, body)
            assert body["error"] == "rate_limited"
            assert 1 <= int(headers["Retry-After"]) <= 3600
