"""The API through PgBouncer in transaction mode (DESIGN.md §9, README "Scale-out path").

A private PgBouncer (core.tests.pgbouncer) in front of the test database, a real gunicorn with
`DATABASE_URL` pointing at it and `DB_PGBOUNCER=true` — nothing else changed — and the API
tests that matter over HTTP: login, auth/me, org/me, the members page, the goal-list page, a
write per app, the cross-org 404, a long statement cancelled at the statement timeout that
PgBouncer sets, and PostgreSQL restarted behind PgBouncer (a private cluster, never the shared
server). Skipped without the pgbouncer binary, failed instead under CI.
"""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from django.conf import settings
from django.contrib.auth.hashers import PBKDF2PasswordHasher

from core.tests.pgbouncer import PrivatePgBouncer
from core.tests.postgres import PrivatePostgres
from core.tests.servers import Http, gunicorn_start, process_stop, server_env

# PgBouncer's connect_query sets it; the app's own DB_STATEMENT_TIMEOUT_MS (5 s by default) is
# not sent, or PgBouncer would refuse every connection.
STATEMENT_TIMEOUT_MS = 1500
PERFORMANCE = {
    "type": "performance",
    "metric": "Revenue",
    "target": 100,
    "unit": "kEUR",
    "direction": "increase",
}
LOGIN_PASSWORD = "through-the-pooler-7"  # noqa: S105 - a test user's
# What PgBouncer logs when a client uses what transaction mode cannot give it.
POOLER_ERRORS = ("unsupported startup parameter", "prepared statement", "pooler error")


@pytest.fixture(scope="module")
def bouncer(django_db_setup, django_db_blocker):
    """PgBouncer in front of the test database (its server, as the tests reach it)."""
    database = settings.DATABASES["default"]
    host = database["HOST"] or database.get("OPTIONS", {}).get("host") or "127.0.0.1"
    pgbouncer = PrivatePgBouncer(
        host=host,
        port=database["PORT"],
        dbname=database["NAME"],
        user=database["USER"] or "postgres",
        statement_timeout_ms=STATEMENT_TIMEOUT_MS,
    )
    try:
        pgbouncer.start()
        yield pgbouncer
    finally:
        pgbouncer.destroy()


@pytest.fixture(scope="module")
def server(bouncer):
    """gunicorn on the database through PgBouncer: the settings' DB_PGBOUNCER=true alone."""
    env = server_env(
        DATABASE_URL=bouncer.url(),
        DB_PGBOUNCER="true",
        ROOT_URLCONF="config.tests.urls_statement_timeout",
        RATE_LIMITS_ENABLED="false",
    )
    env.pop("DB_STATEMENT_TIMEOUT_MS", None)  # the default (5000) stays set, and is not sent
    process, port = gunicorn_start(env)
    try:
        yield port
    finally:
        process_stop(process)


@pytest.fixture
def http(server, transactional_db):
    """A client of the server; the test's rows are committed, so the server sees them."""

    def client(actor=None, token: str = "") -> Http:
        from conftest import ApiClient

        caller = Http(server)
        if actor is not None:
            user = getattr(actor, "user", actor)
            caller.token = token or ApiClient().token_for(user)
        return caller

    return client


def _ok(outcome, status: int = 200) -> dict:
    code, _, body, _ = outcome
    assert code == status, body
    return body


def _assert_pooler_clean(bouncer: PrivatePgBouncer) -> None:
    log = bouncer.log_text()
    assert not [line for line in log.splitlines() if any(e in line for e in POOLER_ERRORS)]


def test_login_me_and_pages_through_pgbouncer(http, bouncer, employee, admin):
    # Hashed as the server checks it (the suite's own hasher is MD5, pytest_configure).
    hasher = PBKDF2PasswordHasher()
    employee.user.password = hasher.encode(LOGIN_PASSWORD, hasher.salt())
    employee.user.save(update_fields=["password"])
    before = bouncer.transactions()
    anonymous = http()
    login = {"email": employee.user.email, "password": LOGIN_PASSWORD}
    body = _ok(anonymous.call("POST", "/api/auth/login", login))
    member = http(employee, token=body["access_token"])

    assert _ok(member.call("GET", "/api/auth/me"))["email"] == employee.user.email
    me = _ok(member.call("GET", "/api/org/acme-test/me"))
    assert (me["id"], me["org"]["slug"]) == (employee.pk, "acme-test")
    members = _ok(http(admin).call("GET", "/api/org/acme-test/members"))
    assert {item["id"] for item in members["items"]} >= {employee.pk, admin.pk}
    page = _ok(member.call("GET", "/api/org/acme-test/evaluation/goal-list-page"))
    assert page["goals"] == []

    # The SQL went through PgBouncer (its own count), and it logged no pooler error.
    assert bouncer.transactions() > before
    _assert_pooler_clean(bouncer)


