"""Admin of tenancy rows for support staff (DESIGN.md §13), usable at tens of thousands of
members: each list joins what it shows, filters by org with an autocomplete (core.admin) and
never counts a big table in full.

Writes go through the services, with the staff user as a PlatformActor: a membership edit is
`member_update` (the API's PATCH, with its rules: supervisor and department in the org, no
cycle, the last admin stays), a department's name `department_update`. Support actions:
deactivate / reactivate members; revoke every token of a user (on the user's page, which this
module extends with the user's memberships).
"""

from __future__ import annotations

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from core.admin import CadenceAdmin, ReadOnlyInline, TenantAdmin
from orgs.audit import record_change
from orgs.models import AuditEvent, Department, Membership, Organization
from orgs.permissions import PlatformActor
from orgs.selectors import _member_search
from orgs.services import (
    department_create,
    department_update,
    member_update,
    user_tokens_revoke_audited,
)
from users.admin import UserAdmin as BaseUserAdmin
from users.models import User

# Entity types as the audit rows store them (the services' `entity_type`).
ENTITY_TYPES = (
    ("membership", "member"),
    ("department", "department"),
    ("period", "period"),
    ("goal", "goal"),
    ("self_assessment", "self-assessment"),
    ("feedback", "feedback"),
    ("competency", "competency"),
    ("core_value", "core value"),
    ("organization", "organization"),
    ("job", "job"),
    ("webhook", "webhook"),
)


def changelist_url(label: str, **params: object) -> str:
    """`/admin/<app>/<model>/?…` by URL name (no import of the app above that owns it)."""
    query = "&".join(f"{name}={value}" for name, value in params.items())
    return f"{reverse(f'admin:{label}_changelist')}?{query}"


def audit_trail(org_id: int, entity_type: str, entity_id: int) -> tuple[str, str]:
    """The "audit trail" link of a row: its audit events, as `links` takes it."""
    url = changelist_url(
        "orgs_auditevent", org=org_id, entity_type=entity_type, entity_id=entity_id
    )
    return ("audit trail", url)


def links(*pairs: tuple[str, str]):
    return format_html_join(" · ", '<a href="{}">{}</a>', ((url, text) for text, url in pairs))


def member_label(member: Membership | None, org_slug: str) -> str:
    """`email — org (role)` from a membership joined with its user (`org_slug`: the row's)."""
    if member is None:
        return "—"
    return f"{member.user.email} — {org_slug} ({member.role})"


