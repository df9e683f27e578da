"""Cache invalidation for tenancy entries when rows change anywhere (services, admin, shell).

Bulk `QuerySet.update()` sends no signals: services that use it invalidate explicitly.
"""

from django.db.models.signals import post_delete, post_save, pre_delete
from django.dispatch import receiver

from orgs.cache import keys_delete_on_commit, member_key, org_slug_key
from orgs.models import Department, Membership, Organization
from users.signals import user_profile_changed


@receiver([post_save, post_delete], sender=Organization)
def forget_org(sender, instance: Organization, **kwargs) -> None:
    slugs = {instance.slug, getattr(instance, "_loaded_slug", None)} - {None}
    keys_delete_on_commit(org_slug_key(slug) for slug in slugs)


@receiver([post_save, post_delete], sender=Membership)
def forget_membership(sender, instance: Membership, **kwargs) -> None:
    keys_delete_on_commit([member_key(instance.org_id, instance.user_id)])


@receiver(user_profile_changed)
def forget_user_memberships(sender, user_id: int, **kwargs) -> None:
    """Member entries carry the user's email and name."""
    org_ids = Membership.objects.filter(user_id=user_id).values_list("org_id", flat=True)
    keys_delete_on_commit(member_key(org_id, user_id) for org_id in org_ids)


@receiver(pre_delete, sender=Department)
def forget_department_members(sender, instance: Department, **kwargs) -> None:
    """Deleting a department nulls its members' department_id with an UPDATE (no signals)."""
    rows = Membership.objects.filter(department=instance).values_list("org_id", "user_id")
    keys_delete_on_commit(member_key(org_id, user_id) for org_id, user_id in rows)


@receiver(pre_delete, sender=Membership)
def forget_reports(sender, instance: Membership, **kwargs) -> None:
    """Deleting a membership nulls its reports' supervisor_id with an UPDATE (no signals)."""
    rows = Membership.objects.filter(supervisor=instance).values_list("org_id", "user_id")
    keys_delete_on_commit(member_key(org_id, user_id) for org_id, user_id in rows)
