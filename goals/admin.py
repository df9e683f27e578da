"""Django admin of goals, usable at 200,000 goals: joins listed up front, no full COUNT(*).

Foreign keys autocomplete (`autocomplete_fields`), so no form renders a <select> of every row:
`period` through PeriodAdmin here, `org`, `owner` and `reviewed_by` through the Organization and
Membership admins of the orgs app, which carry the search fields autocomplete needs.
"""

from django.contrib import admin

from goals.models import Competency, CoreValue, Goal, Period


@admin.register(Period)
class PeriodAdmin(admin.ModelAdmin):
    list_display = ("name", "org", "starts_on", "ends_on", "status", "created_at")
    list_filter = ("status",)
    list_select_related = ("org",)
    search_fields = ("name", "org__slug")
    autocomplete_fields = ("org",)
    ordering = ("-starts_on", "-id")
    show_full_result_count = False


class CatalogAdmin(admin.ModelAdmin):
    list_display = ("name", "org", "is_active", "created_at")
    list_filter = ("is_active",)
    list_select_related = ("org",)
    search_fields = ("name", "org__slug")
    autocomplete_fields = ("org",)
    ordering = ("-created_at", "-id")
    show_full_result_count = False


admin.site.register(Competency, CatalogAdmin)
admin.site.register(CoreValue, CatalogAdmin)


@admin.register(Goal)
class GoalAdmin(admin.ModelAdmin):
    list_display = ("title", "org", "owner", "period", "category", "status", "weight", "created_at")
    list_filter = ("status", "category")
    list_select_related = ("org", "owner", "period")
    search_fields = ("title", "owner__user__email")
    autocomplete_fields = ("period", "org", "owner", "reviewed_by")
    readonly_fields = ("created_at", "updated_at", "reviewed_at")
    ordering = ("-created_at", "-id")
    show_full_result_count = False
