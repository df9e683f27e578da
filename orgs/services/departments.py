"""Department writes: admin only; names unique per org (409), audited."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction

from core.errors import Conflict, NotFound, detail
from orgs.audit import record_change
from orgs.models import Department, Organization
from orgs.permissions import Actor, ensure_admin

DEPARTMENT_EXISTS = "A department with this name already exists."
UNKNOWN_DEPARTMENT_404 = "Department not found."


def _department_item(department: Department) -> dict[str, Any]:
    return {"id": department.pk, "name": department.name, "created_at": department.created_at}


def _department_name_taken(*, org: Organization, name: str, exclude_id: int | None = None) -> bool:
    queryset = Department.objects.filter(org=org, name=name)
    if exclude_id is not None:
        queryset = queryset.exclude(pk=exclude_id)
    return queryset.exists()


@transaction.atomic
def department_create(*, org: Organization, actor: Actor, name: str) -> dict[str, Any]:
    ensure_admin(actor)
    name = name.strip()
    if _department_name_taken(org=org, name=name):
        raise Conflict(DEPARTMENT_EXISTS, details=[detail(["body", "name"], DEPARTMENT_EXISTS)])
    try:
        with transaction.atomic():  # a concurrent insert of the same name is still a 409
            department = Department.objects.create(org=org, name=name)
    except IntegrityError as exc:
        raise Conflict(
            DEPARTMENT_EXISTS, details=[detail(["body", "name"], DEPARTMENT_EXISTS)]
        ) from exc
    record_change(
        org=org,
        actor=actor,
        action="department.create",
        entity_type="department",
        entity_id=department.pk,
        changes={"name": [None, name]},
    )
    return _department_item(department)


@transaction.atomic
def department_update(
    *, org: Organization, actor: Actor, department_id: int, name: str
) -> dict[str, Any]:
    ensure_admin(actor)
    department = Department.objects.select_for_update().filter(org=org, pk=department_id).first()
    if department is None:
        raise NotFound(UNKNOWN_DEPARTMENT_404)
    name = name.strip()
    if name == department.name:
        return _department_item(department)
    if _department_name_taken(org=org, name=name, exclude_id=department.pk):
        raise Conflict(DEPARTMENT_EXISTS, details=[detail(["body", "name"], DEPARTMENT_EXISTS)])
    changes = {"name": [department.name, name]}
    department.name = name
    try:
        with transaction.atomic():
            department.save(update_fields=["name"])
    except IntegrityError as exc:
        raise Conflict(
            DEPARTMENT_EXISTS, details=[detail(["body", "name"], DEPARTMENT_EXISTS)]
        ) from exc
    record_change(
        org=org,
        actor=actor,
        action="department.update",
        entity_type="department",
        entity_id=department.pk,
        changes=changes,
    )
    return _department_item(department)
