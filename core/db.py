"""Database connection helpers shared by settings and the kernel."""

from __future__ import annotations

import select
from typing import Any
from urllib.parse import quote

import psycopg
from psycopg_pool import ConnectionPool


def pooled_connection_check(conn: psycopg.Connection) -> None:
    """The pool's check when it hands out a connection, without a round trip when nothing
    happened. Django's CONN_HEALTH_CHECKS with the pool runs `ConnectionPool.check_connection`
    (an empty query) on every checkout: measured, ~40 % of the floor request in-process. A
    healthy idle connection has nothing to read; one the server closed (restart, shutdown,
    idle timeout) has its FATAL message or EOF waiting. So: poll the socket (one syscall), and
    only when it is readable do the full check, which raises on a dead connection (the pool
    then discards it and hands out another)."""
    if conn.closed or conn.broken:
        raise psycopg.OperationalError("the pooled connection is closed")
    readable, _, _ = select.select([conn.fileno()], [], [], 0)
    if readable:
        ConnectionPool.check_connection(conn)


def database_url(db: dict[str, Any]) -> str:
    """The database of these settings as a DATABASE_URL, for a server process started beside
    this one (a test database has a name of its own, known only at run time)."""
    user, password = quote(db["USER"] or "", safe=""), quote(db["PASSWORD"] or "", safe="")
    credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    # A unix socket directory comes as HOST or, from `?host=` in the URL, as OPTIONS["host"].
    host = db["HOST"] or db.get("OPTIONS", {}).get("host", "")
    port, name = db["PORT"] or "", quote(db["NAME"], safe="")
    if host.startswith("/"):
        query = f"?host={quote(host, safe='/')}" + (f"&port={port}" if port else "")
        return f"postgresql://{credentials}/{name}{query}"
    return f"postgresql://{credentials}{host}{f':{port}' if port else ''}/{name}"
