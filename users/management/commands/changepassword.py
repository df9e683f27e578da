"""Django's `changepassword`, plus what a new password means here: every token issued before
it stops working (users.services.user_tokens_revoke)."""

from __future__ import annotations

import getpass

from django.contrib.auth.management.commands import changepassword

from users.models import User
from users.services import user_tokens_revoke


class Command(changepassword.Command):
    def handle(self, *args, **options):
        result = super().handle(*args, **options)
        username = options["username"] or getpass.getuser()
        user = User._default_manager.db_manager(options["database"]).get_by_natural_key(username)
        user_tokens_revoke(user_id=user.pk)
        return result
