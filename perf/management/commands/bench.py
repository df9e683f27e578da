import json
import logging
import sys
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from perf.bench.report import (
    BUDGETS_FILE,
    html_page,
    html_report,
    json_report,
    judge,
    judge_rounds,
    load_budgets,
    median_round,
    report_rows,
    rps_ratios,
    server_summary,
    servers_table,
    table_lines,
)
from perf.bench.runners import run_http, run_rounds
from perf.bench.scenarios import SCENARIOS, actors_for
from perf.bench.servers import DEFAULT_SERVER, SERVERS, ServerFailed, server_start
from perf.bench.ws import (
    WsBenchError,
    deliveries_exact,
    first_existing_org,
    report_lines,
    ws_bench,
)

UNREACHABLE_RATE_LIMITS = {
    "RATE_LIMIT_USER": "100000000/m",
    "RATE_LIMIT_ANON": "100000000/m",
    "RATE_LIMIT_LOGIN_IP": "100000000/m",
    "RATE_LIMIT_LOGIN_EMAIL": "100000000/m",
}
ALWAYS = {"floor", "bare"}  # the references of the ratios; `bare` over HTTP only
DEFAULT_SLUG = "bigcorp"  # `manage.py seed`'s large org
WS_DEMO_SLUG = "acme"  # --ws without a seeded org: the demo's (`make demo`)


def worker_classes(value: str) -> list[str]:
    names = [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in SERVERS]
    if unknown or not names:
        raise CommandError(
            f"--worker-class: {', '.join(unknown) or 'none given'}; choose from "
            f"{', '.join(SERVERS)} (comma-separated to compare)"
        )
    return names