@admin.register(Organization)
class OrganizationAdmin(CadenceAdmin):
    """An org's own settings (no service: the API has no org writes); each save is audited in
    the org's log with the staff user as actor. The slug, its address, is set once."""

    list_display = ("slug", "name", "is_active", "rating_scale", "created_at")
    list_filter = ("is_active",)
    search_fields = ("slug", "name")
    ordering = ("slug",)
    readonly_fields = ("created_at", "rows")

    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        return (*fields, "slug") if obj is not None else fields

    @admin.display(description="see also")
    def rows(self, obj: Organization):
        if obj.pk is None:
            return "—"
        return links(
            ("members", changelist_url("orgs_membership", org=obj.pk)),
            ("departments", changelist_url("orgs_department", org=obj.pk)),
            ("periods", changelist_url("goals_period", org=obj.pk)),
            ("goals", changelist_url("goals_goal", org=obj.pk)),
            ("audit log", changelist_url("orgs_auditevent", org=obj.pk)),
        )

    def save_model(self, request, obj: Organization, form, change: bool) -> None:
        obj.save()
        record_change(
            org=obj,
            actor=PlatformActor(request.user),
            action="org.update" if change else "org.create",
            entity_type="organization",
            entity_id=obj.pk,
            changes={
                name: [form.initial.get(name) if change else None, form.cleaned_data[name]]
                for name in form.changed_data
            },
        )

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Department)
class DepartmentAdmin(TenantAdmin):
    list_display = ("name", "org_slug", "created_at")
    list_select_related = ("org",)
    autocomplete_fields = ("org",)
    search_fields = ("name",)
    ordering = ("org__slug", "name")
    fields = ("org", "name", "created_at", "rows")
    readonly_fields = ("rows",)

    @admin.display(description="org", ordering="org__slug")
    def org_slug(self, obj: Department) -> str:
        return obj.org.slug

    @admin.display(description="see also")
    def rows(self, obj: Department):
        if obj.pk is None:
            return "—"
        return links(
            ("members", changelist_url("orgs_membership", org=obj.org_id, department=obj.pk)),
            audit_trail(obj.org_id, "department", obj.pk),
        )

    def service_save(self, request, form, obj: Department | None) -> Department:
        actor, name = PlatformActor(request.user), form.cleaned_data["name"]
        if obj is None:
            item = department_create(org=form.cleaned_data["org"], actor=actor, name=name)
            return Department.objects.select_related("org").get(pk=item["id"])
        if "name" in form.changed_data:
            department_update(org=obj.org, actor=actor, department_id=obj.pk, name=name)
        return obj

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Membership)
class MembershipAdmin(TenantAdmin):
    """A member as `email — org (role)`. Edits are the API's PATCH (`member_update`); the
    user and the org never change; members join through the API (bulk create, import)."""

    list_display = (
        "email",
        "org_slug",
        "role",
        "department_name",
        "supervisor_label",
        "is_active",
        "created_at",
    )
    list_select_related = ("user", "org", "department", "supervisor__user")
    list_filter = ("role", "is_active")
    search_fields = ("user__email", "user__full_name")
    search_help_text = "Email or name, any part (the trigram indexes of the member directory)."
    label_select_related = ("user", "org")
    autocomplete_fields = ("department", "supervisor")
    org_confined = ("department", "supervisor")
    tenant_keys = ("org", "user")
    fields = (
        "org",
        "user",
        "role",
        "department",
        "supervisor",
        "title",
        "is_active",
        "created_at",
        "rows",
    )
    readonly_fields = ("rows",)
    ordering = ("-id",)  # newest first by the primary key: no sort of 20,000 rows per page
    actions = ("deactivate", "reactivate")

    @admin.display(description="email", ordering="user__email")
    def email(self, obj: Membership) -> str:
        return obj.user.email

    @admin.display(description="org", ordering="org__slug")
    def org_slug(self, obj: Membership) -> str:
        return obj.org.slug

    @admin.display(description="department")
    def department_name(self, obj: Membership) -> str:
        return obj.department.name if obj.department_id else "—"

    @admin.display(description="supervisor")
    def supervisor_label(self, obj: Membership) -> str:
        return member_label(obj.supervisor, obj.org.slug)

    @admin.display(description="see also")
    def rows(self, obj: Membership):
        if obj.pk is None:
            return "—"
        org, pk = obj.org_id, obj.pk
        audit = "orgs_auditevent"
        return links(
            ("user", reverse("admin:users_user_change", args=[obj.user_id])),
            ("goals", changelist_url("goals_goal", org=org, owner=pk)),
            (
                "self-assessments",
                changelist_url("evaluations_selfassessment", org=org, goal__owner=pk),
            ),
            ("feedback", changelist_url("evaluations_supervisorfeedback", org=org, goal__owner=pk)),
            ("reports", changelist_url("orgs_membership", org=org, supervisor=pk)),
            ("audit trail", changelist_url(audit, org=org, entity_type="membership", entity_id=pk)),
            ("their actions", changelist_url(audit, org=org, actor=pk)),
        )

    def get_search_results(self, request, queryset, search_term):
        queryset, duplicates = super().get_search_results(request, queryset, "")
        return _member_search(queryset, search_term), duplicates

    def service_save(self, request, form, obj: Membership | None) -> Membership:
        data = {}
        for name in form.changed_data:
            value = form.cleaned_data[name]
            if name in ("department", "supervisor"):
                data[f"{name}_id"] = value.pk if value is not None else None
            elif name in ("role", "title", "is_active"):
                data[name] = value
        if data:
            member_update(
                org=obj.org, actor=PlatformActor(request.user), member_id=obj.pk, data=data
            )
        return obj

    def _set_active(self, request, queryset, is_active: bool) -> None:
        actor = PlatformActor(request.user)
        word = "reactivated" if is_active else "deactivated"

        def run(member: Membership) -> str:
            data = {"is_active": is_active}
            member_update(org=member.org, actor=actor, member_id=member.pk, data=data)
            return word

        self.actions_in_batches(request, queryset, run)

    @admin.action(description="Deactivate the selected members", permissions=["set_active"])
    def deactivate(self, request, queryset) -> None:
        self._set_active(request, queryset, is_active=False)

    @admin.action(description="Reactivate the selected members", permissions=["set_active"])
    def reactivate(self, request, queryset) -> None:
        self._set_active(request, queryset, is_active=True)

    def has_set_active_permission(self, request) -> bool:
        return request.user.has_perm("orgs.set_active_membership")

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class EntityTypeFilter(admin.SimpleListFilter):
    """Fixed choices, the values the rows store: the default filter would run SELECT DISTINCT
    over the whole audit table."""

    title = "entity type"
    parameter_name = "entity_type"

    def lookups(self, request, model_admin):
        return ENTITY_TYPES

    def queryset(self, request, queryset):
        return queryset.filter(entity_type=self.value()) if self.value() else queryset


