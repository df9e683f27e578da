import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from orgs.models import Organization
from perf.demo import DEMO_PASSWORD, demo_logins, demo_present, demo_seed
from perf.seeding import SeedSize, reference_seed


class Command(BaseCommand):
    help = (
        "Load data. --demo: the demo orgs and logins (DESIGN.md §7). Otherwise the reference "
        "data set of DESIGN.md §6 (sizes adjustable), loaded with COPY."
    )

    def add_arguments(self, parser):
        parser.add_argument("--demo", action="store_true", help="create the demo orgs and users")
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="with --demo: do nothing (but print the logins) when the database has orgs",
        )
        parser.add_argument(
            "--if-missing",
            action="store_true",
            help="with --demo: load the demo orgs and logins unless they exist (`make run`), "
            "whatever other data the database holds (a `make seed`, `make bench-ci`)",
        )
        defaults = SeedSize()
        parser.add_argument("--members", type=int, default=defaults.members)
        parser.add_argument("--goals-per-member", type=int, default=defaults.goals_per_member)
        parser.add_argument("--small-orgs", type=int, default=defaults.small_orgs)
        parser.add_argument("--departments", type=int, default=defaults.departments)
        parser.add_argument("--random-seed", type=int, default=42)
        parser.add_argument("--slug", default="bigcorp", help="slug of the large org")

    def handle(self, *args, **options):
        if options["demo"]:
            self._demo(if_empty=options["if_empty"], if_missing=options["if_missing"])
        else:
            self._reference(options)

    def _demo(self, *, if_empty: bool, if_missing: bool) -> None:
        if not settings.DEBUG:
            raise CommandError("Demo data is refused when DEBUG is off.")
        if if_empty and Organization.objects.exists():
            self.stdout.write("The database already has data; demo data not loaded.")
        elif demo_present():
            if not if_missing:
                raise CommandError("Demo orgs already exist.")
            self.stdout.write("Demo data already loaded.")
        else:
            demo_seed()
            self.stdout.write(self.style.SUCCESS("Demo data loaded."))
        self.stdout.write(f"Demo logins (password: {DEMO_PASSWORD}):")
        for email, role, where in demo_logins():
            self.stdout.write(f"  {email:<28} {role:<9} {where}")

    def _reference(self, options) -> None:
        slug = options["slug"]
        if Organization.objects.filter(slug__startswith=slug).exists():
            raise CommandError(f"Orgs with the slug prefix {slug!r} exist already.")
        if options["members"] < 2 or options["departments"] < 1:
            raise CommandError("--members must be at least 2 and --departments at least 1.")
        size = SeedSize(
            members=options["members"],
            goals_per_member=options["goals_per_member"],
            departments=min(options["departments"], options["members"]),
            small_orgs=options["small_orgs"],
        )
        started = time.perf_counter()

        def progress(message: str) -> None:
            self.stdout.write(f"[{time.perf_counter() - started:6.1f}s] {message}")
            self.stdout.flush()

        reference_seed(size=size, random_seed=options["random_seed"], slug=slug, progress=progress)
        self.stdout.write(
            self.style.SUCCESS(f"Seeded in {time.perf_counter() - started:.1f}s. Logins: "
                               f"admin@{slug}.example, member1@{slug}.example … "
                               f"(password {DEMO_PASSWORD})")
        )  # fmt: skip
