"""Writes of the orgs app: keyword-only, org first, one transaction, audited, version bumped.

A package since it passed ~400 lines (CONVENTIONS.md); callers import from `orgs.services`,
messages from the module that raises them.
"""

from orgs.services.departments import department_create, department_update
from orgs.services.members import MemberRow, member_bulk_create, member_update
from orgs.services.support import user_tokens_revoke_audited

__all__ = [
    "MemberRow",
    "department_create",
    "department_update",
    "member_bulk_create",
    "member_update",
    "user_tokens_revoke_audited",
]
