from django.contrib import admin

from evaluations.models import SelfAssessment, SupervisorFeedback


@admin.register(SelfAssessment)
class SelfAssessmentAdmin(admin.ModelAdmin):
    list_display = ("id", "org", "goal", "rating", "status", "submitted_at", "updated_at")
    list_filter = ("status", "org")
    list_select_related = ("goal", "org")
    search_fields = ("goal__title",)
    autocomplete_fields = ("goal",)
    readonly_fields = ("created_at", "updated_at")
    show_full_result_count = False


@admin.register(SupervisorFeedback)
class SupervisorFeedbackAdmin(admin.ModelAdmin):
    list_display = ("id", "org", "goal", "author", "rating", "status", "published_at")
    list_filter = ("status", "org")
    list_select_related = ("goal", "org", "author")
    search_fields = ("goal__title",)
    autocomplete_fields = ("goal", "author")
    readonly_fields = ("created_at", "updated_at")
    show_full_result_count = False
