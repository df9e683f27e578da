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
