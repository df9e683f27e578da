from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "jobs"
    verbose_name = "Jobs and webhooks"

    def ready(self) -> None:
        from core.health import check_register
        from core.metrics import scrape_hook_register
        from jobs.monitoring import metrics_refresh, queue_check

        check_register("queue", queue_check)
        scrape_hook_register(metrics_refresh)
