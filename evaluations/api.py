from ninja import Path, Router

from evaluations.schemas import FeedbackIn, FeedbackOut, SelfAssessmentIn, SelfAssessmentOut
from evaluations.services import feedback_put, self_assessment_put
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
