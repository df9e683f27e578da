"""Django's PostgreSQL backend, except for the check the psycopg pool runs on checkout.

Django offers two choices with the pool: no check (CONN_HEALTH_CHECKS off: a connection the
server closed is handed out, and its request fails), or an empty query on every checkout (on:
a round trip per request, ~40 % of the floor). `core.db.pooled_connection_check` polls the
socket instead. Django builds the pool itself and passes `check=` explicitly, so it is set on
the pool right after (psycopg_pool keeps it in `_check`; versions are pinned)."""

from __future__ import annotations

from django.db.backends.postgresql import base

from core.db import pooled_connection_check


class DatabaseWrapper(base.DatabaseWrapper):
    @property
    def pool(self):
        pool = super().pool
        if pool is not None and pool._check is not pooled_connection_check:
            pool._check = pooled_connection_check
        return pool
