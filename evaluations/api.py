from ninja import Path, Router

from evaluations.schemas import (
    FeedbackIn,
    FeedbackOut,
    GoalListPageOut,
    SelfAssessmentIn,
    SelfAssessmentOut,
)
from evaluations.selectors import goal_list_page
from evaluations.services import feedback_put, self_assessment_put
from orgs.pagecache import cached_page
from orgs.tenancy import OrgMemberAuth

router = Router(auth=OrgMemberAuth(), tags=["evaluations"])


@router.put("/goals/{goal_id}/self-assessment", response=SelfAssessmentOut)
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


@router.put("/goals/{goal_id}/feedback", response=FeedbackOut)
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
    member = request.auth
    owner_id = member_id or member.pk
    return cached_page(
        request=request,
        member=member,
        name="evaluations.goal_list_page",
        audience=f"{member.pk}:{owner_id}",
        params={"period_id": period_id, "member_id": owner_id},
        build=lambda: goal_list_page(
            org=member.org, actor=member, member_id=owner_id, period_id=period_id
        ),
    )
