"""Admin of periods, catalogs and goals for support staff (DESIGN.md §13), usable at 200,000
goals: each list joins what it shows, filters by org (core.admin), never counts in full.

Writes go through goals.services with the staff user as a PlatformActor, under the API's
rules: a period's edits and its close / reopen actions are `period_update` (transitions, one
active period, a closed period is read-only); a goal's title, weight and target are
`goal_update` (only while draft or rejected, in an open period); its status moves only
through the workflow, or back to draft through the support action `goal_return_to_draft`.
The goal's org, owner, period and category never change here, as in the API.

The membership page (orgs.admin) gets the member's goals here, as a read-only inline.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.utils.html import format_html, format_html_join

from core.admin import ReadOnlyInline, TenantAdmin
from core.errors import Conflict
from goals.models import Competency, CoreValue, Goal, Period
from goals.services import (
    competency_create,
    core_value_create,
    goal_return_to_draft,
    goal_update,
    period_create,
    period_update,
)
from orgs.admin import MembershipAdmin as BaseMembershipAdmin
from orgs.admin import audit_trail, changelist_url, links, member_label
from orgs.models import Membership
from orgs.permissions import PlatformActor

PERIOD_EDITABLE = ("name", "starts_on", "ends_on", "status")
PERIOD_NOT_CLOSED = "Only a closed period can be reopened."
GOAL_EDITABLE = ("title", "weight", "target_data")


@admin.register(Period)
class PeriodAdmin(TenantAdmin):
    list_display = ("name", "org_slug", "starts_on", "ends_on", "status", "created_at")
    list_filter = ("status",)
    list_select_related = ("org",)
    search_fields = ("name",)
    autocomplete_fields = ("org",)
    ordering = ("-starts_on", "-id")
    fields = ("org", "name", "starts_on", "ends_on", "status", "created_at", "rows")
    readonly_fields = ("rows",)
    actions = ("close", "reopen")

    @admin.display(description="org", ordering="org__slug")
    def org_slug(self, obj: Period) -> str:
        return obj.org.slug

    @admin.display(description="see also")
    def rows(self, obj: Period):
        if obj.pk is None:
            return "—"
        return links(
            ("goals", changelist_url("goals_goal", org=obj.org_id, period=obj.pk)),
            audit_trail(obj.org_id, "period", obj.pk),
        )

    def service_save(self, request, form, obj: Period | None) -> Period:
        actor, data = PlatformActor(request.user), form.cleaned_data
        if obj is None:
            return period_create(
                org=data["org"],
                actor=actor,
                name=data["name"],
                starts_on=data["starts_on"],
                ends_on=data["ends_on"],
                status=data["status"],
            )
        changed = {name: data[name] for name in PERIOD_EDITABLE if name in form.changed_data}
        if changed:
            return period_update(org=obj.org, actor=actor, period_id=obj.pk, data=changed)
        return obj

    def _set_status(self, request, queryset, status: str, word: str) -> None:
        actor = PlatformActor(request.user)

        def run(period: Period) -> str:
            if word == "reopened" and not period.is_closed:
                raise Conflict(PERIOD_NOT_CLOSED)  # activating a planned one is not reopening
            data = {"status": status}
            period_update(org=period.org, actor=actor, period_id=period.pk, data=data)
            return word

        self.actions_in_batches(request, queryset, run)

    @admin.action(description="Close the selected periods", permissions=["close_reopen"])
    def close(self, request, queryset) -> None:
        self._set_status(request, queryset, Period.Status.CLOSED, "closed")

    @admin.action(description="Reopen the selected periods", permissions=["close_reopen"])
    def reopen(self, request, queryset) -> None:
        self._set_status(request, queryset, Period.Status.ACTIVE, "reopened")

    def has_close_reopen_permission(self, request) -> bool:
        return request.user.has_perm("goals.close_reopen_period")

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class CatalogAdmin(TenantAdmin):
    """Entries are added through the service (audited); the API never changes one, nor here."""

    list_display = ("name", "org_slug", "is_active", "created_at")
    list_filter = ("is_active",)
    list_select_related = ("org",)
    search_fields = ("name",)
    autocomplete_fields = ("org",)
    ordering = ("-id",)
    fields = ("org", "name", "description", "is_active", "created_at")
    create = None  # the service

    @admin.display(description="org", ordering="org__slug")
    def org_slug(self, obj) -> str:
        return obj.org.slug

    def service_save(self, request, form, obj):
        data = form.cleaned_data
        return type(self).create(
            org=data["org"],
            actor=PlatformActor(request.user),
            name=data["name"],
            description=data["description"],
            is_active=data["is_active"],
        )

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Competency)
class CompetencyAdmin(CatalogAdmin):
    create = staticmethod(competency_create)


@admin.register(CoreValue)
class CoreValueAdmin(CatalogAdmin):
    create = staticmethod(core_value_create)


# What a target's keys are called on the page, in this order.
TARGET_LABELS = {
    "performance": (
        ("metric", "Metric"),
        ("target", "Target"),
        ("unit", "Unit"),
        ("baseline", "Baseline"),
        ("direction", "Direction"),
    ),
    "competency": (
        ("competency_id", "Competency"),
        ("expected_level", "Expected level"),
        ("action_plan", "Action plan"),
    ),
    "core_value": (("core_value_id", "Core value"), ("behaviors", "Behaviors")),
}
CATALOGS = {"competency_id": Competency, "core_value_id": CoreValue}


def target_rows(goal: Goal) -> list[tuple[str, Any]]:
    """(label, value) of the goal's target, catalog ids named (one query for a catalog id)."""
    data = goal.target_data if isinstance(goal.target_data, dict) else {}
    rows = []
    for key, label in TARGET_LABELS.get(goal.category, ()):
        value = data.get(key)
        if key in CATALOGS and value is not None:
            name = (
                CATALOGS[key]
                .objects.filter(org_id=goal.org_id, pk=value)
                .values_list("name", flat=True)
                .first()
            )
            value = f"{name} (#{value})" if name else f"#{value} (not in this org)"
        elif isinstance(value, list):
            value = "; ".join(str(item) for item in value)
        rows.append((label, "—" if value is None else value))
    return rows


