"""The `Support` group of DESIGN.md §13: view rights on every model, and the permissions of
the support actions (revoke all tokens of a user, deactivate or reactivate a member, close or
reopen a period, return a goal to draft). Give it to an `is_staff` user to make them support
staff (README "Admin for support staff").

Depends on the last migration of every app with models, so that every model has its view
permission by now; a model added later gets its view permission into the group with its own
migration (users.tests.test_support_group checks that every admin model is visible)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

SUPPORT_GROUP = "Support"
# (app label, model, codename, name) of each support action's permission.
SUPPORT_ACTIONS = (
    ("users", "user", "revoke_tokens", "Can revoke every token of a user"),
    ("orgs", "membership", "set_active_membership", "Can deactivate or reactivate a member"),
    ("goals", "period", "close_reopen_period", "Can close or reopen a period"),
    ("goals", "goal", "return_to_draft_goal", "Can return a goal to draft"),
)


def support_group_sync(apps, schema_editor=None):
    """Creates (or completes) the group; safe to run again."""
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    # Model permissions are made after `migrate` (post_migrate); on a new database they do
    # not exist yet at this point, so make them now (create_permissions skips existing ones).
    for app_config in apps.get_app_configs():
        models_module = getattr(app_config, "models_module", None)  # unset in a migration
        app_config.models_module = models_module or True
        try:
            create_permissions(app_config, apps=apps, verbosity=0)
        finally:
            app_config.models_module = models_module
    actions = []
    for app_label, model, codename, name in SUPPORT_ACTIONS:
        content_type, _ = ContentType.objects.get_or_create(app_label=app_label, model=model)
        permission, _ = Permission.objects.get_or_create(
            content_type=content_type, codename=codename, defaults={"name": name}
        )
        actions.append(permission)
    group, _ = Group.objects.get_or_create(name=SUPPORT_GROUP)
    group.permissions.add(*Permission.objects.filter(codename__startswith="view_"), *actions)


def support_group_remove(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    apps.get_model("auth", "Group").objects.filter(name=SUPPORT_GROUP).delete()
    for app_label, _, codename, _ in SUPPORT_ACTIONS:
        Permission.objects.filter(content_type__app_label=app_label, codename=codename).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("users", "0001_initial"),
        ("admin", "0003_logentry_add_action_flag_choices"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("sessions", "0001_initial"),
        ("orgs", "0006_auditevent_staff_actor"),
        ("goals", "0001_initial"),
        ("evaluations", "0001_initial"),
    ]

    operations = [migrations.RunPython(support_group_sync, support_group_remove)]
