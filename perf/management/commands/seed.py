from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from orgs.models import Organization
from perf.demo import DEMO_PASSWORD, demo_logins, demo_seed


class Command(BaseCommand):
    help = "Load data: --demo for the demo orgs and logins (DESIGN.md §7)."

    def add_arguments(self, parser):
        parser.add_argument("--demo", action="store_true", help="create the demo orgs and users")
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="do nothing (but print the logins) when the database already has orgs",
        )

    def handle(self, *args, **options):
        if not options["demo"]:
            raise CommandError("Say what to seed: --demo")
        if not settings.DEBUG:
            raise CommandError("Demo data is refused when DEBUG is off.")
        if options["if_empty"] and Organization.objects.exists():
            self.stdout.write("The database already has data; demo data not loaded.")
        elif Organization.objects.filter(slug__in=["acme", "globex"]).exists():
            raise CommandError("Demo orgs already exist.")
        else:
            demo_seed()
            self.stdout.write(self.style.SUCCESS("Demo data loaded."))
        self.stdout.write(f"Demo logins (password: {DEMO_PASSWORD}):")
        for slug, email, role in demo_logins():
            self.stdout.write(f"  {email:<28} {role:<9} /api/org/{slug}/")
