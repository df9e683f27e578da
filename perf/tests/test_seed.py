import pytest
from django.core.management import CommandError, call_command
from django.db.models import F, Sum

from evaluations.models import SelfAssessment, SupervisorFeedback
from goals.models import Goal
from orgs.models import Membership, Organization
from users.models import User


@pytest.fixture
def seeded(db):
    call_command(
        "seed",
        "--members=40",
        "--goals-per-member=5",
        "--small-orgs=3",
        "--departments=4",
        "--random-seed=7",
        stdout=open("/dev/null", "w"),  # noqa: SIM115
    )
    return Organization.objects.get(slug="bigcorp")


def test_seed_builds_the_promised_shape(seeded):
    members = Membership.objects.filter(org=seeded)
    assert members.count() == 40
    assert Organization.objects.filter(slug__startswith="bigcorp-small-").count() == 3
    assert Membership.objects.filter(org__slug__startswith="bigcorp-small-").count() == 30
    assert not members.filter(department__isnull=True).exists()
    assert members.filter(role="admin").count() == 1
    assert members.filter(role="manager").count() == 4
    # every supervisor is a member of the same org
    assert not members.filter(supervisor__isnull=False).exclude(supervisor__org=seeded).exists()
    # 5 goals in the active period and 2 in the closed one per member
    assert Goal.objects.filter(org=seeded, period__status="active").count() == 200
    assert Goal.objects.filter(org=seeded, period__status="closed").count() == 80
    assert not Goal.objects.filter(org=seeded).exclude(owner__org=F("org")).exists()
    weights = (
        Goal.objects.filter(org=seeded, status__in=["submitted", "approved"])
        .values("owner_id", "period_id")
        .annotate(total=Sum("weight"))
    )
    assert max(row["total"] for row in weights) <= 100
    assert SelfAssessment.objects.filter(org=seeded).exists()
    assert SupervisorFeedback.objects.filter(org=seeded, status="published").exists()
    assert not SelfAssessment.objects.exclude(goal__status="approved").exists()


def test_seeded_users_can_log_in(seeded, api):
    response = api.post(
        None, "/api/auth/login", {"email": "member3@bigcorp.example", "password": "demo-pass-1234"}
    )
    assert response.status_code == 200
    assert User.objects.filter(email__endswith="@bigcorp.example").count() == 40


def _statuses(slug):
    return list(Goal.objects.filter(org__slug=slug).order_by("id").values_list("status", flat=True))


def test_the_same_random_seed_gives_the_same_data(seeded):
    call_command(
        "seed",
        "--slug=again",
        "--members=40",
        "--goals-per-member=5",
        "--small-orgs=3",
        "--departments=4",
        "--random-seed=7",
        stdout=open("/dev/null", "w"),  # noqa: SIM115
    )
    assert len(set(_statuses("bigcorp"))) > 1
    assert _statuses("again") == _statuses("bigcorp")


def test_seed_refuses_to_seed_an_existing_org(seeded):
    with pytest.raises(CommandError):
        call_command("seed", "--members=40", "--small-orgs=0")
