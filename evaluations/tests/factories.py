import factory

from evaluations.models import SelfAssessment, SupervisorFeedback
from goals.tests.factories import GoalFactory


class SelfAssessmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SelfAssessment

    goal = factory.SubFactory(GoalFactory, status="approved")
    org = factory.LazyAttribute(lambda row: row.goal.org)
    rating = 4
    comment = "Went well."
    status = SelfAssessment.Status.SUBMITTED


class SupervisorFeedbackFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SupervisorFeedback

    goal = factory.SubFactory(GoalFactory, status="approved")
    org = factory.LazyAttribute(lambda row: row.goal.org)
    author = factory.LazyAttribute(lambda row: row.goal.owner.supervisor)
    rating = 3
    comment = "Solid."
    status = SupervisorFeedback.Status.PUBLISHED


def rated_goal(owner, period, *, weight, rating, feedback_status, feedback_rating=None):
    """An approved goal with a submitted self-assessment rated `rating` and feedback in
    `feedback_status` rated `feedback_rating` (the same rating unless given)."""
    goal = GoalFactory(owner=owner, period=period, status="approved", weight=weight)
    SelfAssessmentFactory(goal=goal, rating=rating)
    SupervisorFeedbackFactory(
        goal=goal,
        rating=rating if feedback_rating is None else feedback_rating,
        status=feedback_status,
    )
    return goal
