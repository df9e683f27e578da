"""The Django admin pages of evaluations load for a superuser, in a bounded number of queries."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from evaluations.tests.factories import SelfAssessmentFactory, SupervisorFeedbackFactory
from users.tests.factories import UserFactory


@pytest.fixture
def staff_client(db):
    client = Client()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


@pytest.mark.parametrize(
    "url", ["/admin/evaluations/selfassessment/", "/admin/evaluations/supervisorfeedback/"]
)
def test_changelists_cost_the_same_for_3_and_30_rows(staff_client, employee, url):
    def rows_and_queries(count: int) -> int:
        SelfAssessmentFactory.create_batch(count, goal__owner=employee)
        SupervisorFeedbackFactory.create_batch(count, goal__owner=employee)
        with CaptureQueriesContext(connection) as queries:
            assert staff_client.get(url).status_code == 200
        return len(queries)

    # list_select_related joins goal, org (and author); show_full_result_count=False skips
    # the unfiltered COUNT: adding rows adds no query.
    assert rows_and_queries(3) == rows_and_queries(27)


def test_change_pages_load(staff_client, employee):
    assessment = SelfAssessmentFactory(goal__owner=employee)
    feedback = SupervisorFeedbackFactory(goal__owner=employee)

    assert (
        staff_client.get(f"/admin/evaluations/selfassessment/{assessment.pk}/change/").status_code
        == 200
    )
    assert (
        staff_client.get(f"/admin/evaluations/supervisorfeedback/{feedback.pk}/change/").status_code
        == 200
    )
