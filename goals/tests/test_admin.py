import pytest
from django.test import Client

from goals.tests.factories import GoalFactory
from users.tests.factories import UserFactory


@pytest.mark.parametrize(
    "path",
    [
        "/admin/goals/goal/",
        "/admin/goals/period/",
        "/admin/goals/competency/",
        "/admin/goals/corevalue/",
        "/admin/autocomplete/?term=C&app_label=goals&model_name=goal&field_name=period",
    ],
)
def test_admin_pages_load(db, employee, path):
    GoalFactory.create_batch(3, owner=employee)
    client = Client()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    assert client.get(path).status_code == 200


def test_goal_changelist_costs_the_same_for_3_and_30_goals(db, employee, django_assert_num_queries):
    client = Client()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    for n in (3, 27):
        GoalFactory.create_batch(n, owner=employee)
        # session, user, paginator COUNT(*), one page of goals joined to org, owner and period
        with django_assert_num_queries(4):
            assert client.get("/admin/goals/goal/").status_code == 200
