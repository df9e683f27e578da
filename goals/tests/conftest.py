import pytest

from goals.tests.factories import CompetencyFactory, CoreValueFactory, GoalFactory
from orgs.models import Membership
from orgs.tests.factories import MembershipFactory


@pytest.fixture
def competency(org):
    return CompetencyFactory(org=org)


@pytest.fixture
def core_value(org):
    return CoreValueFactory(org=org)


@pytest.fixture
def other_manager(org, department):
    return MembershipFactory(org=org, role=Membership.Role.MANAGER, department=department)


@pytest.fixture
def make_goal(period):
    def make(owner, **kwargs):
        kwargs.setdefault("period", period)
        return GoalFactory(owner=owner, **kwargs)

    return make
