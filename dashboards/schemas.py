from datetime import datetime

from ninja import Field, Schema

from goals.schemas import PeriodBrief


class StatsOut(Schema):
    total_users: int
    active_users: int
    inactive_users: int
    admins: int
    new_users_today: int
    new_users_week: int
    timestamp: datetime


class GoalCounts(Schema):
    total: int
    weight_sum: int
    by_status: dict[str, int]


class GoalCountsWithCategory(GoalCounts):
    by_category: dict[str, int]


class MembersSummary(Schema):
    total: int
    active: int
    by_role: dict[str, int]


class DepartmentCompletion(Schema):
    department_id: int
    name: str
    members: int
    goals: int
    approved_goals: int
    self_assessments_submitted: int
    feedback_published: int
    completion_rate: float = Field(description="published feedback / approved goals")


class RatingCount(Schema):
    rating: int
    count: int


class RatingDistribution(Schema):
    self_assessment: list[RatingCount]
    feedback: list[RatingCount]


class AdminDashboardOut(Schema):
    period: PeriodBrief | None
    members: MembersSummary
    goals: GoalCountsWithCategory
    departments: list[DepartmentCompletion]
    rating_distribution: RatingDistribution


class MyDashboardOut(Schema):
    period: PeriodBrief | None
    member_id: int
    goals: GoalCounts
    self_assessments_submitted: int
    feedback_published: int
    weighted_score: float | None = Field(
        description="Σ(weight × published rating) / Σ(weight of goals with published feedback)"
    )
