"""The demo's platform support account (DESIGN.md §7, §13)."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client

from perf.demo import DEMO_PASSWORD, SUPPORT_EMAIL
from users.models import User

pytestmark = pytest.mark.django_db


def test_seed_demo_makes_the_support_account_and_prints_it(settings):
    settings.DEBUG = True
    out = StringIO()

    call_command("seed", "--demo", stdout=out)

    support = User.objects.get(email=SUPPORT_EMAIL)
    assert (support.is_staff, support.is_superuser) == (True, False)
    assert list(support.groups.values_list("name", flat=True)) == ["Support"]
    assert not support.memberships.exists()
    assert f"{SUPPORT_EMAIL}" in out.getvalue() and "/admin/" in out.getvalue()
    assert "admin@acme.example" in out.getvalue()
    client = Client()
    assert client.login(username=SUPPORT_EMAIL, password=DEMO_PASSWORD)
    assert client.get("/admin/orgs/membership/").status_code == 200
