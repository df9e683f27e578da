from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Kernel"

    def ready(self) -> None:
        from django.core import checks

        from core.ratelimit import rate_settings_check

        checks.register(rate_settings_check, checks.Tags.security)
