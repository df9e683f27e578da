from django.apps import AppConfig
from django.db.models.signals import post_migrate


class UsersConfig(AppConfig):
    name = "users"

    def ready(self) -> None:
        from users.support import support_group_after_migrate

        post_migrate.connect(support_group_after_migrate, dispatch_uid="users.support_group")
