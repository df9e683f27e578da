"""Keeps `auth:ver:{user_id}` true when a user is changed anywhere (admin included)."""

from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from users.cache import user_version_store
from users.models import User


@receiver(post_save, sender=User)
def publish_token_version(sender, instance: User, created: bool, **kwargs) -> None:
    if created:
        return
    user_id, version = instance.pk, instance.token_version
    transaction.on_commit(lambda: user_version_store(user_id=user_id, version=version))
