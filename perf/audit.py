"""Index audit (`manage.py audit_indexes`): the plans of every bench scenario's SQL, and the
catalog-level checks of the schema's indexes.

Findings that fail `--strict`: a sequential scan on a table of more than 10,000 rows that
discards more rows than it keeps (the sign of a missing index), a
foreign key without an index leading with its column(s) (for an org-scoped key, with its
columns after org_id), an index that duplicates or is a
prefix of another. Reported for information only: indexes never used since the statistics
were reset (a fresh or freshly seeded database has many), and index sizes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.test import Client

from perf.bench.scenarios import SCENARIOS, Actors, Scenario, actors_for, request_kwargs, url_for

SEQ_SCAN_ROWS = 10_000
PROJECT_TABLE_PREFIXES = ("users_", "orgs_", "goals_", "evaluations_", "dashboards_")


@dataclass
class QueryPlan:
    scenario: str
    sql: str
    nodes: list[str]
    seq_scans: list[str]
    rows_read: int
    rows_returned: int
    time_ms: float


@dataclass
class AuditReport:
    plans: list[QueryPlan] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)
    info: list[str] = field(default_factory=list)


def _capture_sql(scenario: Scenario, actors: Actors) -> list[tuple[str, Any]]:
    captured: list[tuple[str, Any]] = []

    def collect(execute, sql, params, many, context):
        if not many:
            captured.append((sql, params))
        return execute(sql, params, many, context)

    client = Client()
    auth = {}
    if scenario.actor:
        auth["HTTP_AUTHORIZATION"] = f"Bearer {actors.tokens[scenario.actor]}"
    if scenario.setup:
        scenario.setup(actors)
    try:
        url = url_for(scenario, actors)
        if scenario.before_each:
            scenario.before_each(actors)
        with connection.execute_wrapper(collect):
            client.generic(scenario.method, url, **auth, **request_kwargs(scenario, actors))
    finally:
        if scenario.teardown:
            scenario.teardown(actors)
    # Reads only: EXPLAIN ANALYZE would execute a write a second time.
    return [(sql, params) for sql, params in captured if sql.lstrip().upper().startswith("SELECT")]


def _walk(node: dict[str, Any], big_tables: set[str], plan: QueryPlan) -> None:
    plan.nodes.append(node["Node Type"])
    relation = node.get("Relation Name")
    loops = node.get("Actual Loops", 1)
    removed = node.get("Rows Removed by Filter", 0)
    # A seq scan is a finding when it throws away most of what it reads (an index would have
    # read less); reading most of a big org's rows sequentially is the right plan.
    if (
        node["Node Type"] == "Seq Scan"
        and relation in big_tables
        and removed > node.get("Actual Rows", 0)
    ):
        plan.seq_scans.append(relation)
    if relation:
        plan.rows_read += int(node.get("Actual Rows", 0) * loops) + int(
            node.get("Rows Removed by Filter", 0) * loops
        )
    for child in node.get("Plans", []):
        _walk(child, big_tables, plan)


def _big_tables() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname FROM pg_class WHERE relkind = 'r' AND reltuples > %s",
            [SEQ_SCAN_ROWS],
        )
        return {row[0] for row in cursor.fetchall()}


def explain(scenario: str, sql: str, params: Any, big_tables: set[str]) -> QueryPlan:
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {sql}", params)
        document = cursor.fetchone()[0]
    if isinstance(document, str):
        document = json.loads(document)
    root = document[0]
    plan = QueryPlan(scenario, sql, [], [], 0, root["Plan"].get("Actual Rows", 0), 0.0)
    plan.time_ms = root.get("Execution Time", 0.0)
    _walk(root["Plan"], big_tables, plan)
    return plan


def _catalog_checks(report: AuditReport) -> None:
    with connection.cursor() as cursor:
        # Foreign keys whose columns do not lead any index of their table. A tenant key
        # (org_id, x_id) → (org_id, id) (core.tenant_keys) is also supported by an index
        # leading with x_id alone: the referenced id is unique across orgs.
        cursor.execute(
            """
            SELECT c.conrelid::regclass::text, c.conname
            FROM pg_constraint c
            WHERE c.contype = 'f'
              AND c.conrelid::regclass::text LIKE ANY (%s)
              AND NOT EXISTS (
                SELECT 1 FROM pg_index i
                WHERE i.indrelid = c.conrelid
                  AND ((i.indkey::int2[])[0:array_length(c.conkey, 1) - 1] = c.conkey
                       OR (c.conkey[1] = (SELECT attnum FROM pg_attribute
                                          WHERE attrelid = c.conrelid AND attname = 'org_id')
                           AND (i.indkey::int2[])[0:array_length(c.conkey, 1) - 2]
                               = c.conkey[2:]))
              )
            """,
            [[f"{prefix}%" for prefix in PROJECT_TABLE_PREFIXES]],
        )
        for table, name in cursor.fetchall():
            report.findings.append(f"foreign key without a supporting index: {table}.{name}")
        # Indexes equal to, or a column prefix of, another index on the same table.
        cursor.execute(
            """
            SELECT a.indexrelid::regclass::text, b.indexrelid::regclass::text
            FROM pg_index a
            JOIN pg_index b ON a.indrelid = b.indrelid AND a.indexrelid <> b.indexrelid
            WHERE a.indrelid::regclass::text LIKE ANY (%s)
              AND a.indpred IS NULL AND b.indpred IS NULL
              AND a.indexprs IS NULL AND b.indexprs IS NULL
              AND NOT a.indisunique
              AND array_length(a.indkey::int2[], 1) <= array_length(b.indkey::int2[], 1)
              AND (b.indkey::int2[])[0:array_length(a.indkey::int2[], 1) - 1] = a.indkey::int2[]
              AND a.indoption::int2[]
                  = (b.indoption::int2[])[0:array_length(a.indkey::int2[], 1) - 1]
              AND (array_length(a.indkey::int2[], 1) < array_length(b.indkey::int2[], 1)
                   OR a.indexrelid > b.indexrelid)
            """,
            [[f"{prefix}%" for prefix in PROJECT_TABLE_PREFIXES]],
        )
        for redundant, covering in cursor.fetchall():
            report.findings.append(f"redundant index: {redundant} is covered by {covering}")
        cursor.execute(
            """
            SELECT s.indexrelname, s.relname, s.idx_scan,
                   pg_size_pretty(pg_relation_size(s.indexrelid))
            FROM pg_stat_user_indexes s
            WHERE s.relname LIKE ANY (%s)
            ORDER BY pg_relation_size(s.indexrelid) DESC
            """,
            [[f"{prefix}%" for prefix in PROJECT_TABLE_PREFIXES]],
        )
        for index, table, scans, size in cursor.fetchall():
            unused = " (never used since the statistics were reset)" if scans == 0 else ""
            report.info.append(f"{table}.{index}: {size}, {scans} scans{unused}")


def audit(*, slug: str) -> AuditReport:
    report = AuditReport()
    actors = actors_for(slug)
    big_tables = _big_tables()
    for scenario in SCENARIOS:
        for sql, params in _capture_sql(scenario, actors):
            plan = explain(scenario.name, sql, params, big_tables)
            report.plans.append(plan)
            for table in plan.seq_scans:
                report.findings.append(
                    f"{scenario.name}: sequential scan on {table} (> {SEQ_SCAN_ROWS:,} rows)"
                )
    _catalog_checks(report)
    return report
