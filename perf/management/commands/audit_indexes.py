import logging
import sys

from django.core.management.base import BaseCommand, CommandError

from perf.audit import audit


class Command(BaseCommand):
    help = (
        "EXPLAIN (ANALYZE, BUFFERS) the SQL of every bench scenario and check the indexes. "
        "--strict exits 1 on any finding."
    )

    def add_arguments(self, parser):
        parser.add_argument("--slug", default="bigcorp", help="seeded org to audit")
        parser.add_argument("--strict", action="store_true")
        parser.add_argument("--verbose-plans", action="store_true", help="print each SQL")

    def handle(self, *args, **options):
        logging.getLogger("cadence.request").setLevel(logging.WARNING)
        try:
            report = audit(slug=options["slug"])
        except LookupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"{'scenario':<22}{'ms':>8}{'read':>10}{'returned':>10}  plan")
        for plan in report.plans:
            self.stdout.write(
                f"{plan.scenario:<22}{plan.time_ms:>8.2f}{plan.rows_read:>10}"
                f"{plan.rows_returned:>10}  {' > '.join(plan.nodes[:6])}"
            )
            if options["verbose_plans"]:
                self.stdout.write(f"    {plan.sql}")
        self.stdout.write("\nIndexes:")
        for line in report.info:
            self.stdout.write(f"  {line}")
        if report.findings:
            self.stdout.write("\nFindings:")
            for finding in report.findings:
                self.stdout.write(f"  - {finding}")
            if options["strict"]:
                sys.exit(1)
        else:
            self.stdout.write("\nNo findings.")
