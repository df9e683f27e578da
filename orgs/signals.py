"""Cache invalidation for tenancy entries when rows change anywhere (services, admin, shell).

Bulk `QuerySet.update()` sends no signals: services that use it invalidate explicitly.
"""

from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_delete, post_save, pre_delete
from django.dispatch import receiver

from orgs.cache import (
    account_key,
    keys_delete_on_commit,
    member_entries_forget_on_commit,
    org_slug_key,
    org_versions_bump,
)
from orgs.models import Department, Membership, Organization
from users.models import User
from users.signals import user_profile_changed


@receiver([post_save, post_delete], sender=Organization)
def forget_org(sender, instance: Organization, created: bool = False, **kwargs) -> None:
    """The org entry, and its members' account entries (they show its slug and name)."""
    slugs = {instance.slug, getattr(instance, "_loaded_slug", None)} - {None}
    keys_delete_on_commit(org_slug_key(slug) for slug in slugs)
    if not created:
        users = Membership.objects.filter(org_id=instance.pk).values_list("user_id", flat=True)
        keys_delete_on_commit(account_key(user_id) for user_id in users)


@receiver([post_save, post_delete], sender=Membership)
def forget_membership(sender, instance: Membership, **kwargs) -> None:
    member_entries_forget_on_commit([(instance.org_id, instance.user_id)])


@receiver(user_profile_changed)
def forget_user_memberships(sender, user_id: int, **kwargs) -> None:
    """Member and account entries carry the user's email and name; so do the pages and member
    counts cached per org data version (a search matches them), so those orgs' versions move."""
    org_ids = set(Membership.objects.filter(user_id=user_id).values_list("org_id", flat=True))
    member_entries_forget_on_commit((org_id, user_id) for org_id in org_ids)
    if org_ids:
        transaction.on_commit(lambda: org_versions_bump(org_ids))
    keys_delete_on_commit([account_key(user_id)])


@receiver(post_delete, sender=User)
def forget_deleted_user(sender, instance: User, **kwargs) -> None:
    """A deleted user's account entry goes at once (its next /api/auth/me is a 401) and again
    after commit (a read in between could have stored it anew)."""
    cache.delete(account_key(instance.pk))
    keys_delete_on_commit([account_key(instance.pk)])


@receiver(pre_delete, sender=Department)
def forget_department_members(sender, instance: Department, **kwargs) -> None:
    """Deleting a department nulls its members' department_id with an UPDATE (no signals)."""
    rows = Membership.objects.filter(department=instance).values_list("org_id", "user_id")
    member_entries_forget_on_commit(rows)


@receiver(pre_delete, sender=Membership)
def forget_reports(sender, instance: Membership, **kwargs) -> None:
    """Deleting a membership nulls its reports' supervisor_id with an UPDATE (no signals)."""
    rows = Membership.objects.filter(supervisor=instance).values_list("org_id", "user_id")
    member_entries_forget_on_commit(rows)
