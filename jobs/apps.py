from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "jobs"
    verbose_name = "Jobs and webhooks"

    def ready(self) -> None:
        from django.core.signals import request_started

        from core.health import check_register
        from jobs.monitoring import metrics_refresh, queue_check

        check_register("queue", queue_check)
        request_started.connect(metrics_refresh, dispatch_uid="jobs.metrics_refresh")
