"""Signals the users app sends. Apps above it listen (orgs drops its cached member items)."""

from django.dispatch import Signal

# Sent by users.services.user_save when a user's email or name changed; `user_id` is the user.
user_profile_changed = Signal()
