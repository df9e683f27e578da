"""The `Support` group (users migration 0002, DESIGN.md §13): view rights on every model of
the admin and the permissions of the support actions; nothing else."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group

pytestmark = pytest.mark.django_db

SUPPORT_ACTIONS = {
    "users.revoke_tokens",
    "orgs.set_active_membership",
    "goals.close_reopen_period",
    "goals.return_to_draft_goal",
}


def _group_permissions() -> set[str]:
    group = Group.objects.get(name="Support")
    return {
        f"{app}.{codename}"
        for app, codename in group.permissions.values_list("content_type__app_label", "codename")
    }


def test_support_can_view_every_model_of_the_admin():
    granted = _group_permissions()
    missing = {
        f"{model._meta.app_label}.view_{model._meta.model_name}" for model in admin.site._registry
    } - granted
    assert not missing, missing


def test_support_may_run_the_support_actions_and_change_nothing():
    granted = _group_permissions()

    assert granted >= SUPPORT_ACTIONS
    assert {p.split(".")[1].split("_")[0] for p in granted - SUPPORT_ACTIONS} == {"view"}


def test_migrate_and_flush_keep_the_group_complete():
    """users.support's post_migrate receiver (also run by the flush of transactional tests):
    the group comes back with every migrated app's models and the support actions."""
    from django.apps import apps
    from django.contrib.auth.models import Permission

    from users.support import support_group_after_migrate

    Group.objects.filter(name="Support").delete()
    Permission.objects.filter(codename="return_to_draft_goal").delete()

    for app_config in apps.get_app_configs():
        support_group_after_migrate(sender=app_config, app_config=app_config)

    test_support_can_view_every_model_of_the_admin()
    test_support_may_run_the_support_actions_and_change_nothing()
