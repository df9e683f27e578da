from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from django.core.cache import cache
from django.db import connection
from django.db.models import Count, F, Func, IntegerField, Q, QuerySet, Subquery
from django.db.models.functions import Lower

from core.errors import Unauthorized
from core.fields import rows_project
from core.memo import VersionedMemo
from core.pagecache import page_key
from core.pagination import DEFAULT_LIMIT, cursor_encode, keyset_page
from core.pagination import _after as keyset_after
from core.sql import CompiledQuery, Params, cursor_values, like_escape, shape_of
from orgs.cache import account_entry_store, account_key
from orgs.changes import org_change_head
from orgs.models import AuditEvent, Department, Membership, Organization
from orgs.permissions import ensure_admin, ensure_admin_or_manager
from users.models import User
from users.selectors import user_get
from users.tokens import INVALID_TOKEN

# The member item of the API contract (`orgs.schemas.MemberOut`), the one definition every app
# reads it by: `.annotate(**MEMBER_USER_FIELDS).values(*MEMBER_ITEM_FIELDS)` on memberships,
# or `member_item(member)` for one in hand.
MEMBER_ITEM_FIELDS = (
    "id",
    "user_id",
    "email",
    "full_name",
    "role",
    "department_id",
    "supervisor_id",
    "title",
    "is_active",
    "created_at",
)
MEMBER_USER_FIELDS = {"email": F("user__email"), "full_name": F("user__full_name")}


def page_cache_args(
    selector: Callable[..., Any],
    *,
    org: Organization,
    audience: str,
    params: dict[str, Any],
    **caller: Any,
) -> dict[str, Any]:
    """What `core.pagecache.cached_page` takes besides the request, for the page that
    `selector(org=org, **caller, **params)` builds: keyed by the selector, the org's data
    version that tenant resolution read (an org loaded any other way has none, and is served
    fresh), `audience` (who shares an entry) and `params`. The caller of this function has
    checked, before, that the actor may read what `audience` shares.

    With a read replica (core.replica), the page is read there only once it has replayed the
    org's change head that tenant resolution read with the version."""
    head = getattr(org, "change_head", None)
    return {
        "org_id": org.pk,
        "version": getattr(org, "data_version", None),
        "name": f"{selector.__module__}.{selector.__name__}",
        "audience": audience,
        "params": params,
        "build": partial(selector, org=org, **caller, **params),
        "replica_caught_up": None if head is None else partial(_head_replayed, org.pk, head),
    }


def _head_replayed(org_id: int, head: int) -> bool:
    """The database this runs on (the replica, under core.replica) has the org's change `head`
    committed: one primary-key lookup."""
    return org_change_head(org_id=org_id) >= head


def org_entry_load(*, slug: str) -> dict[str, Any] | None:
    """The org as tenant resolution caches it, or None; `change_seq` (its change-log head at
    this moment) rides along for the caller and is not cached with the entry."""
    return (
        Organization.objects.filter(slug=slug)
        .values("id", "slug", "name", "is_active", "rating_scale", "change_seq")
        .first()
    )


def member_item(member: Membership) -> dict[str, Any]:
    """The member item of a membership in hand (its user loaded)."""
    return {
        name: getattr(member.user if name in MEMBER_USER_FIELDS else member, name)
        for name in MEMBER_ITEM_FIELDS
    }


def member_entry_load(*, org_id: int, user_id: int) -> dict[str, Any] | None:
    """The caller's member item in one org (cached by tenant resolution), or None."""
    return (
        Membership.objects.filter(org_id=org_id, user_id=user_id)
        .annotate(**MEMBER_USER_FIELDS)
        .values(*MEMBER_ITEM_FIELDS)
        .first()
    )


def user_memberships(*, user_id: int) -> list[dict[str, Any]]:
    """Active memberships of a user in active orgs, for /api/auth/me."""
    rows = (
        Membership.objects.filter(user_id=user_id, is_active=True, org__is_active=True)
        .order_by("org__slug")
        .values("id", "org__slug", "org__name", "role")
    )
    return [
        {
            "member_id": row["id"],
            "org_slug": row["org__slug"],
            "org_name": row["org__name"],
            "role": row["role"],
        }
        for row in rows
    ]


_UNREAD = object()


