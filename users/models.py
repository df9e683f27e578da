from __future__ import annotations

import uuid

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.hashers import check_password
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

    @classmethod
    def from_db(cls, db, field_names, values):
        instance = super().from_db(db, field_names, values)
        instance._loaded_security_state = instance._security_state()
        return instance

    def _security_state(self) -> tuple:
        return (self.is_active, self.password, self.is_superuser)

    def check_password(self, raw_password: str) -> bool:
        """Django's check, whose re-hash (a stronger hasher or more iterations) is not a new
        password: it must not revoke the user's tokens."""

        def rehash(raw: str) -> None:
            self.set_password(raw)
            self._password = None
            self._loaded_security_state = self._security_state()
            self.save(update_fields=["password"])

        return check_password(raw_password, self.password, rehash)

    def save(self, *args, **kwargs) -> None:
        self.email = normalize_email(self.email)
        loaded = getattr(self, "_loaded_security_state", None)
        if loaded is not None and loaded != self._security_state():
            # Deactivation, a new password or a change of privilege revokes every token.
            self.token_version += 1
            update_fields = kwargs.get("update_fields")
            if update_fields is not None:
                kwargs["update_fields"] = {*update_fields, "token_version"}
        super().save(*args, **kwargs)
        self._loaded_security_state = self._security_state()


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
