"""The benchmark floor: the cheapest request the full stack can serve (DESIGN.md §6)."""

from django.db import connection
from ninja import Router, Schema

from users.auth import SuperuserAuth

router = Router(tags=["ops"])


class DatabaseStatsOut(Schema):
    vendor: str
    pool_enabled: bool
    pool: dict[str, int]


@router.get("/floor", auth=None, include_in_schema=False)
def floor(request):
    """One `SELECT 1` through every middleware and Ninja: budgets are ratios to this."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return {"ok": True}


ops_router = Router(auth=SuperuserAuth(), tags=["ops"])


@ops_router.get("/database", response=DatabaseStatsOut)
def database(request):
    """Connection-pool statistics of this worker process (psycopg_pool `get_stats()`)."""
    pool = getattr(connection, "pool", None)
    return {
        "vendor": connection.vendor,
        "pool_enabled": pool is not None,
        "pool": {key: int(value) for key, value in pool.get_stats().items()} if pool else {},
    }