@admin.register(Goal)
class GoalAdmin(TenantAdmin):
    list_display = (
        "title",
        "org_slug",
        "owner_label",
        "period_name",
        "category",
        "status",
        "weight",
        "created_at",
    )
    list_filter = ("status", "category")
    list_select_related = ("org", "owner__user", "period")
    search_fields = ("title",)
    search_help_text = "A goal id, an owner's email (exact) or part of a title."
    # The form's labels of the owner and the period (`email — org (role)`, `2026 H2 — org`).
    label_select_related = ("org", "owner__org", "period__org")
    tenant_keys = ("org", "owner")
    always_readonly = (
        "created_at",
        "updated_at",
        "period",
        "category",
        "status",
        "review_comment",
        "reviewed_by",
        "reviewed_at",
    )
    fields = (
        "org",
        "owner",
        "period",
        "category",
        "title",
        "weight",
        "target",
        "target_data",
        "status",
        "review_comment",
        "reviewed_by",
        "reviewed_at",
        "created_at",
        "updated_at",
        "rows",
    )
    readonly_fields = ("target", "rows")
    ordering = ("-id",)  # newest first by the primary key: no sort of 200,000 rows per page
    actions = ("return_to_draft",)

    @admin.display(description="org", ordering="org__slug")
    def org_slug(self, obj: Goal) -> str:
        return obj.org.slug

    @admin.display(description="owner")
    def owner_label(self, obj: Goal) -> str:
        return member_label(obj.owner, obj.org.slug)

    @admin.display(description="period")
    def period_name(self, obj: Goal) -> str:
        return obj.period.name

    @admin.display(description="target")
    def target(self, obj: Goal):
        if obj.pk is None:
            return "—"
        return format_html(
            '<table class="target-data"><tbody>{}</tbody></table>',
            format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", target_rows(obj)),
        )

    @admin.display(description="see also")
    def rows(self, obj: Goal):
        if obj.pk is None:
            return "—"
        audit, org, pk = "orgs_auditevent", obj.org_id, obj.pk
        return links(
            ("owner", changelist_url("orgs_membership", org=org, id=obj.owner_id)),
            ("self-assessment", changelist_url("evaluations_selfassessment", org=org, goal=pk)),
            ("feedback", changelist_url("evaluations_supervisorfeedback", org=org, goal=pk)),
            ("audit trail", changelist_url(audit, org=org, entity_type="goal", entity_id=pk)),
        )

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        if not self.has_change_permission(request, obj):
            fields = [name for name in fields if name != "target_data"]  # the table says it
        return fields

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        queryset, duplicates = super().get_search_results(request, queryset, "")
        if not term:
            return queryset, duplicates
        if term.isdigit():
            return queryset.filter(pk=int(term)), duplicates
        if "@" in term:
            return queryset.filter(owner__user__email=term.lower()), duplicates
        return queryset.filter(title__icontains=term), duplicates

    def service_save(self, request, form, obj: Goal | None) -> Goal:
        data = {
            name: form.cleaned_data[name] for name in GOAL_EDITABLE if name in form.changed_data
        }
        if data:
            return goal_update(
                org=obj.org, actor=PlatformActor(request.user), goal_id=obj.pk, data=data
            )
        return obj

    @admin.action(description="Return the selected goals to draft", permissions=["return_to_draft"])
    def return_to_draft(self, request, queryset) -> None:
        actor = PlatformActor(request.user)

        def run(goal: Goal) -> str:
            goal_return_to_draft(org=goal.org, actor=actor, goal_id=goal.pk)
            return "returned to draft"

        self.actions_in_batches(request, queryset, run)

    def has_return_to_draft_permission(self, request) -> bool:
        return request.user.has_perm("goals.return_to_draft_goal")

    def has_add_permission(self, request) -> bool:
        return False  # goals are created by their owners (or an admin) through the API

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class GoalInline(ReadOnlyInline, admin.TabularInline):
    model = Goal
    fk_name = "owner"
    fields = ("title", "period", "category", "status", "weight")
    readonly_fields = fields
    ordering = ("-period__starts_on", "-id")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("period__org")


admin.site.unregister(Membership)


@admin.register(Membership)
class MembershipAdmin(BaseMembershipAdmin):
    """orgs.admin's MembershipAdmin with the member's goals (read-only)."""

    inlines = (*BaseMembershipAdmin.inlines, GoalInline)
