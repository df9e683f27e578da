from __future__ import annotations

import uuid

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone


def normalize_email(email: str) -> str:
    """Emails are stored lower-cased, so a plain unique index makes them unique ignoring case."""
    return (email or "").strip().lower()


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **fields) -> User:
        user = self.model(email=normalize_email(email), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **fields) -> User:
        fields.update(is_staff=True, is_superuser=True)
        return self.create_user(email, password, **fields)

    def get_by_natural_key(self, username: str) -> User:
        return self.get(email=normalize_email(username))


class User(AbstractBaseUser, PermissionsMixin):
    """A person, global across organizations; what they do inside one is their Membership."""

    email = models.EmailField(max_length=254, unique=True)
    full_name = models.CharField(max_length=200)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False, help_text="Can log into the Django admin.")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    token_version = models.PositiveIntegerField(
        default=1, help_text="Bumped to revoke every token of the user."
    )

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["full_name"]

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(email=Lower("email")), name="users_user_email_lowercase"
            ),
        ]

    def __str__(self) -> str:
        return self.email

    def save(self, *args, **kwargs) -> None:
        # An invariant, not a side effect: the unique index is on the lower-cased email.
        self.email = normalize_email(self.email)
        super().save(*args, **kwargs)


class RefreshToken(models.Model):
    """One issued refresh token. Each is single-use; tokens rotated from one login share a
    family, and presenting a used token again revokes the family (and every token of the user)."""

    jti = models.UUIDField(primary_key=True, default=uuid.uuid4)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="refresh_tokens")
    family = models.UUIDField(db_index=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(db_index=True)
    used_at = models.DateTimeField(null=True, blank=True)
    revoked = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"refresh {self.jti} of user {self.user_id}"