def test_one_write_per_app_through_pgbouncer(http, bouncer, admin, manager, employee, period):
    owner, supervisor = http(employee), http(manager)
    goals = "/api/org/acme-test/goals"
    goal = _ok(
        owner.call(
            "POST",
            goals,
            {
                "period_id": period.pk,
                "category": "performance",
                "title": "Through the pooler",
                "weight": 30,
                "target_data": PERFORMANCE,
            },
        ),
        201,
    )  # goals
    _ok(owner.call("POST", f"{goals}/{goal['id']}/submit"))
    assert _ok(supervisor.call("POST", f"{goals}/{goal['id']}/approve"))["status"] == "approved"
    assessment = {"rating": 4, "comment": "Shipped it.", "status": "draft"}
    _ok(owner.call("PUT", f"{goals}/{goal['id']}/self-assessment", assessment))  # evaluations
    feedback = {"rating": 3, "comment": "Solid work.", "status": "draft"}
    _ok(supervisor.call("PUT", f"{goals}/{goal['id']}/feedback", feedback))
    members = "/api/org/acme-test/members"
    patched = _ok(http(admin).call("PATCH", f"{members}/{employee.pk}", {"title": "Lead"}))  # orgs
    assert patched["title"] == "Lead"

    # Each write is there on the next read, through PgBouncer too.
    page = _ok(owner.call("GET", "/api/org/acme-test/evaluation/goal-list-page"))
    (row,) = page["goals"]
    assert (row["id"], row["status"]) == (goal["id"], "approved")
    assert row["self_assessment"]["rating"] == 4
    assert _ok(owner.call("GET", "/api/org/acme-test/me"))["title"] == "Lead"
    _assert_pooler_clean(bouncer)


def test_another_orgs_data_is_404_through_pgbouncer(http, employee, outsider, period):
    owner = http(employee)
    goal = _ok(
        owner.call(
            "POST",
            "/api/org/acme-test/goals",
            {
                "period_id": period.pk,
                "category": "performance",
                "title": "Ours",
                "weight": 10,
                "target_data": PERFORMANCE,
            },
        ),
        201,
    )
    stranger = http(outsider)
    status, _, body, _ = stranger.call("GET", f"/api/org/globex-test/goals/{goal['id']}")
    assert (status, body["error"]) == (404, "not_found")
    status, _, body, _ = stranger.call("GET", "/api/org/acme-test/me")
    assert (status, body["error"]) == (404, "not_found")
    assert _ok(owner.call("GET", f"/api/org/acme-test/goals/{goal['id']}"))["title"] == "Ours"


def test_a_long_statement_is_cancelled_at_the_timeout_pgbouncer_sets(http, bouncer):
    client = http()
    setting = _ok(client.call("GET", "/api/test-statement-timeout"))["statement_timeout"]
    assert setting == f"{STATEMENT_TIMEOUT_MS}ms"

    status, headers, body, elapsed = client.call("GET", "/api/test-long-sql?seconds=20")
    print(f"long statement through PgBouncer: {status} after {elapsed:.2f} s")  # -s shows it
    assert (status, body["error"]) == (504, "timeout"), body
    assert body["request_id"] == headers["X-Request-ID"]
    # Cancelled by PostgreSQL at the timeout: not before, and not after the 20 s sleep.
    assert STATEMENT_TIMEOUT_MS / 1000 - 0.1 < elapsed < STATEMENT_TIMEOUT_MS / 1000 + 3

    # The server connection PgBouncer lent is clean again: the next statement runs.
    assert _ok(client.call("GET", "/api/test-statement-timeout"))["statement_timeout"] == setting
    status, _, _, elapsed = client.call("GET", "/api/test-long-sql?seconds=0.2")
    assert status == 200
    assert elapsed >= 0.2