def account_get(*, user_id: int, cached: Any = _UNREAD) -> dict[str, Any]:
    """/api/auth/me: the user and their memberships. Cached per user (orgs.cache, dropped with
    any of their member entries, an org rename, a profile change): warm, no SQL (the entry
    read by the caller's auth in its MGET, `cached`, or one GET); cold, two indexed reads."""
    if cached is _UNREAD:
        cached = cache.get(account_key(user_id))
    if cached is not None:
        return cached
    user = user_get(user_id=user_id)
    if user is None:
        raise Unauthorized(INVALID_TOKEN)
    account = {
        "id": user.pk,
        "email": user.email,
        "full_name": user.full_name,
        "is_superuser": user.is_superuser,
        "memberships": user_memberships(user_id=user_id),
    }
    account_entry_store(user_id=user_id, account=account)
    return account


# --- members directory, departments, audit log ------------------------------------------------

MEMBER_SORT_FIELDS = {
    "created_at": "created_at",
    "full_name": "user__full_name",
    "email": "user__email",
}


def _member_search(queryset: QuerySet, term: str) -> QuerySet:
    """Members whose email or full name contains `term`, ignoring case (also the admin's
    search): `_member_matching` with the term's pattern."""
    pattern = member_search_pattern(term)
    return queryset if pattern is None else _member_matching(queryset, pattern)


def _member_matching(queryset: QuerySet, pattern: str) -> QuerySet:
    """Case-insensitive substring on email or full name, shaped for the trigram indexes of
    migration 0003: emails are stored lower-cased (users_user_email_lowercase), so
    `email LIKE '%term%'` matches the `gin (email gin_trgm_ops)` index, and names are compared
    as `LOWER(full_name) LIKE '%term%'`, matching `gin (lower(full_name) gin_trgm_ops)`.
    (`icontains` would emit `UPPER(…) LIKE UPPER(…)`, which neither index serves.) `pattern`
    is `member_search_pattern(term)`, a parameter of the compiled query."""
    return queryset.annotate(_name_lower=Lower("user__full_name")).filter(
        Q(user__email__like=pattern) | Q(_name_lower__like=pattern)
    )


def member_search_pattern(term: str | None) -> str | None:
    """The LIKE pattern of a search term (lower-cased, wildcards escaped); None for none."""
    term = (term or "").strip().lower()
    return f"%{like_escape(term)}%" if term else None


MEMBER_FILTERS = ("is_active", "role", "department_id", "search")
_MEMBER_CURSOR_FIELDS = {
    "created_at": Membership._meta.get_field("created_at"),
    "full_name": User._meta.get_field("full_name"),
    "email": User._meta.get_field("email"),
}
MEMBER_COUNT_TTL = 300
# The counts of this process first (keyed by the org's data version: never stale), then Redis.
_member_counts = VersionedMemo()


def _member_filtered(p: Params, given: tuple) -> QuerySet:
    """The org's members matching the filters: `given` is the `is_active` value (True, False
    or None: a boolean is part of the shape, not a parameter) and whether each of role,
    department and search is given."""
    is_active, role, department_id, search = given
    base = Membership.objects.filter(org_id=p.org_id)
    if is_active is not None:
        base = base.filter(is_active=is_active)
    if role:
        base = base.filter(role=p.text("role"))
    if department_id:
        base = base.filter(department_id=p.department_id)
    if search:
        base = _member_matching(base, p.text("search"))
    return base


def _member_page_query(
    p: Params,
    given: tuple,
    sort_by: str,
    sort_order: str,
    after: bool,
    offset: int,
    limit: int,
    columns: tuple[str, ...],
    with_count: bool,
) -> QuerySet:
    """One page of the directory; with the count of every member matching the filters (not
    only those after the cursor) as an uncorrelated scalar subquery (an InitPlan, evaluated
    once) when it is not cached."""
    base = _member_filtered(p, given)
    sign = "-" if sort_order == "desc" else ""
    ordering = [f"{sign}{MEMBER_SORT_FIELDS[sort_by]}", f"{sign}id"]
    queryset = base.order_by(*ordering)
    if with_count:
        total = Subquery(
            base.order_by().annotate(_n=Func(F("id"), function="COUNT")).values("_n")[:1],
            output_field=IntegerField(),
        )
        queryset = queryset.annotate(_total=total)
    if after:
        last = [p.at("after_key") if sort_by == "created_at" else p.text("after_key"), p.after_id]
        queryset = queryset.filter(keyset_after(ordering, last))
    selected = (*columns, "_total") if with_count else columns
    return queryset.annotate(**MEMBER_USER_FIELDS).values(*selected)[offset : offset + limit + 1]


