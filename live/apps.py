from django.apps import AppConfig


class LiveConfig(AppConfig):
    name = "live"
    verbose_name = "Live updates"

    def ready(self) -> None:
        from live.publisher import changes_publish
        from orgs.changes import changes_committed

        changes_committed.connect(changes_publish, dispatch_uid="live.changes_publish")
