"""Shared fixtures: real PostgreSQL and Redis, a per-run cache key prefix, and three actors
in one org (admin, manager, employee reporting to the manager) plus an outsider in another."""

from __future__ import annotations

import json
import uuid
from typing import Any
from urllib.parse import urlencode

import pytest
from django.core.cache import cache
from django.test import Client

from core import cache_retry
from orgs.models import Membership
from orgs.tenancy import org_id_hints_clear
from users.models import User
from users.tokens import access_token_encode

RUN_PREFIX = f"test-{uuid.uuid4().hex[:10]}"


def pytest_configure(config):
    from django.conf import settings

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Each run has its own key prefix, so runs (and developers) never see each other's entries.
    settings.CACHES["default"]["KEY_PREFIX"] = RUN_PREFIX
    settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"] = f"{RUN_PREFIX}:live"


def pytest_sessionfinish(session, exitstatus):
    try:
        cache.delete_pattern("*")
    except Exception:  # noqa: BLE001, S110 - cleanup only; Redis may be stopped by a test
        pass


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Database rows roll back after each test; cached copies of them must go too."""
    cache.delete_pattern("*")
    org_id_hints_clear()
    cache_retry.retrier.clear()
    yield


class ApiClient:
    """Calls the API as a member (`/api/org/{slug}` + path), a user (absolute path) or nobody."""

    def __init__(self) -> None:
        self.client = Client()
        self._tokens: dict[tuple[int, int], str] = {}

    def token_for(self, user: User) -> str:
        """One token per user and version: a token minted a second later (another `iat`) is a
        different token, and would miss the verified-token cache."""
        key = (user.pk, user.token_version)
        if key not in self._tokens:
            self._tokens[key] = access_token_encode(user_id=user.pk, version=user.token_version)
        return self._tokens[key]

    def request(
        self,
        method: str,
        actor: Membership | User | None,
        path: str,
        data: Any = None,
        token: str | None = None,
        **headers: str,
    ):
        if isinstance(actor, Membership):
            url = f"/api/org/{actor.org.slug}{path}"
            token = token or self.token_for(actor.user)
        else:
            url = path
            if actor is not None:
                token = token or self.token_for(actor)
        if token:
            headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        body = data if data is None or isinstance(data, str) else json.dumps(data)
        return self.client.generic(
            method, url, data=body or "", content_type="application/json", **headers
        )

    def get(self, actor, path, params: dict[str, Any] | None = None, **kwargs):
        if params:
            path = f"{path}?{urlencode(params, doseq=True)}"
        return self.request("GET", actor, path, **kwargs)

    def post(self, actor, path, data=None, **kwargs):
        return self.request("POST", actor, path, data, **kwargs)

    def put(self, actor, path, data=None, **kwargs):
        return self.request("PUT", actor, path, data, **kwargs)

    def patch(self, actor, path, data=None, **kwargs):
        return self.request("PATCH", actor, path, data, **kwargs)

    def delete(self, actor, path, **kwargs):
        return self.request("DELETE", actor, path, **kwargs)


@pytest.fixture
def api() -> ApiClient:
    return ApiClient()


@pytest.fixture
def org(db):
    from orgs.tests.factories import OrganizationFactory

    return OrganizationFactory(slug="acme-test", name="Acme Test")


@pytest.fixture
def other_org(db):
    from orgs.tests.factories import OrganizationFactory

    return OrganizationFactory(slug="globex-test", name="Globex Test")


@pytest.fixture
def department(org):
    from orgs.tests.factories import DepartmentFactory

    return DepartmentFactory(org=org, name="Engineering")


@pytest.fixture
def admin(org, department):
    from orgs.tests.factories import MembershipFactory

    return MembershipFactory(org=org, role=Membership.Role.ADMIN, department=department)


@pytest.fixture
def manager(org, department):
    from orgs.tests.factories import MembershipFactory

    return MembershipFactory(org=org, role=Membership.Role.MANAGER, department=department)


@pytest.fixture
def employee(org, department, manager):
    from orgs.tests.factories import MembershipFactory

    return MembershipFactory(
        org=org, role=Membership.Role.EMPLOYEE, department=department, supervisor=manager
    )


@pytest.fixture
def outsider(other_org):
    """An admin of another org: powerful there, nobody here."""
    from orgs.tests.factories import MembershipFactory

    return MembershipFactory(org=other_org, role=Membership.Role.ADMIN)


@pytest.fixture
def period(org):
    from goals.tests.factories import PeriodFactory

    return PeriodFactory(org=org, name="2026 H2")


# --- The admin's users (DESIGN.md §13) --------------------------------------------------------


@pytest.fixture
def staff(db):
    """A platform support user: staff, in the Support group, not a superuser."""
    from users.tests.factories import support_user

    return support_user(email="help@cadence.example")


@pytest.fixture
def support_client(staff):
    client = Client()
    client.force_login(staff)
    return client


@pytest.fixture
def superuser(db):
    from users.tests.factories import UserFactory

    return UserFactory(email="root@cadence.example", is_staff=True, is_superuser=True)


@pytest.fixture
def superuser_client(superuser):
    client = Client()
    client.force_login(superuser)
    return client
