"""Admin for tenancy rows, usable at tens of thousands of members: every changelist joins what
it displays (list_select_related), foreign keys are autocomplete widgets (no 20,000-option
<select>), and no page runs a full COUNT(*) of the table (show_full_result_count=False)."""

from django.contrib import admin

from orgs.models import AuditEvent, Department, Membership, Organization


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ("slug", "name", "is_active", "rating_scale", "created_at")
    list_filter = ("is_active",)
    search_fields = ("slug", "name")
    ordering = ("slug",)
    show_full_result_count = False
    list_per_page = 50


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin):
    list_display = ("name", "org", "created_at")
    list_select_related = ("org",)
    autocomplete_fields = ("org",)
    search_fields = ("name",)
    ordering = ("org__slug", "name")
    show_full_result_count = False
    list_per_page = 50


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("user_email", "org", "role", "department", "supervisor", "is_active")
    list_select_related = ("user", "org", "department", "supervisor__user")
    autocomplete_fields = ("user", "org", "department", "supervisor")
    search_fields = ("user__email", "user__full_name")
    list_filter = ("role", "is_active")
    ordering = ("-created_at", "-id")
    show_full_result_count = False
    list_per_page = 50

    @admin.display(description="email", ordering="user__email")
    def user_email(self, obj: Membership) -> str:
        return obj.user.email


class EntityTypeFilter(admin.SimpleListFilter):
    """Fixed choices: the default filter would run SELECT DISTINCT over the whole audit table."""

    title = "entity type"
    parameter_name = "entity_type"

    def lookups(self, request, model_admin):
        return [(t, t) for t in ("goal", "member", "department", "period", "self_assessment")]

    def queryset(self, request, queryset):
        return queryset.filter(entity_type=self.value()) if self.value() else queryset


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: the audit trail is written by services, never edited by hand."""

    list_display = (
        "created_at",
        "org",
        "action",
        "entity_type",
        "entity_id",
        "actor",
        "request_id",
    )
    list_select_related = ("org", "actor")
    list_filter = (EntityTypeFilter,)
    search_fields = ("request_id",)
    ordering = ("-created_at", "-id")
    show_full_result_count = False
    list_per_page = 50

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
