from django.apps import AppConfig
from django.db.models.signals import post_migrate


class UsersConfig(AppConfig):
    name = "users"

    def ready(self) -> None:
        from users.support import support_sees_every_model

        post_migrate.connect(
            support_sees_every_model, dispatch_uid="users.support_sees_every_model"
        )
