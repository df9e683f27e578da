from ninja import Path, Router

from core.pagecache import cached_page
from dashboards.schemas import AdminDashboardOut, MyDashboardOut, StatsOut
from dashboards.selectors import dashboard_admin_cached, dashboard_me_cached, dashboard_stats_cached
from orgs.tenancy import OrgMemberAuth

router = Router(auth=OrgMemberAuth(), tags=["dashboards"])


@router.get("/dashboards/stats", response=StatsOut)
def stats(request, org_slug: Path[str]):
    """Member counts of the org (admin). Cached 60 s per org data version; ETag → 304."""
    m = request.auth
    return cached_page(request=request, **dashboard_stats_cached(org=m.org, actor=m))


@router.get("/dashboards/admin", response=AdminDashboardOut)
def admin_dashboard(request, org_slug: Path[str], period_id: int | None = None):
    """Members, goals by status and category, completion per department and rating
    distribution for a period (default: the active one). Admin only; cached, ETag → 304."""
    m = request.auth
    page = dashboard_admin_cached(org=m.org, actor=m, period_id=period_id)
    return cached_page(request=request, **page)


@router.get("/dashboards/me", response=MyDashboardOut)
def my_dashboard(request, org_slug: Path[str], period_id: int | None = None):
    """The caller's own progress in a period (default: the active one)."""
    m = request.auth
    page = dashboard_me_cached(org=m.org, member=m, period_id=period_id)
    return cached_page(request=request, **page)
