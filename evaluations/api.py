from ninja import Path, Router

from core.pagecache import cached_page
from core.pagination import Cursor, Limit
from evaluations.schemas import (
    FeedbackIn,
    FeedbackOut,
    GoalListPageOut,
    InputPageOut,
    SelfAssessmentIn,
    SelfAssessmentOut,
    TeamPageOut,
)
from evaluations.selectors import goal_list_page_cached, input_page_cached, team_page_cached
from evaluations.services import feedback_put, self_assessment_put
from orgs.tenancy import OrgMemberAuth

router = Router(auth=OrgMemberAuth(), tags=["evaluations"])


@router.put("/goals/{id:goal_id}/self-assessment", response=SelfAssessmentOut)
def put_self_assessment(request, org_slug: Path[str], goal_id: int, payload: SelfAssessmentIn):
    member = request.auth
    return self_assessment_put(
        org=member.org,
        actor=member,
        goal_id=goal_id,
        rating=payload.rating,
        comment=payload.comment,
        status=payload.status,
    )


@router.put("/goals/{id:goal_id}/feedback", response=FeedbackOut)
def put_feedback(request, org_slug: Path[str], goal_id: int, payload: FeedbackIn):
    member = request.auth
    return feedback_put(
        org=member.org,
        actor=member,
        goal_id=goal_id,
        rating=payload.rating,
        comment=payload.comment,
        status=payload.status,
    )


@router.get("/evaluation/goal-list-page", response=GoalListPageOut)
def goal_list_page_view(
    request, org_slug: Path[str], period_id: int | None = None, member_id: int | None = None
):
    """One member's goals in a period with self-assessments, feedback, totals and the
    caller's permissions (default: the caller, the active period). Three SQL queries;
    cached 60 s per org data version and caller; ETag → 304."""
    m = request.auth
    page = goal_list_page_cached(org=m.org, actor=m, member_id=member_id, period_id=period_id)
    return cached_page(request=request, **page)


@router.get("/evaluation/input-page", response=InputPageOut)
def input_page_view(request, org_slug: Path[str], member_id: int, period_id: int | None = None):
    """The supervisor's (or an admin's) view of one report: the goal list with draft
    feedback plus the competency and core-value catalogs. Four SQL queries; an employee
    gets 403, a manager who is not the member's supervisor 404."""
    m = request.auth
    page = input_page_cached(org=m.org, actor=m, member_id=member_id, period_id=period_id)
    return cached_page(request=request, **page)


@router.get("/evaluation/team-page", response=TeamPageOut)
def team_page_view(
    request,
    org_slug: Path[str],
    period_id: int | None = None,
    cursor: Cursor | None = None,
    limit: Limit = 50,
):
    """The caller's direct reports (every member for an admin) with goal counts, progress
    and weighted score; cursor-paginated. Two SQL queries per page; employee → 403."""
    m = request.auth
    page = team_page_cached(org=m.org, actor=m, period_id=period_id, cursor=cursor, limit=limit)
    return cached_page(request=request, **page)
