"""Rooms (channel-layer groups) and who is in them (DESIGN.md §10).

A change is sent only to the rooms whose members may read it, and each socket checks it again
with `live.permissions.change_visible` before sending (roles change; a socket sits in several
rooms and drops the repeats by seq):

- `org.{org}.admins`: every change of the org;
- `org.{org}.everyone`: org-wide changes (periods, departments, catalogs: no owner);
- `org.{org}.member.{m}`: changes of member m's own data (not a draft feedback on m's goal);
- `org.{org}.team.{m}`: changes of the data of m's direct reports;
- `org.{org}.managers`: member rows (managers read the member directory).
"""

from __future__ import annotations

from typing import Any

from live.permissions import MEMBER_ENTITY
from orgs.models import Membership


def seq_room(org_id: int) -> str:
    """Every socket of the org: ticks (seq and rooms of each change, no content)."""
    return f"org.{org_id}.seq"


def rooms_of(*, org_id: int, member_id: int, role: str) -> list[str]:
    """The rooms a socket of this member joins."""
    prefix = f"org.{org_id}"
    if role == Membership.Role.ADMIN:
        return [f"{prefix}.admins"]
    rooms = [f"{prefix}.everyone", f"{prefix}.member.{member_id}"]
    if role == Membership.Role.MANAGER:
        rooms += [f"{prefix}.team.{member_id}", f"{prefix}.managers"]
    return rooms


def rooms_for(*, org_id: int, item: dict[str, Any]) -> list[str]:
    """The rooms a change is sent to."""
    prefix = f"org.{org_id}"
    rooms = [f"{prefix}.admins"]
    owner = item["owner_id"]
    if owner is None:
        return [*rooms, f"{prefix}.everyone"]
    if not item["reviewers_only"]:
        rooms.append(f"{prefix}.member.{owner}")
    if item["entity_type"] == MEMBER_ENTITY:
        rooms.append(f"{prefix}.managers")
    elif item["owner_supervisor_id"] is not None:
        rooms.append(f"{prefix}.team.{item['owner_supervisor_id']}")
    return rooms