def _member_count_query(p: Params, given: tuple) -> QuerySet:
    """The count alone (one row per org, so one row or none)."""
    return _member_filtered(p, given).order_by().values("org_id").annotate(n=Count("id"))


def _member_plan_is_generic(given: tuple, sort_by: str = "", sort_order: str = "",
                            after: bool = False, offset: int = 0, *rest: Any) -> bool:  # fmt: skip
    """Whether one plan serves every value of the shape's parameters, so the statement may be
    prepared (core.sql; PostgreSQL switches a prepared statement to a generic plan after five
    runs): the unfiltered directory only. A search (the trigram indexes serve some patterns
    only), a rare role or a small department each want a plan for their value. Pages past an
    offset are not prepared either: each offset is its own SQL text (Django inlines it), and
    psycopg keeps at most 100 prepared statements per connection."""
    _, role, department, search = given
    return not (role or department or search or offset)


_MEMBER_PAGE = CompiledQuery(_member_page_query, prepare=_member_plan_is_generic)
_MEMBER_COUNT = CompiledQuery(_member_count_query, prepare=_member_plan_is_generic)


def member_list(
    *,
    org: Organization,
    actor: Membership,
    is_active: bool | None = None,
    role: str | None = None,
    department_id: int | None = None,
    search: str | None = None,
    sort_by: str = "created_at",
    sort_order: str = "desc",
    limit: int = DEFAULT_LIMIT,
    offset: int = 0,
    cursor: str | None = None,
    fields: list[str] | None = None,
) -> dict[str, Any]:
    """One page of the org's member directory: `{items, count, next_cursor}` (`fields` of each
    item, selected in SQL, plus the sort keys the cursor needs).

    One query, compiled once per shape (core.sql). `count` is cached per org data version and
    filters (any committed write in the org bumps the version, so it is never older than the
    last write); on a miss it comes with the page as a scalar subquery and is stored. Only
    when the page is empty past its start (offset or cursor beyond the end) on a miss is it
    read with one more query, since no row carries it then.

    A department id of another org matches nothing: an empty page, never an error.
    `offset` and `cursor` may be combined (offset skips rows after the cursor).

    Admins and managers read all of it (managers read-only: the directory is how they find
    people, e.g. to name a supervisor); employees get 403.
    """
    ensure_admin_or_manager(actor)
    pattern = member_search_pattern(search)
    values = {"role": role, "department_id": department_id, "search": pattern}
    given = (is_active, *shape_of(values.values()))
    count_key = _member_count_key(org, {"is_active": is_active, **values})
    count = _member_counts.get(count_key) if count_key else None
    if count is None and count_key:
        count = cache.get(count_key)  # another worker's
        if count is not None:
            _member_counts.set(count_key, count)
    after = (
        cursor_values(cursor, [_MEMBER_CURSOR_FIELDS[sort_by], Membership._meta.pk])
        if cursor
        else [None, None]
    )
    columns = tuple(dict.fromkeys([*(fields or MEMBER_ITEM_FIELDS), sort_by, "id"]))
    shape = (given, sort_by, sort_order, bool(cursor), offset, limit, columns, count is None)
    rows = _MEMBER_PAGE.dicts(shape, org_id=org.pk, **values, after_key=after[0], after_id=after[1])
    if count is None:
        if rows:
            count = rows[0]["_total"]
        elif offset or cursor:
            found = _MEMBER_COUNT.dicts((given,), org_id=org.pk, **values)
            count = found[0]["n"] if found else 0
        else:
            count = 0
        if count_key:
            cache.set(count_key, count, MEMBER_COUNT_TTL)
            _member_counts.set(count_key, count)
        for row in rows:
            del row["_total"]
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = cursor_encode([last[sort_by], last["id"]])
    return {
        "items": rows_project(rows, fields),
        "count": count,
        "next_cursor": next_cursor,
    }


