"""Role rules hold at every door: the selectors and services the API calls apply them, so the
admin and jobs calling the same functions get the same answers."""

from __future__ import annotations

import pytest

from core.errors import Forbidden
from orgs.permissions import ADMIN_ONLY, ROLE_NOT_ALLOWED
from orgs.selectors import audit_list, member_list
from orgs.services import department_create, department_update, member_update


def test_admin_only_reads_and_writes_refuse_other_roles_with_one_message(
    org, manager, employee, department
):
    calls = [
        lambda actor: audit_list(org=org, actor=actor),
        lambda actor: department_create(org=org, actor=actor, name="Sales"),
        lambda actor: department_update(
            org=org, actor=actor, department_id=department.pk, name="Sales"
        ),
        lambda actor: member_update(
            org=org, actor=actor, member_id=employee.pk, data={"title": "Lead"}
        ),
    ]
    for call in calls:
        for actor in (manager, employee):
            with pytest.raises(Forbidden) as refused:
                call(actor)
            assert refused.value.message == ADMIN_ONLY


def test_the_member_directory_is_for_admins_and_managers(org, admin, manager, employee):
    with pytest.raises(Forbidden) as refused:
        member_list(org=org, actor=employee)
    assert refused.value.message == ROLE_NOT_ALLOWED
    assert member_list(org=org, actor=manager)["count"] == 3
    assert member_list(org=org, actor=admin)["count"] == 3
