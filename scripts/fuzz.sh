#!/usr/bin/env bash
# API fuzzing: schemathesis against /api/openapi.json of a private gunicorn on 127.0.0.1, as the
# demo admin of acme; every operation, every check, a bounded number of examples per operation.
# Fails on any 5xx, response that violates its schema, undocumented status code, accepted
# invalid input, etc. Settings that are not per-run live in schemathesis.toml. Generated input
# includes what hostile clients send: NUL characters in strings, and (scripts/fuzz_hooks.py)
# non-finite numbers such as NaN or 1e309 in JSON bodies; both must be a 422, never a 5xx.
#
# Env: FUZZ_MAX_EXAMPLES (15: the CI budget; FUZZ_MAX_EXAMPLES=500 for a long run),
# FUZZ_SEED (1), FUZZ_WORKERS (1, schemathesis threads; see below), FUZZ_PORT (first free from 8189),
# FUZZ_ARGS (extra schemathesis options), FUZZ_DATABASE_URL (default: DATABASE_URL's server,
# database "<name>_fuzz"; DROPPED and re-created on every run), plus REDIS_URL.
# Writes .data/fuzz/ (gunicorn log, JUnit report, a pytest file reproducing any failure).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

VENV=${VENV:-.venv}
PY="$VENV/bin/python"
MAX_EXAMPLES=${FUZZ_MAX_EXAMPLES:-15}
SEED=${FUZZ_SEED:-1}
# One thread by default: with several, hypothesis describing its strategies can crash in the
# ast module on Python 3.11 ("AST constructor recursion depth mismatch"), a tool error that
# fails the run. The server still has two workers.
WORKERS=${FUZZ_WORKERS:-1}
OUT=.data/fuzz
ADMIN_EMAIL=admin@acme.example
DEMO_PASSWORD=demo-pass-1234
export DEBUG=${DEBUG:-true}  # demo data is refused without it
mkdir -p "$OUT"

# A database of its own, fresh each run: the fuzzer writes hundreds of rows (and may close the
# demo period), so a run never depends on the last one and never touches development data.
# The cache keys get a prefix of their own for the same reason (org ids repeat across runs).
if [[ -z "${DATABASE_URL:-}" && -f .data/services.env ]]; then
  DATABASE_URL=$(sed -n 's/^DATABASE_URL=//p' .data/services.env)
  REDIS_URL=${REDIS_URL:-$(sed -n 's/^REDIS_URL=//p' .data/services.env)}
  export REDIS_URL
fi
: "${DATABASE_URL:?fuzz: set DATABASE_URL or run make services first}"
DATABASE_URL=${FUZZ_DATABASE_URL:-$("$PY" - "$DATABASE_URL" <<'PY'
import sys
from urllib.parse import urlsplit, urlunsplit
url = urlsplit(sys.argv[1])
print(urlunsplit(url._replace(path=url.path.rstrip("/") + "_fuzz")))
PY
)}
export DATABASE_URL
export CACHE_KEY_PREFIX="cadence-fuzz-$$"
"$PY" - <<'PY'
import os
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

url = urlsplit(os.environ["DATABASE_URL"].replace("postgres://", "postgresql://", 1))
name = url.path.lstrip("/")
with psycopg.connect(urlunsplit(url._replace(path="/postgres")), autocommit=True) as conn:
    conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
PY
"$PY" manage.py migrate --no-input >/dev/null
"$PY" manage.py seed --demo >/dev/null
# The run's config: schemathesis.toml plus the [dictionaries] it binds path ids to, holding real
# ids of the demo org, so path ids reach existing rows half of the time. Members: every one but
# the admin whose token the run uses (see schemathesis.toml).
{
  cat schemathesis.toml
  echo
  echo "# Appended by scripts/fuzz.sh: ids of the demo org acme in this run's database."
  echo "[dictionaries]"
  "$PY" manage.py shell -v 0 -c '
from goals.models import Goal, Period
from orgs.models import Department, Membership
rows = {
    "goals": Goal.objects.filter(org__slug="acme"),
    "periods": Period.objects.filter(org__slug="acme"),
    "departments": Department.objects.filter(org__slug="acme"),
    "members": Membership.objects.filter(org__slug="acme").exclude(user__email="'"$ADMIN_EMAIL"'"),
}
for name, queryset in rows.items():
    ids = sorted(queryset.values_list("pk", flat=True))
    print(f"{name} = {{ values = {ids} }}")
'
} >"$OUT/schemathesis.toml"

port=${FUZZ_PORT:-}
if [[ -z "$port" ]]; then
  port=$("$PY" scripts/free_port.py 8189 || true)
fi
[[ -n "$port" ]] || { echo "fuzz: no free port in 8189-8288" >&2; exit 1; }
base="http://127.0.0.1:$port"

# Rate limits off: the fuzzer sends far more than 1200 requests a minute as one user, and a 429
# would hide the answer under test. Access tokens for a day: a long run outlasts the default
# 15 minutes, and every later request would be a 401. The server logs at WARNING: 5xx
# tracebacks land in the log.
RATE_LIMITS_ENABLED=false JWT_ACCESS_TTL=86400 LOG_LEVEL=${LOG_LEVEL:-warning} \
  "$VENV/bin/gunicorn" config.wsgi:application -c config/gunicorn.conf.py \
  --bind "127.0.0.1:$port" --workers 2 --worker-class sync \
  >"$OUT/gunicorn.log" 2>&1 &
gpid=$!
stop_server() {
  process_stop "$gpid"
  "$PY" manage.py shell -v 0 -c 'from django.core.cache import cache; cache.delete_pattern("*")' \
    >/dev/null 2>&1 || true  # this run's keys only: the prefix is its own
}
trap stop_server EXIT INT TERM

up=
for _ in $(seq 1 150); do
  kill -0 "$gpid" 2>/dev/null || { echo "fuzz: gunicorn exited; see $OUT/gunicorn.log" >&2; exit 1; }
  if curl -fsS -o /dev/null --max-time 1 "$base/health/live" 2>/dev/null; then up=1; break; fi
  sleep 0.1
done
[[ -n "$up" ]] || { echo "fuzz: gunicorn not up within 15 s; see $OUT/gunicorn.log" >&2; exit 1; }
echo "fuzz: gunicorn pid $gpid on $base; $MAX_EXAMPLES examples per operation, seed $SEED"

login() {
  curl -fsS --max-time 10 -X POST "$base/api/auth/login" -H 'content-type: application/json' \
    -d "{\"email\":\"$ADMIN_EMAIL\",\"password\":\"$DEMO_PASSWORD\"}" |
    "$PY" -c 'import json,sys; print(json.load(sys.stdin)["access_token"])'
}
token=$(login) || { echo "fuzz: login as $ADMIN_EMAIL failed" >&2; exit 1; }

# FUZZ_TOKEN is read by the config. Keep the exit status, but still stop the server.
status=0
started=$(date +%s)
FUZZ_TOKEN=$token "$VENV/bin/schemathesis" --config-file "$OUT/schemathesis.toml" run "$base/api/openapi.json" \
  --checks all --max-examples "$MAX_EXAMPLES" --seed "$SEED" --workers "$WORKERS" \
  --report junit,pytest --report-dir "$OUT" --no-color ${FUZZ_ARGS:-} || status=$?
echo "fuzz: schemathesis exit $status after $(( $(date +%s) - started )) s; reports in $OUT/"
if grep -q 'Traceback' "$OUT/gunicorn.log"; then
  echo "fuzz: the server logged tracebacks; see $OUT/gunicorn.log" >&2
  status=${status/#0/1}
fi
exit "$status"