def _member_count_key(org: Organization, filters: dict[str, Any]) -> str | None:
    """Keyed like a cached page (core.pagecache): the org's data version (from tenant
    resolution; an org loaded any other way has none, and is counted fresh) and the filters."""
    version = getattr(org, "data_version", None)
    if version is None:
        return None
    return page_key(
        org_id=org.pk, version=version, name="orgs.member_count", audience="", params=filters
    )


DEPARTMENT_FIELDS = ("id", "name", "created_at")


def department_list(
    *, org: Organization, limit: int = DEFAULT_LIMIT, cursor: str | None = None
) -> dict[str, Any]:
    """Departments, newest first (the default order of lists, DESIGN.md §4). One query."""
    rows, next_cursor = keyset_page(
        Department.objects.filter(org=org).values(*DEPARTMENT_FIELDS),
        ordering=["-created_at", "-id"],
        limit=limit,
        cursor=cursor,
    )
    return {"items": rows, "next_cursor": next_cursor}


AUDIT_FIELDS = (
    "id",
    "actor_id",
    "action",
    "entity_type",
    "entity_id",
    "changes",
    "request_id",
    "created_at",
)
# An audit item: the columns above plus `staff_actor` ({id, email} of a platform user, joined).
AUDIT_ITEM_FIELDS = (*AUDIT_FIELDS, "staff_actor")


def audit_list(
    *,
    org: Organization,
    actor: Membership,
    entity_type: str | None = None,
    entity_id: int | None = None,
    actor_id: int | None = None,
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
    fields: list[str] | None = None,
) -> dict[str, Any]:
    """The org's audit log, newest first, keyset by (-created_at, -id). One query (the platform
    user of a support action joined: `staff_actor`, DESIGN.md §13). Admin only. `fields`: the
    item fields to select (all when None)."""
    ensure_admin(actor)
    queryset = AuditEvent.objects.filter(org=org)
    if entity_type is not None:
        queryset = queryset.filter(entity_type=entity_type)
    if entity_id is not None:
        queryset = queryset.filter(entity_id=entity_id)
    if actor_id is not None:
        queryset = queryset.filter(actor_id=actor_id)
    selected = fields or AUDIT_ITEM_FIELDS
    columns = [name for name in selected if name != "staff_actor"]
    if "staff_actor" in selected:
        columns += ["staff_actor_id", "staff_actor__email"]
    rows, next_cursor = keyset_page(
        queryset.values(*dict.fromkeys([*columns, "created_at", "id"])),
        ordering=["-created_at", "-id"],
        limit=limit,
        cursor=cursor,
    )
    if "staff_actor" in selected:
        for row in rows:
            staff_id, staff_email = row.pop("staff_actor_id"), row.pop("staff_actor__email")
            row["staff_actor"] = {"id": staff_id, "email": staff_email} if staff_id else None
    return {"items": rows_project(rows, fields), "next_cursor": next_cursor}


_SUPERVISOR_CHAIN_SQL = """
WITH RECURSIVE chain (id, supervisor_id, is_active, depth) AS (
    SELECT id, supervisor_id, is_active, 0 FROM orgs_membership WHERE id = %s AND org_id = %s
    UNION ALL
    SELECT m.id, m.supervisor_id, m.is_active, c.depth + 1
    FROM orgs_membership m JOIN chain c ON m.id = c.supervisor_id
    WHERE m.org_id = %s AND c.depth < 10000
)
SELECT COUNT(*) > 0, COALESCE(BOOL_OR(depth = 0 AND is_active), false),
       COALESCE(BOOL_OR(id = %s), false)
FROM chain
"""


def supervisor_chain_check(*, org: Organization, supervisor_id: int, member_id: int):
    """(supervisor exists in the org, supervisor is active, member is already above it in the
    chain): one query.

    Setting `member.supervisor = supervisor` would close a loop when the member appears in the
    supervisor's own chain of supervisors."""
    with connection.cursor() as cursor:
        cursor.execute(_SUPERVISOR_CHAIN_SQL, [supervisor_id, org.pk, org.pk, member_id])
        exists, active, cycle = cursor.fetchone()
    return bool(exists), bool(active), bool(cycle)
