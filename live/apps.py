from django.apps import AppConfig


class LiveConfig(AppConfig):
    name = "live"
    verbose_name = "Live updates"

    def ready(self) -> None:
        from core.health import check_register
        from live.health import channel_layer_check
        from live.publisher import changes_publish
        from orgs.changes import changes_committed

        changes_committed.connect(changes_publish, dispatch_uid="live.changes_publish")
        check_register("channel_layer", channel_layer_check, needs_database=False)
