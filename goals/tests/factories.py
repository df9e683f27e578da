import datetime

import factory

from goals.models import Competency, CoreValue, Goal, Period
from orgs.tests.factories import MembershipFactory, OrganizationFactory

# A valid performance target, for request bodies.
PERFORMANCE = {
    "type": "performance",
    "metric": "Revenue",
    "target": 100,
    "unit": "kEUR",
    "direction": "increase",
}


class PeriodFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Period

    org = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Cycle {n}")
    starts_on = datetime.date(2026, 1, 1)
    ends_on = datetime.date(2026, 12, 31)
    status = Period.Status.ACTIVE


class CompetencyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Competency

    org = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Competency {n}")


class CoreValueFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CoreValue

    org = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Core value {n}")


class GoalFactory(factory.django.DjangoModelFactory):
    """A performance goal; the org, period and owner stay in one org."""

    class Meta:
        model = Goal

    owner = factory.SubFactory(MembershipFactory)
    org = factory.LazyAttribute(lambda goal: goal.owner.org)
    period = factory.LazyAttribute(
        lambda goal: (
            Period.objects.filter(org=goal.org, status=Period.Status.ACTIVE).first()
            or PeriodFactory(org=goal.org)
        )
    )
    category = Goal.Category.PERFORMANCE
    title = factory.Sequence(lambda n: f"Goal {n}")
    weight = 10
    target_data = factory.LazyFunction(
        lambda: {
            "type": "performance",
            "metric": "Revenue",
            "target": 100.0,
            "unit": "kEUR",
            "direction": "increase",
        }
    )
    status = Goal.Status.DRAFT
