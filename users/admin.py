"""Admin of users (DESIGN.md §13): one list of every person, searched by the trigram indexes,
never counted in full (core.admin). Edits that touch security (deactivation, a new password,
a change of privilege) go through users.services and revoke the user's tokens. orgs.admin
extends this UserAdmin with the user's memberships and the "revoke all tokens" action."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminPasswordChangeForm, UserChangeForm, UserCreationForm
from django.db.models import Q
from django.db.models.functions import Lower

from core.admin import CadenceAdmin, CadenceAdminMixin
from users.models import RefreshToken, User
from users.services import user_password_save, user_save


class CadenceUserCreationForm(UserCreationForm):
    class Meta:
        model = User
        fields = ("email", "full_name")


class CadenceUserChangeForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


class CadencePasswordChangeForm(AdminPasswordChangeForm):
    """A new password through the service: every token issued before it stops working."""

    def save(self, commit: bool = True) -> User:
        user = super().save(commit=False)
        if commit:
            user_password_save(user=user)
        return user


@admin.register(User)
class UserAdmin(CadenceAdminMixin, DjangoUserAdmin):
    """Usable at tens of thousands of users: indexed search and order, no full COUNT(*)."""

    form = CadenceUserChangeForm
    add_form = CadenceUserCreationForm
    change_password_form = CadencePasswordChangeForm
    ordering = ("-created_at",)
    list_display = ("email", "full_name", "is_active", "is_staff", "is_superuser", "created_at")
    list_filter = ("is_active", "is_staff", "is_superuser", "groups")
    search_fields = ("email", "full_name")
    search_help_text = "Email or name, any part."
    readonly_fields = ("created_at", "last_login", "token_version")
    filter_horizontal = ("groups", "user_permissions")
    fieldsets = (
        (None, {"fields": ("email", "full_name", "password")}),
        ("Access", {"fields": ("is_active", "is_staff", "is_superuser", "token_version")}),
        ("Permissions", {"fields": ("groups", "user_permissions"), "classes": ("collapse",)}),
        ("Dates", {"fields": ("created_at", "last_login")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("email", "full_name", "password1", "password2")}),
    )

    def get_search_results(self, request, queryset, search_term):
        """Emails are stored lower-cased and names compared lower-cased, so `LIKE '%term%'`
        matches the trigram indexes (orgs migration 0003); `icontains` would not."""
        term = search_term.strip().lower()
        if not term:
            return queryset, False
        return queryset.annotate(_name_lower=Lower("full_name")).filter(
            Q(email__contains=term) | Q(_name_lower__contains=term)
        ), False

    def save_model(self, request, obj: User, form, change: bool) -> None:
        """Through the service, so deactivation or a change of privilege revokes tokens."""
        user_save(user=obj, changed=form.changed_data if change else ())


@admin.register(RefreshToken)
class RefreshTokenAdmin(CadenceAdmin):
    """Read-only: tokens are revoked by logout, a password change or the support action."""

    list_display = ("jti", "user", "family", "created_at", "expires_at", "used_at", "revoked")
    list_filter = ("revoked",)
    list_select_related = ("user",)
    search_fields = ("=user__email",)
    ordering = ("-created_at",)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
