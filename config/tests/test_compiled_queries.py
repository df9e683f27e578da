"""core.sql: a compiled query answers what its queryset answers, prepares only where allowed."""

from __future__ import annotations

import base64
import json

import pytest
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext

from core.errors import Unprocessable
from core.sql import CompiledQuery, cursor_values, like_escape
from orgs.models import Membership
from orgs.tests.factories import MembershipFactory


def _members(p, role_given: bool):
    members = Membership.objects.filter(org_id=p.org_id)
    if role_given:
        members = members.filter(role=p.text("role"))
    return members.values("id", "role", "created_at", email_=F("user__email")).order_by(
        "-created_at", "-id"
    )


@pytest.fixture
def members(org, admin, manager, employee):
    return [MembershipFactory(org=org, role="employee") for _ in range(3)]


def test_rows_are_what_the_queryset_returns(org, members):
    query = CompiledQuery(_members)

    for role in (None, "employee", "admin"):
        compiled = query.dicts((role is not None,), org_id=org.pk, role=role)
        orm = list(_members(_Values(org_id=org.pk, role=role), role is not None))
        assert compiled == orm
        assert compiled  # every org here has an admin and employees


class _Values:
    """Real values where a builder takes placeholders: the queryset the ORM would run."""

    def __init__(self, **values):
        self.__dict__.update(values)

    def text(self, name):
        return getattr(self, name)


def test_a_placeholder_the_orm_rewrites_fails_compilation(org):
    query = CompiledQuery(lambda p: Membership.objects.filter(title__contains=p.text("t")))

    with pytest.raises(ValueError, match="altered"):
        query.rows(t="x")


def test_like_takes_the_pattern_as_a_parameter(org, members):
    query = CompiledQuery(
        lambda p: Membership.objects.filter(
            org_id=p.org_id, user__email__like=p.text("pattern")
        ).values("id")
    )
    email = members[0].user.email

    assert query.rows(org_id=org.pk, pattern=f"%{like_escape(email)}%") == [(members[0].pk,)]
    assert query.rows(org_id=org.pk, pattern=f"%{like_escape('%')}%") == []


def _prepared_count(sql_fragment: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
            [f"%{sql_fragment}%"],
        )
        return cursor.fetchone()[0]


def test_it_prepares_the_statement_once_and_counts_each_run(org, members):
    query = CompiledQuery(
        lambda p: Membership.objects.filter(org_id=p.org_id).values(prepared_probe=F("id"))
    )

    with CaptureQueriesContext(connection) as captured:
        for _ in range(3):
            assert len(query.rows(org_id=org.pk)) == len(members) + 3

    assert len(captured.captured_queries) == 3  # counted like any query, its SQL in the log
    assert all('"prepared_probe"' in q["sql"] for q in captured.captured_queries)
    assert _prepared_count('"prepared_probe"') == 1


def test_nothing_is_prepared_behind_pgbouncer_or_when_asked_not_to(org, members):
    not_asked = CompiledQuery(
        lambda p: Membership.objects.filter(org_id=p.org_id).values(probe_off=F("id")),
        prepare=False,
    )
    not_asked.rows(org_id=org.pk)
    assert _prepared_count('"probe_off"') == 0

    bouncer = CompiledQuery(
        lambda p: Membership.objects.filter(org_id=p.org_id).values(probe_bouncer=F("id"))
    )
    options = connection.settings_dict.setdefault("OPTIONS", {})
    had, before = "prepare_threshold" in options, options.get("prepare_threshold")
    options["prepare_threshold"] = None  # what DB_PGBOUNCER=true sets
    try:
        bouncer.rows(org_id=org.pk)
    finally:
        if had:
            options["prepare_threshold"] = before
        else:
            del options["prepare_threshold"]
    assert _prepared_count('"probe_bouncer"') == 0


@pytest.mark.parametrize("values", [["x", 1], ["2026-01-01T00:00:00+00:00", "y"], [None, 1]])
def test_a_cursor_of_the_wrong_types_is_422(values):
    cursor = base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")
    fields = [Membership._meta.get_field("created_at"), Membership._meta.pk]

    with pytest.raises(Unprocessable):
        cursor_values(cursor, fields)
