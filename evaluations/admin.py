"""Admin of self-assessments and feedback for support staff (DESIGN.md §13): read-only for
everyone, superusers included. A rating is its author's word (the owner's, the reviewer's),
written only through the API by them; support reads it, next to the goal.

The goal page (goals.admin) gets the goal's self-assessment and feedback here, as read-only
inlines.
"""

from __future__ import annotations

from django.contrib import admin

from core.admin import ReadOnlyInline, TenantAdmin
from evaluations.models import SelfAssessment, SupervisorFeedback
from goals.admin import GoalAdmin as BaseGoalAdmin
from goals.models import Goal
from orgs.admin import audit_trail, changelist_url, links, member_label

# Links from a membership or a goal arrive with these (orgs.admin, goals.admin).
EXTRA_LOOKUPS = ("goal", "goal__owner")


class EvaluationAdmin(TenantAdmin):
    list_filter = ("status",)
    list_select_related = ("org", "goal__owner__user")
    search_fields = ("=goal__id",)
    search_help_text = "A goal id."
    ordering = ("-id",)
    entity_type = ""

    @admin.display(description="goal")
    def goal_title(self, obj) -> str:
        return obj.goal.title

    @admin.display(description="org", ordering="org__slug")
    def org_slug(self, obj) -> str:
        return obj.org.slug

    @admin.display(description="owner")
    def owner_label(self, obj) -> str:
        return member_label(obj.goal.owner, obj.org.slug)

    @admin.display(description="see also")
    def rows(self, obj):
        if obj.pk is None:
            return "—"
        org = obj.org_id
        return links(
            ("goal", changelist_url("goals_goal", org=org, id=obj.goal_id)),
            audit_trail(org, self.entity_type, obj.pk),
        )

    def lookup_allowed(self, lookup, value, request=None) -> bool:
        return lookup in EXTRA_LOOKUPS or super().lookup_allowed(lookup, value, request)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(SelfAssessment)
class SelfAssessmentAdmin(EvaluationAdmin):
    list_display = (
        "goal_title",
        "owner_label",
        "org_slug",
        "rating",
        "status",
        "submitted_at",
        "updated_at",
    )
    fields = (
        "org",
        "goal",
        "rating",
        "comment",
        "status",
        "submitted_at",
        "created_at",
        "updated_at",
        "rows",
    )
    readonly_fields = ("rows",)
    entity_type = "self_assessment"


@admin.register(SupervisorFeedback)
class SupervisorFeedbackAdmin(EvaluationAdmin):
    list_display = (
        "goal_title",
        "owner_label",
        "org_slug",
        "author_label",
        "rating",
        "status",
        "published_at",
    )
    list_select_related = ("org", "goal__owner__user", "author__user")
    fields = (
        "org",
        "goal",
        "author",
        "rating",
        "comment",
        "status",
        "published_at",
        "created_at",
        "updated_at",
        "rows",
    )
    readonly_fields = ("rows",)
    label_select_related = ("org", "author__org")
    entity_type = "feedback"

    @admin.display(description="author")
    def author_label(self, obj: SupervisorFeedback) -> str:
        return member_label(obj.author, obj.org.slug)


class SelfAssessmentInline(ReadOnlyInline, admin.TabularInline):
    model = SelfAssessment
    fields = ("rating", "status", "comment", "submitted_at")
    readonly_fields = fields


class FeedbackInline(ReadOnlyInline, admin.TabularInline):
    model = SupervisorFeedback
    fields = ("author", "rating", "status", "comment", "published_at")
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("author__user", "author__org")


admin.site.unregister(Goal)


@admin.register(Goal)
class GoalAdmin(BaseGoalAdmin):
    """goals.admin's GoalAdmin with the goal's self-assessment and feedback (read-only)."""

    inlines = (*BaseGoalAdmin.inlines, SelfAssessmentInline, FeedbackInline)