@admin.register(AuditEvent)
class AuditEventAdmin(TenantAdmin):
    """Read-only: the audit trail is written by services, never edited by hand. Search: an
    entity id (exact) or a request id (exact)."""

    list_display = (
        "created_at",
        "org_slug",
        "action",
        "entity_type",
        "entity_id",
        "actor_label",
        "request_id",
    )
    list_select_related = ("org", "actor__user", "staff_actor")
    list_filter = (EntityTypeFilter,)
    search_fields = ("=entity_id", "=request_id")
    search_help_text = "An entity id or a request id, exactly."
    ordering = ("-id",)  # the order they were written, by the primary key

    @admin.display(description="org", ordering="org__slug")
    def org_slug(self, obj: AuditEvent) -> str:
        return obj.org.slug

    @admin.display(description="actor")
    def actor_label(self, obj: AuditEvent) -> str:
        if obj.staff_actor_id:
            return f"staff: {obj.staff_actor.email}"
        return member_label(obj.actor, obj.org.slug)

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return super().get_search_results(request, queryset, "")
        if term.isdigit():
            return queryset.filter(entity_id=int(term)), False
        return queryset.filter(request_id=term), False

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class MembershipInline(ReadOnlyInline, admin.TabularInline):
    model = Membership
    fk_name = "user"
    fields = ("org", "role", "department", "supervisor", "is_active", "rows")
    readonly_fields = fields
    verbose_name_plural = "memberships"

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("org", "department__org", "supervisor__user", "supervisor__org")
        )

    @admin.display(description="see also")
    def rows(self, obj: Membership):
        return links(
            ("goals", changelist_url("goals_goal", org=obj.org_id, owner=obj.pk)),
            audit_trail(obj.org_id, "membership", obj.pk),
        )


admin.site.unregister(User)


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    """users.admin's UserAdmin with what only orgs knows: the user's memberships, and the
    support action "revoke all tokens", audited in each org the user is an active member of."""

    inlines = (MembershipInline,)
    actions = ("revoke_tokens",)
    readonly_fields = (*BaseUserAdmin.readonly_fields, "staff_trail")
    fieldsets = (
        *BaseUserAdmin.fieldsets,
        ("Support", {"fields": ("staff_trail",)}),
    )

    @admin.display(description="support actions by this user")
    def staff_trail(self, obj: User):
        if obj.pk is None or not obj.is_staff:
            return "—"
        return format_html(
            '<a href="{}">audit events</a>', changelist_url("orgs_auditevent", staff_actor=obj.pk)
        )

    @admin.action(description="Revoke every token of the selected users", permissions=["revoke"])
    def revoke_tokens(self, request, queryset) -> None:
        actor = PlatformActor(request.user)

        def run(user: User) -> str:
            members = user_tokens_revoke_audited(actor=actor, user_id=user.pk)
            orgs = ", ".join(member.org.slug for member in members) or "no org"
            return f"every token revoked (audited in {orgs})"

        self.actions_in_batches(request, queryset, run)

    def has_revoke_permission(self, request) -> bool:
        return request.user.has_perm("users.revoke_tokens")
