import logging
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from perf.bench.report import (
    BUDGETS_FILE,
    html_report,
    json_report,
    judge,
    load_budgets,
    report_rows,
    table_lines,
)
from perf.bench.runners import run_http, run_in_process
from perf.bench.scenarios import SCENARIOS, actors_for

UNREACHABLE_RATE_LIMITS = {
    "RATE_LIMIT_USER": "100000000/m",
    "RATE_LIMIT_ANON": "100000000/m",
    "RATE_LIMIT_LOGIN_IP": "100000000/m",
    "RATE_LIMIT_LOGIN_EMAIL": "100000000/m",
}


class Command(BaseCommand):
    help = (
        "Run the benchmark scenarios against the current database and check perf/budgets.toml. "
        "Exits 1 when a budget fails. Seed first (`manage.py seed`)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--slug", default="bigcorp", help="org to benchmark (seeded)")
        parser.add_argument("--scenarios", default="", help="comma-separated subset")
        parser.add_argument("--requests", type=int, default=200, help="in-process, per scenario")
        parser.add_argument("--warmup", type=int, default=20)
        parser.add_argument("--budgets", default=str(BUDGETS_FILE))
        parser.add_argument("--no-ratios", action="store_true", help="check query budgets only")
        parser.add_argument("--json", dest="json_path", default="")
        parser.add_argument("--html", dest="html_path", default="")
        parser.add_argument("--http", action="store_true", help="through a real gunicorn")
        parser.add_argument("--workers", type=int, default=2)
        parser.add_argument("--worker-class", default="sync", choices=["sync", "gthread"])
        parser.add_argument("--concurrency", type=int, default=8)
        parser.add_argument("--duration", type=float, default=10.0, help="seconds per scenario")
        parser.add_argument("--max-requests", type=int, default=5000, help="per scenario")

    def handle(self, *args, **options):
        logging.getLogger("cadence.request").setLevel(logging.WARNING)  # one line per request
        # Limits stay on, so their counting is measured, but one client must not reach them.
        for name, value in UNREACHABLE_RATE_LIMITS.items():
            setattr(settings, name, value)
        budgets = load_budgets(Path(options["budgets"]))
        wanted = {name for name in options["scenarios"].split(",") if name}
        scenarios = [s for s in SCENARIOS if not wanted or s.name in wanted | {"floor"}]
        try:
            actors = actors_for(options["slug"])
        except LookupError as exc:
            raise CommandError(str(exc)) from exc

        if options["http"]:
            results = self._run_http(scenarios, actors, options)
            mode = f"http, {options['workers']} {options['worker_class']} workers"
        else:
            results = [
                run_in_process(s, actors, requests=options["requests"], warmup=options["warmup"])
                for s in scenarios
            ]
            mode = "in-process"
        verdicts = judge(results, budgets, check_ratios=not options["no_ratios"])
        rows = report_rows(verdicts)
        for line in table_lines(rows, mode):
            self.stdout.write(line)
        if options["json_path"]:
            Path(options["json_path"]).write_text(json_report(rows, mode))
        if options["html_path"]:
            Path(options["html_path"]).write_text(html_report(rows, f"Cadence bench ({mode})"))
        if any(v.status == "FAIL" for v in verdicts):
            self.stderr.write("Budget check FAILED")
            sys.exit(1)
        self.stdout.write("All budgets hold.")

    def _run_http(self, scenarios, actors, options):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        env = {**os.environ, **UNREACHABLE_RATE_LIMITS, "LOG_LEVEL": "WARNING"}
        command = [
            sys.executable, "-m", "gunicorn", "config.wsgi:application",
            "-c", str(settings.BASE_DIR / "config" / "gunicorn.conf.py"),
            "--bind", f"127.0.0.1:{port}", "--workers", str(options["workers"]),
            "--worker-class", options["worker_class"],
        ]  # fmt: skip
        if options["worker_class"] == "gthread":
            command += ["--threads", "4"]
        server = subprocess.Popen(command, env=env, cwd=settings.BASE_DIR)  # noqa: S603
        try:
            self._wait_until_up(port, server)
            return [
                run_http(
                    s,
                    actors,
                    port=port,
                    concurrency=options["concurrency"],
                    duration=options["duration"],
                    max_requests=options["max_requests"],
                )
                for s in scenarios
            ]
        finally:
            server.terminate()
            server.wait(timeout=20)

    @staticmethod
    def _wait_until_up(port, server):
        for _ in range(100):
            if server.poll() is not None:
                raise CommandError("gunicorn exited at start-up")
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health/live", timeout=1)  # noqa: S310
                return
            except OSError:
                time.sleep(0.1)
        raise CommandError("gunicorn did not answer within 10 s")
