"""The pool hands out only live connections, without a round trip per checkout (core.db)."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest
from django.db import connection

from core.tests.servers import gunicorn_start, process_stop, server_env

pytestmark = pytest.mark.usefixtures("transactional_db")


def _status(port: int, path: str) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:  # noqa: S310
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_a_pooled_connection_the_server_closed_is_replaced_not_served(django_db_setup):
    # One connection: the next request must get it or its heir.
    env = server_env(DB_POOL_MIN_SIZE="1", DB_POOL_MAX_SIZE="1")
    server, port = gunicorn_start(env)
    try:
        assert _status(port, "/api/perf/floor") == 200
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            (terminated,) = cursor.fetchone()
        assert terminated >= 1

        # The socket of the dead connection is readable (FATAL, EOF): the check sees it, the
        # pool discards it and connects anew. Without a check this request would be a 503.
        assert [_status(port, "/api/perf/floor") for _ in range(3)] == [200, 200, 200]
    finally:
        process_stop(server)
