from ninja import Path, Router

from dashboards.schemas import StatsOut
from dashboards.selectors import dashboard_stats
from orgs.pagecache import cached_page
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
        member=member,
        name="dashboards.stats",
        audience="admin",
        params={},
        build=lambda: dashboard_stats(org=member.org),
    )
