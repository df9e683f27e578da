"""`manage.py seed --demo` (DESIGN.md §7): demo orgs and logins, refused outside DEBUG."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from orgs.models import Membership, Organization
from orgs.tests.factories import OrganizationFactory
from perf.demo import DEMO_PASSWORD

pytestmark = pytest.mark.django_db


def test_seed_demo_creates_acme_and_globex_with_three_logins_each(api, settings):
    settings.DEBUG = True

    call_command("seed", "--demo", stdout=StringIO())

    assert set(Organization.objects.values_list("slug", flat=True)) == {"acme", "globex"}
    for slug in ("acme", "globex"):
        members = {
            m.user.email: m
            for m in Membership.objects.filter(org__slug=slug).select_related("user")
        }
        assert set(members) == {f"{r}@{slug}.example" for r in ("admin", "manager", "employee")}
        admin, manager, employee = (
            members[f"{r}@{slug}.example"] for r in ("admin", "manager", "employee")
        )
        assert (admin.role, manager.role, employee.role) == ("admin", "manager", "employee")
        assert employee.supervisor_id == manager.pk
        assert admin.supervisor_id is None and manager.supervisor_id is None
        assert admin.department_id == manager.department_id == employee.department_id


@pytest.mark.parametrize("email", ["admin@acme.example", "employee@globex.example"])
def test_a_demo_login_works_through_the_api(api, settings, email):
    settings.DEBUG = True
    call_command("seed", "--demo", stdout=StringIO())

    login = api.post(None, "/api/auth/login", {"email": email, "password": DEMO_PASSWORD})

    assert login.status_code == 200, login.content
    token = login.json()["access_token"]
    slug = email.split("@")[1].split(".")[0]
    me = api.get(None, f"/api/org/{slug}/me", token=token)
    assert me.status_code == 200
    assert me.json()["email"] == email


def test_seed_demo_is_refused_when_debug_is_off(settings):
    settings.DEBUG = False

    with pytest.raises(CommandError, match="DEBUG"):
        call_command("seed", "--demo")

    assert not Organization.objects.exists()


def test_seed_demo_twice_is_refused(settings):
    settings.DEBUG = True
    call_command("seed", "--demo", stdout=StringIO())

    with pytest.raises(CommandError, match="already exist"):
        call_command("seed", "--demo", stdout=StringIO())


def test_make_runs_demo_loads_beside_other_data_once_and_its_logins_then_work(api, settings):
    """`make run` calls `seed --demo --if-missing`: after `make seed` or `make bench-ci` the
    database has other orgs, and the logins it prints must still work."""
    settings.DEBUG = True
    OrganizationFactory(slug="ci-bench")

    first, again = StringIO(), StringIO()
    call_command("seed", "--demo", "--if-missing", stdout=first)
    call_command("seed", "--demo", "--if-missing", stdout=again)

    assert "Demo data loaded." in first.getvalue()
    assert "Demo data already loaded." in again.getvalue()
    assert "admin@acme.example" in again.getvalue()
    assert Organization.objects.filter(slug__in=["acme", "globex", "ci-bench"]).count() == 3
    login = api.post(
        None, "/api/auth/login", {"email": "admin@acme.example", "password": DEMO_PASSWORD}
    )
    assert login.status_code == 200, login.content
