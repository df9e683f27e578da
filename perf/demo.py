"""Demo data (DESIGN.md §7): orgs `acme` and `globex`, each with an admin, a manager and an
employee reporting to the manager, all with the password `demo-pass-1234`."""

from __future__ import annotations

from django.db import transaction

from orgs.models import Department, Membership, Organization
from users.models import User

DEMO_PASSWORD = "demo-pass-1234"
DEMO_ORGS = (("acme", "Acme Corporation"), ("globex", "Globex Corporation"))
DEMO_ROLES = (
    ("admin", "Admin", Membership.Role.ADMIN),
    ("manager", "Manager", Membership.Role.MANAGER),
    ("employee", "Employee", Membership.Role.EMPLOYEE),
)


def demo_logins() -> list[tuple[str, str, str]]:
    """(org slug, email, role) of every demo login."""
    return [
        (slug, f"{local}@{slug}.example", role.value)
        for slug, _ in DEMO_ORGS
        for local, _, role in DEMO_ROLES
    ]


@transaction.atomic
def demo_seed() -> None:
    for slug, name in DEMO_ORGS:
        org = Organization.objects.create(slug=slug, name=name)
        department = Department.objects.create(org=org, name="Engineering")
        members: dict[str, Membership] = {}
        for local, title, role in DEMO_ROLES:
            user = User.objects.create_user(
                f"{local}@{slug}.example",
                DEMO_PASSWORD,
                full_name=f"{name.split()[0]} {title}",
            )
            members[local] = Membership.objects.create(
                org=org,
                user=user,
                role=role,
                department=department,
                title=title,
                supervisor=members.get("manager") if local == "employee" else None,
            )
