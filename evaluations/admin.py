from django.contrib import admin

from evaluations.models import SelfAssessment, SupervisorFeedback

# raw_id_fields rather than autocomplete_fields: autocomplete needs a registered GoalAdmin and
# MembershipAdmin with search_fields (admin.E039), which goals/ and orgs/ do not register yet.
# Switch to `autocomplete_fields = ("goal", ...)` once they do.


@admin.register(SelfAssessment)
class SelfAssessmentAdmin(admin.ModelAdmin):
    list_display = ("id", "org", "goal", "rating", "status", "submitted_at", "updated_at")
    list_filter = ("status", "org")
    list_select_related = ("goal", "org")
    search_fields = ("goal__title",)
    raw_id_fields = ("goal",)
    readonly_fields = ("created_at", "updated_at")
    show_full_result_count = False


@admin.register(SupervisorFeedback)
class SupervisorFeedbackAdmin(admin.ModelAdmin):
    list_display = ("id", "org", "goal", "author", "rating", "status", "published_at")
    list_filter = ("status", "org")
    list_select_related = ("goal", "org", "author")
    search_fields = ("goal__title",)
    raw_id_fields = ("goal", "author")
    readonly_fields = ("created_at", "updated_at")
    show_full_result_count = False
