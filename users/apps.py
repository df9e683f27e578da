from django.apps import AppConfig


class UsersConfig(AppConfig):
    name = "users"

    def ready(self) -> None:
        from django.core import checks

        from config.ratelimit import rate_settings_check
        from users import signals  # noqa: F401

        checks.register(rate_settings_check, checks.Tags.security)
