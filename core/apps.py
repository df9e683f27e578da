from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Kernel"

    def ready(self) -> None:
        from django.core import checks

        from core.errortracking import sentry_setup
        from core.health import check_register
        from core.ratelimit import rate_settings_check
        from core.replica import replica_check, replica_configured
        from core.tracing import telemetry_setup

        checks.register(rate_settings_check, checks.Tags.security)
        telemetry_setup()  # before the middleware loads: the Django instrumentation adds its own
        sentry_setup()
        if replica_configured():
            check_register("replica", replica_check, needs_database=False)
