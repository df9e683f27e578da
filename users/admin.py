from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminPasswordChangeForm, UserChangeForm, UserCreationForm

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
class UserAdmin(DjangoUserAdmin):
    """Usable at tens of thousands of users: indexed search, no full COUNT(*) on every page."""

    form = CadenceUserChangeForm
    add_form = CadenceUserCreationForm
    change_password_form = CadencePasswordChangeForm
    ordering = ("-created_at",)
    list_display = ("email", "full_name", "is_active", "is_staff", "is_superuser", "created_at")
    list_filter = ("is_active", "is_staff", "is_superuser")
    search_fields = ("email", "full_name")
    show_full_result_count = False
    list_per_page = 50
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

    def save_model(self, request, obj: User, form, change: bool) -> None:
        """Through the service, so deactivation or a change of privilege revokes tokens."""
        user_save(user=obj, changed=form.changed_data if change else ())


@admin.register(RefreshToken)
class RefreshTokenAdmin(admin.ModelAdmin):
    list_display = ("jti", "user", "family", "created_at", "expires_at", "used_at", "revoked")
    list_filter = ("revoked",)
    list_select_related = ("user",)
    search_fields = ("user__email",)
    autocomplete_fields = ("user",)
    show_full_result_count = False
    readonly_fields = ("jti", "user", "family", "created_at", "expires_at", "used_at")
