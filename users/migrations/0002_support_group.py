"""The `Support` group of DESIGN.md §13 (users.support): view rights on every model, and the
permissions of the support actions (revoke all tokens of a user, deactivate or reactivate a
member, close or reopen a period, return a goal to draft). Give it to an `is_staff` user to
make them support staff (README "Admin for support staff").

Depends on the last migration of every app with models then, so that each has its view
permission by now; users.support's post_migrate receiver keeps the group complete afterwards
(a model added later)."""

from django.db import migrations

from users.support import SUPPORT_ACTIONS, SUPPORT_GROUP, support_group_sync


def support_group_create(apps, schema_editor):
    support_group_sync(apps, using=schema_editor.connection.alias)


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

    operations = [migrations.RunPython(support_group_create, support_group_remove)]
