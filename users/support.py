"""The `Support` group of DESIGN.md §13: platform support staff are `is_staff` users in it.

It holds the view permission of every model and the permissions of the support actions, and
nothing else. users migration 0002 creates it; after every `migrate` (and every `flush`, which
tests run) the post_migrate receiver below creates it again if it is missing and adds the view
permission of each migrated app's models, so a model added later (another app's, a library's)
is never invisible to support staff."""

from __future__ import annotations

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions

SUPPORT_GROUP = "Support"
# (app label, model, codename, name) of each support action's permission.
SUPPORT_ACTIONS = (
    ("users", "user", "revoke_tokens", "Can revoke every token of a user"),
    ("orgs", "membership", "set_active_membership", "Can deactivate or reactivate a member"),
    ("goals", "period", "close_reopen_period", "Can close or reopen a period"),
    ("goals", "goal", "return_to_draft_goal", "Can return a goal to draft"),
)


def support_group_sync(apps, *, using: str = "default", app_labels=None) -> None:
    """Creates or completes the group for the apps named (every app by default), in the app
    registry given (a migration's or the project's). Safe to run again."""
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    configs = [c for c in apps.get_app_configs() if app_labels is None or c.label in app_labels]
    for app_config in configs:
        # Model permissions are made after `migrate` (post_migrate), maybe after this runs:
        # make them now (create_permissions skips existing ones). A migration's app configs
        # have no models module set; create_permissions wants one.
        models_module = getattr(app_config, "models_module", None)
        app_config.models_module = models_module or True
        try:
            create_permissions(app_config, verbosity=0, using=using, apps=apps)
        finally:
            app_config.models_module = models_module
    labels = {c.label for c in configs}
    permissions = list(
        Permission.objects.using(using).filter(
            content_type__app_label__in=labels, codename__startswith="view_"
        )
    )
    for app_label, model, codename, name in SUPPORT_ACTIONS:
        if app_label in labels:
            content_type, _ = ContentType.objects.using(using).get_or_create(
                app_label=app_label, model=model
            )
            permission, _ = Permission.objects.using(using).get_or_create(
                content_type=content_type, codename=codename, defaults={"name": name}
            )
            permissions.append(permission)
    group, _ = Group.objects.using(using).get_or_create(name=SUPPORT_GROUP)
    group.permissions.add(*permissions)


def support_group_after_migrate(sender, app_config, using="default", apps=global_apps, **kwargs):
    """post_migrate receiver (UsersConfig.ready): the group, with the migrated app's models."""
    if not app_config.models_module:
        return
    try:
        for label, model in (("contenttypes", "ContentType"), ("auth", "Group")):
            apps.get_model(label, model)
    except LookupError:  # auth or contenttypes not migrated (yet)
        return
    support_group_sync(apps, using=using, app_labels={app_config.label})
