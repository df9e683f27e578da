import pytest
from django.core.management import call_command
from django.db.models import Sum

from evaluations.models import SelfAssessment, SupervisorFeedback
from goals.models import Goal, Period


@pytest.fixture
def demo(db, settings):
    settings.DEBUG = True
    call_command("seed", "--demo")


@pytest.mark.parametrize("slug", ["acme", "globex"])
def test_demo_org_has_goals_in_every_state_and_both_kinds_of_period(demo, slug):
    goals = Goal.objects.filter(org__slug=slug)
    assert set(goals.values_list("status", flat=True)) == {
        "draft",
        "submitted",
        "approved",
        "rejected",
    }
    assert set(Period.objects.filter(org__slug=slug).values_list("status", flat=True)) == {
        "active",
        "closed",
    }
    feedback = SupervisorFeedback.objects.filter(org__slug=slug)
    assert set(feedback.values_list("status", flat=True)) == {"draft", "published"}
    assert SelfAssessment.objects.filter(org__slug=slug).exists()


def test_demo_weights_respect_the_submit_budget(demo):
    sums = (
        Goal.objects.filter(status__in=["submitted", "approved"])
        .values("owner_id", "period_id")
        .annotate(total=Sum("weight"))
    )
    assert sums
    assert all(row["total"] <= 100 for row in sums)
