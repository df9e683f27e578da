"""`manage.py rollups --verify [--org SLUG]` / `--rebuild [--org SLUG]` (dashboards.rollups): the
dashboards' rollups and the team page's (evaluations.models.OwnerGoalRollup)."""

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from dashboards.rollups import org_id_of, rollups_rebuild, rollups_verify


class Command(BaseCommand):
    help = (
        "Check the rollups (dashboards, team page) against a recompute from the base tables "
        "(--verify: exits 1 and prints each difference), or rewrite them from it (--rebuild)."
    )

    def add_arguments(self, parser):
        action = parser.add_mutually_exclusive_group(required=True)
        action.add_argument("--verify", action="store_true", help="compare; exit 1 on a difference")
        action.add_argument("--rebuild", action="store_true", help="rewrite from the base tables")
        parser.add_argument("--org", metavar="SLUG", help="one org (default: every org)")

    def handle(self, *args, **options):
        org_ids = None
        if options["org"]:
            org_id = org_id_of(slug=options["org"])
            if org_id is None:
                raise CommandError(f"No org with the slug {options['org']!r}.")
            org_ids = [org_id]
        scope = f"org {options['org']}" if org_ids else "every org"
        if options["rebuild"]:
            with transaction.atomic():
                rollups_rebuild(org_ids=org_ids)
            self.stdout.write(f"Rollups rebuilt ({scope}).")
            return
        differences = rollups_verify(org_ids=org_ids)
        for line in differences:
            self.stdout.write(line)
        if differences:
            raise CommandError(f"{len(differences)} rollup rows differ ({scope}).", returncode=1)
        self.stdout.write(f"Rollups match the base tables ({scope}).")
