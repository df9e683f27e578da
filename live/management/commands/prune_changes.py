"""`manage.py prune_changes [--days N]`: drop change-log rows past the retention."""

import datetime

from django.conf import settings
from django.core.management.base import BaseCommand

from live.services import changes_prune


class Command(BaseCommand):
    help = "Delete change-log rows older than CHANGES_RETENTION_DAYS (or --days)."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=settings.CHANGES_RETENTION_DAYS)

    def handle(self, *args, days: int, **options):
        deleted = changes_prune(older_than=datetime.timedelta(days=days))
        total = sum(deleted.values())
        self.stdout.write(f"pruned {total} changes in {len(deleted)} orgs (older than {days} d)")
