"""Django admin of goals, usable at 200,000 goals: joins listed up front, no full COUNT(*).

`org`, `owner` and `reviewed_by` use raw id widgets: Organization and Membership admins (with
the search fields autocomplete needs) belong to the orgs app. `period` autocompletes.
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
