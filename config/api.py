"""The NinjaAPI instance and its routers."""

from __future__ import annotations

from ninja import Swagger

from config import __version__
from core.api import CadenceAPI
from dashboards.api import router as dashboards_router
from evaluations.api import router as evaluations_router
from goals.api import router as goals_router
from jobs.api import router as jobs_router
from live.api import router as live_router
from orgs.api import account_router
from orgs.api import router as orgs_router
from perf.api import ops_router
from perf.api import router as perf_router
from users.api import router as auth_router

api = CadenceAPI(
    title="Cadence API",
    version=__version__,
    description="Multi-tenant performance management. Errors use one envelope (ErrorEnvelope).",
    docs=Swagger(),
    docs_url="/docs",
    openapi_url="/openapi.json",
    urls_namespace="api",
)

api.add_router("/auth/", auth_router)
api.add_router("/auth/", account_router)
api.add_router("/org/{org_slug}/", orgs_router)
api.add_router("/org/{org_slug}/", goals_router)
api.add_router("/org/{org_slug}/", evaluations_router)
api.add_router("/org/{org_slug}/", dashboards_router)
api.add_router("/org/{org_slug}/", live_router)
api.add_router("/org/{org_slug}/", jobs_router)
api.add_router("/perf/", perf_router)
api.add_router("/ops/", ops_router)
