import pytest

from conftest import ApiClient
from goals.tests.factories import CompetencyFactory, CoreValueFactory, GoalFactory, PeriodFactory
from orgs.models import Membership
from orgs.tests.factories import MembershipFactory


@pytest.fixture
def period(org):
    return PeriodFactory(org=org)


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


PERFORMANCE = {
    "type": "performance",
    "metric": "Revenue",
    "target": 100,
    "unit": "kEUR",
    "direction": "increase",
}


class StableTokenClient(ApiClient):
    """One token per user for the whole test. A fresh token per call changes whenever the clock
    crosses a second (iat/exp), which misses the token cache and makes query counts flaky."""

    def __init__(self) -> None:
        super().__init__()
        self._tokens: dict[int, str] = {}

    def token_for(self, user) -> str:
        if user.pk not in self._tokens:
            self._tokens[user.pk] = super().token_for(user)
        return self._tokens[user.pk]


@pytest.fixture
def api() -> ApiClient:
    return StableTokenClient()
