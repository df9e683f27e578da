"""The `Support` group of DESIGN.md §13 stays able to view every model.

users migration 0002 creates the group with the view permission of every model then known and
the support actions' permissions. A model added later (another app's, a library's) would be
invisible to support staff until someone remembered it; instead, after each `migrate` the view
permission of every model of each migrated app joins the group, when the group exists (it is
never re-created here: an operator may remove it)."""

from __future__ import annotations

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions

SUPPORT_GROUP = "Support"


def support_sees_every_model(sender, app_config, using="default", apps=global_apps, **kwargs):
    """post_migrate receiver (UsersConfig.ready)."""
    if not app_config.models_module:
        return
    try:
        Group = apps.get_model("auth", "Group")
        Permission = apps.get_model("auth", "Permission")
    except LookupError:  # auth not migrated (yet)
        return
    group = Group.objects.using(using).filter(name=SUPPORT_GROUP).first()
    if group is None:
        return
    # The app's permissions may not exist yet: auth's own receiver may run after this one.
    create_permissions(app_config, verbosity=0, using=using, apps=apps)
    group.permissions.add(
        *Permission.objects.using(using).filter(
            content_type__app_label=app_config.label, codename__startswith="view_"
        )
    )
