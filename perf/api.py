"""The benchmark floor: the cheapest request the full stack can serve (DESIGN.md §6)."""

from django.db import connection
from ninja import Router

router = Router(tags=["ops"])


@router.get("/floor", auth=None, include_in_schema=False)
def floor(request):
    """One `SELECT 1` through every middleware and Ninja: budgets are ratios to this."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return {"ok": True}