# --- PostgreSQL restarted behind PgBouncer (a private cluster) ------------------------------

ROOT_EMAIL = "root@pgbouncer.example"
ROOT_PASSWORD = "pgbouncer-restart-9"  # noqa: S105 - a throwaway cluster's only user


@pytest.fixture
def app_behind_pgbouncer_on_private_postgres():
    """(PrivatePostgres, Http): a migrated private cluster with one user, PgBouncer in front,
    gunicorn on PgBouncer. Migrations run on the cluster itself, as an operator would."""
    from conftest import RUN_PREFIX

    postgres = PrivatePostgres()
    pgbouncer = server = None
    try:
        postgres.init()
        direct = {
            **server_env(DATABASE_URL=postgres.url, DB_STATEMENT_TIMEOUT_MS="0"),
            "CACHE_KEY_PREFIX": f"{RUN_PREFIX}-pgb",  # ids of this cluster are not the suite's
            "DJANGO_SUPERUSER_PASSWORD": ROOT_PASSWORD,
            "RATE_LIMITS_ENABLED": "false",  # the test logs in again and again
        }
        for command in (
            ["migrate", "--no-input"],
            ["createsuperuser", "--no-input", "--email", ROOT_EMAIL, "--full_name", "Root"],
        ):
            subprocess.run(  # noqa: S603
                [sys.executable, "manage.py", *command], env=direct, cwd=settings.BASE_DIR,
                check=True, timeout=180, stdout=subprocess.DEVNULL,
            )  # fmt: skip
        pgbouncer = PrivatePgBouncer(
            host="127.0.0.1",
            port=postgres.port,
            dbname="cadence",
            user="postgres",
            statement_timeout_ms=5000,
        )
        pgbouncer.start()
        env = {**direct, "DATABASE_URL": pgbouncer.url(), "DB_PGBOUNCER": "true"}
        env.pop("DB_STATEMENT_TIMEOUT_MS")
        server, port = gunicorn_start(env)
        yield postgres, Http(port)
    finally:
        if server is not None:
            process_stop(server)
        if pgbouncer is not None:
            pgbouncer.destroy()
        postgres.destroy()


def _login(http: Http):
    return http.call("POST", "/api/auth/login", {"email": ROOT_EMAIL, "password": ROOT_PASSWORD})


def test_postgres_restarted_behind_pgbouncer_is_a_fast_503_then_served_again(
    app_behind_pgbouncer_on_private_postgres,
):
    postgres, http = app_behind_pgbouncer_on_private_postgres
    _ok(_login(http))  # SQL: the user row, the password check
    http.token = _ok(_login(http))["access_token"]
    assert _ok(http.call("GET", "/api/auth/me"))["email"] == ROOT_EMAIL

    postgres.stop()
    try:
        outcomes = [_login(http) for _ in range(3)]
        print("pg down behind pgbouncer:", [(o[0], round(o[3], 2)) for o in outcomes])
        for status, headers, body, elapsed in outcomes:
            assert (status, body["error"]) == (503, "service_unavailable"), body
            assert set(body) == {"error", "message", "details", "request_id"}
            assert int(headers["Retry-After"]) >= 1
            # PgBouncer holds a query up to query_wait_timeout (1.5 s) before it answers.
            assert elapsed < 4, f"a request took {elapsed:.2f} s with the database down"
        status, _, body, _ = http.call("GET", "/health")
        assert (status, body["checks"]["database"]["status"]) == (503, "down")
    finally:
        postgres.start()

    # Back: served again through the same PgBouncer and gunicorn, neither restarted.
    started = time.monotonic()
    while (outcome := _login(http))[0] != 200:
        assert outcome[0] == 503, outcome[2]
        assert time.monotonic() - started < 15, "not served again 15 s after PostgreSQL is back"
        time.sleep(0.2)
    print(f"served again {time.monotonic() - started:.2f} s after PostgreSQL was back")
    assert _ok(http.call("GET", "/api/auth/me"))["email"] == ROOT_EMAIL
