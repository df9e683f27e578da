from ninja import Path, Router

from core.pagecache import cached_page
from dashboards.schemas import AdminDashboardOut, MyDashboardOut, StatsOut
from dashboards.selectors import dashboard_admin, dashboard_me, dashboard_stats
from orgs.permissions import ensure_admin
from orgs.tenancy import OrgMemberAuth

router = Router(auth=OrgMemberAuth(), tags=["dashboards"])


@router.get("/dashboards/stats", response=StatsOut)
def stats(request, org_slug: Path[str]):
    """Member counts of the org (admin). Cached 60 s per org data version; ETag → 304."""
    member = request.auth
    ensure_admin(member)
    return cached_page(
        request=request,
        org_id=member.org_id,
        version=member.org.data_version,
        name="dashboards.stats",
        audience="admin",
        params={},
        build=lambda: dashboard_stats(org=member.org),
    )


@router.get("/dashboards/admin", response=AdminDashboardOut)
def admin_dashboard(request, org_slug: Path[str], period_id: int | None = None):
    """Members, goals by status and category, completion per department and rating
    distribution for a period (default: the active one). Admin only; cached, ETag → 304."""
    member = request.auth
    ensure_admin(member)
    return cached_page(
        request=request,
        org_id=member.org_id,
        version=member.org.data_version,
        name="dashboards.admin",
        audience="admin",
        params={"period_id": period_id},
        build=lambda: dashboard_admin(org=member.org, period_id=period_id),
    )


@router.get("/dashboards/me", response=MyDashboardOut)
def my_dashboard(request, org_slug: Path[str], period_id: int | None = None):
    """The caller's own progress in a period (default: the active one)."""
    member = request.auth
    return cached_page(
        request=request,
        org_id=member.org_id,
        version=member.org.data_version,
        name="dashboards.me",
        audience=f"member:{member.pk}",
        params={"period_id": period_id},
        build=lambda: dashboard_me(org=member.org, member=member, period_id=period_id),
    )