class Command(BaseCommand):
    help = (
        "Run the benchmark scenarios against the current database and check perf/budgets.toml. "
        "Exits 1 when a budget fails. Seed first (`manage.py seed`)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--slug",
            default=None,
            help=f"org to benchmark (seeded; default {DEFAULT_SLUG}; --ws: {DEFAULT_SLUG} if it "
            f"exists, else the demo org {WS_DEMO_SLUG})",
        )
        parser.add_argument("--scenarios", default="", help="comma-separated subset")
        parser.add_argument(
            "--requests", type=int, default=200, help="in process: per scenario and round"
        )
        parser.add_argument("--warmup", type=int, default=20)
        parser.add_argument("--budgets", default=str(BUDGETS_FILE))
        parser.add_argument("--no-ratios", action="store_true", help="check query budgets only")
        parser.add_argument("--json", dest="json_path", default="")
        parser.add_argument("--html", dest="html_path", default="")
        parser.add_argument("--http", action="store_true", help="through a real HTTP server")
        parser.add_argument("--workers", type=int, default=2)
        parser.add_argument(
            "--worker-class",
            default=DEFAULT_SERVER,
            help=f"HTTP server, or several comma-separated to compare: {', '.join(SERVERS)}",
        )
        parser.add_argument(
            "--rounds",
            type=int,
            default=1,
            help="rounds; in process: each scenario once per round, its requests alternating "
            "with the floor's, the p95 ratio the median over rounds; HTTP: servers interleaved",
        )
        parser.add_argument("--concurrency", type=int, default=32, help="HTTP connections")
        parser.add_argument("--duration", type=float, default=10.0, help="seconds per scenario")
        parser.add_argument("--max-requests", type=int, default=5000, help="per scenario")
        parser.add_argument(
            "--ws",
            action="store_true",
            help="live updates (perf/bench/ws.py): N sockets on one uvicorn worker, writes, "
            "commit→delivery p50/p95/p99, messages/s, memory per idle socket (DESIGN.md §10)",
        )
        parser.add_argument("--sockets", type=int, default=1000, help="--ws: open sockets")
        parser.add_argument("--writes", type=int, default=300, help="--ws: goal updates")
        parser.add_argument(
            "--write-rate", type=float, default=50.0, help="--ws: writes per second (0: no pause)"
        )
        parser.add_argument(
            "--deflate",
            action="store_true",
            help="--ws: serve with permessage-deflate (uvicorn's default; `make run` turns it off)",
        )
        parser.add_argument(
            "--strict",
            action="store_true",
            help="--ws: exit 1 on a budget miss too (a lost or duplicated delivery always does)",
        )

    def handle(self, *args, **options):
        logging.getLogger("cadence.request").setLevel(logging.WARNING)  # one line per request
        # Limits stay on, so their counting is measured, but one client must not reach them.
        for name, value in UNREACHABLE_RATE_LIMITS.items():
            setattr(settings, name, value)
        if options["ws"]:
            return self._handle_ws(options)
        options["slug"] = options["slug"] or DEFAULT_SLUG
        budgets = load_budgets(Path(options["budgets"]))
        wanted = {name for name in options["scenarios"].split(",") if name}
        scenarios = [s for s in SCENARIOS if not wanted or s.name in wanted | ALWAYS]
        try:
            actors = actors_for(options["slug"])
        except LookupError as exc:
            raise CommandError(str(exc)) from exc

        if options["http"]:
            failed = self._handle_http(scenarios, actors, budgets, options)
        else:
            failed = self._handle_in_process(scenarios, actors, budgets, options)
        if failed:
            self.stderr.write("Budget check FAILED")
            sys.exit(1)
        self.stdout.write("All budgets hold.")

    def _handle_ws(self, options) -> None:
        """Exit 1 when a delivery is lost, duplicated or unexpected, or a socket did not open;
        on a budget miss only with --strict (perf/bench/ws.py says why)."""
        if options["sockets"] < 1 or options["writes"] < 1 or options["write_rate"] < 0:
            raise CommandError("--sockets and --writes must be positive, --write-rate ≥ 0")
        slug = options["slug"] or first_existing_org(DEFAULT_SLUG, WS_DEMO_SLUG)
        try:
            report = ws_bench(
                slug,
                sockets=options["sockets"],
                writes=options["writes"],
                rate=options["write_rate"],
                deflate=options["deflate"],
                env_overrides={**UNREACHABLE_RATE_LIMITS, "LOG_LEVEL": "WARNING"},
                progress=self.stdout.write,
            )
        except (WsBenchError, ServerFailed) as exc:
            raise CommandError(str(exc)) from exc
        for line in report_lines(report):
            self.stdout.write(line)
        if options["json_path"]:
            Path(options["json_path"]).write_text(json.dumps(report, indent=2))
        if not deliveries_exact(report):
            self.stderr.write("Deliveries FAILED: lost, duplicated or unexpected messages")
            sys.exit(1)
        missed = [b["name"] for b in report["budgets"] if b["status"] == "FAIL"]
        if missed and options["strict"]:
            self.stderr.write(f"Budget check FAILED: {', '.join(missed)}")
            sys.exit(1)
        self.stdout.write(
            f"Budgets missed (not failing without --strict): {', '.join(missed)}"
            if missed
            else "All deliveries exact; the §10 budgets hold."
        )

    def _handle_in_process(self, scenarios, actors, budgets, options) -> bool:
        """`--rounds` rounds, each scenario's requests alternating with the floor's; a p95
        ratio is the median over the rounds of the scenario's p95 ÷ the p95 of the floor
        requests measured with it (`run_rounds`, `judge_rounds`)."""
        count = options["rounds"]

        def progress(number, results):
            floor_p95 = results[0].percentile(95)
            self.stdout.write(f"round {number}/{count}: floor p95 {floor_p95:.2f} ms")

        rounds = run_rounds(
            scenarios,
            actors,
            rounds=count,
            requests=options["requests"],
            warmup=options["warmup"],
            progress=progress if count > 1 else None,
        )
        mode = (
            f"in-process, {count} rounds of {options['requests']} requests per scenario, "
            "p95 ratio: median over rounds"
            if count > 1
            else "in-process"
        )
        verdicts = judge_rounds(rounds, budgets, check_ratios=not options["no_ratios"])
        rows = report_rows(verdicts)
        for line in table_lines(rows, mode):
            self.stdout.write(line)
        if options["json_path"]:
            Path(options["json_path"]).write_text(json_report(rows, mode))
        if options["html_path"]:
            Path(options["html_path"]).write_text(html_report(rows, f"Cadence bench ({mode})"))
        return any(v.status == "FAIL" for v in verdicts)

    def _handle_http(self, scenarios, actors, budgets, options) -> bool:
        """Each server started, measured and stopped once per round, the servers interleaved
        (round 1: a, b, c; round 2: a, b, c; …) so a slow minute of the machine falls on all."""
        names = worker_classes(options["worker_class"])
        rounds = {name: [] for name in names}
        for number in range(1, options["rounds"] + 1):
            for name in names:
                results = self._run_server(name, scenarios, actors, options)
                rounds[name].append(results)
                measured = "  ".join(f"{r.name} {r.rps:,.0f}" for r in results)
                self.stdout.write(f"round {number}/{options['rounds']} {name}: {measured} req/s")
        all_rows, sections, summaries, failed = [], [], [], False
        for name in names:
            label = SERVERS[name].label
            ratios = rps_ratios(rounds[name])
            verdicts = judge(
                median_round(rounds[name]),
                budgets,
                check_ratios=not options["no_ratios"],
                throughput=ratios,
            )
            failed = failed or any(v.status == "FAIL" for v in verdicts)
            rows = report_rows(verdicts)
            mode = (
                f"http, {label}, {options['workers']} workers, {options['concurrency']} "
                f"connections, median of {options['rounds']} round(s)"
            )
            for line in table_lines(rows, mode, http=True):
                self.stdout.write(line)
            self.stdout.write("")
            all_rows.extend({**row, "server": name} for row in rows)
            sections.append((f"Cadence bench ({mode})", rows))
            summaries.append(server_summary(label, rounds[name], ratios))
        self.stdout.write("Servers, measured (req/s: medians over the rounds; ratios: medians")
        self.stdout.write("of the same-round ratios; DESIGN.md §6 minimums in the headers):")
        for line in servers_table(summaries):
            self.stdout.write(line)
        if options["json_path"]:
            report = json_report(all_rows, "http", servers=summaries)
            Path(options["json_path"]).write_text(report)
        if options["html_path"]:
            Path(options["html_path"]).write_text(html_page(sections))
        return failed

    def _run_server(self, name, scenarios, actors, options):
        try:
            server = server_start(
                name, workers=options["workers"], env_overrides=UNREACHABLE_RATE_LIMITS
            )
        except ServerFailed as exc:
            raise CommandError(str(exc)) from exc
        try:
            return [
                run_http(
                    s,
                    actors,
                    port=server.port,
                    concurrency=options["concurrency"],
                    duration=options["duration"],
                    max_requests=options["max_requests"],
                    warmup=max(options["warmup"], options["concurrency"]),
                )
                for s in scenarios
            ]
        finally:
            server.stop()
