"""Input and output shapes of evaluations (DESIGN.md §4). Inputs forbid unknown fields."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from ninja import Schema
from pydantic import Field

from core.inputs import StrictIn, json_int
from goals.schemas import CatalogOut, GoalOut, PeriodBrief
from orgs.schemas import MemberOut

# Outer bounds only (the widest scale an org may choose); the org's own scale is checked by
# the service, which answers with the same loc (["body", "rating"]).
# JsonInt, not strict: 5.0 is an integer in JSON Schema, "5" and true are not.
Rating = json_int(ge=1, le=10)
Comment = Annotated[str, Field(max_length=5000)]


class SelfAssessmentIn(StrictIn):
    rating: Rating
    comment: Comment = ""  # PUT replaces: an omitted comment is stored as ""
    status: Literal["draft", "submitted"]


class FeedbackIn(StrictIn):
    rating: Rating
    comment: Comment = ""
    status: Literal["draft", "published"]


class SelfAssessmentOut(Schema):
    id: int
    goal_id: int
    rating: int
    comment: str
    status: str
    submitted_at: datetime | None
    created_at: datetime
    updated_at: datetime


class FeedbackOut(Schema):
    id: int
    goal_id: int
    author_id: int | None
    rating: int
    comment: str
    status: str
    published_at: datetime | None
    created_at: datetime
    updated_at: datetime


# --- Page-shaped reads ------------------------------------------------------------------


class PageGoalOut(GoalOut):
    self_assessment: SelfAssessmentOut | None
    feedback: FeedbackOut | None


class ByStatusOut(Schema):
    draft: int
    submitted: int
    approved: int
    rejected: int


class GoalTotalsOut(Schema):
    weight_sum: int
    by_status: ByStatusOut
    weighted_score: float | None


class PagePermissionsOut(Schema):
    can_edit: bool
    can_submit: bool
    can_approve: bool
    can_give_feedback: bool


class GoalListPageOut(Schema):
    period: PeriodBrief | None
    owner: MemberOut
    goals: list[PageGoalOut]
    totals: GoalTotalsOut
    permissions: PagePermissionsOut


class InputPageOut(GoalListPageOut):
    competencies: list[CatalogOut]
    core_values: list[CatalogOut]


class TeamGoalsOut(Schema):
    total: int
    by_status: ByStatusOut


class TeamItemOut(Schema):
    member: MemberOut
    goals: TeamGoalsOut
    self_assessments_submitted: int
    feedback_published: int
    weighted_score: float | None


class TeamPageOut(Schema):
    items: list[TeamItemOut]
    next_cursor: str | None
