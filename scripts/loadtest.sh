#!/usr/bin/env bash
# Bounded, headless Locust run against a private server on 127.0.0.1 (see docs/loadtest.md).
# Env: LOAD_USERS (20), LOAD_RATE (5), LOAD_TIME (60s), LOAD_PORT (first free from 8089),
# LOAD_WORKERS (2), LOAD_SERVER (granian, the measured default of `make run`; or gunicorn: sync
# workers), LOCUST_ORG, LOCUST_MEMBERS, plus DATABASE_URL/REDIS_URL for the app.
# Statistics are reset once every user has logged in (perf/locustfile.py): the logins (password
# hashing) happen before the measured window.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

VENV=${VENV:-.venv}
USERS=${LOAD_USERS:-20}
RATE=${LOAD_RATE:-5}
RUNTIME=${LOAD_TIME:-60s}
WORKERS=${LOAD_WORKERS:-2}
SERVER=${LOAD_SERVER:-granian}
OUT=.data/loadtest

port=${LOAD_PORT:-}
if [[ -z "$port" ]]; then
  port=$("$VENV/bin/python" scripts/free_port.py 8089 || true)
fi
[[ -n "$port" ]] || { echo "loadtest: no free port in 8089-8188" >&2; exit 1; }

mkdir -p "$OUT"
case "$SERVER" in
  granian) serve=("$VENV/bin/python" -m config.granian_conf config.wsgi:application) ;;
  gunicorn) serve=("$VENV/bin/gunicorn" config.wsgi:application -c config/gunicorn.conf.py
    --worker-class sync) ;;
  *) echo "loadtest: LOAD_SERVER=$SERVER: choose granian or gunicorn" >&2; exit 2 ;;
esac
RATE_LIMITS_ENABLED=false LOG_LEVEL=${LOG_LEVEL:-warning} \
  "${serve[@]}" --bind "127.0.0.1:$port" --workers "$WORKERS" >"$OUT/server.log" 2>&1 &
gpid=$!
stop_server() {
  process_stop "$gpid"
}
trap stop_server EXIT INT TERM

up=
for _ in $(seq 1 150); do
  kill -0 "$gpid" 2>/dev/null || { echo "loadtest: $SERVER exited; see $OUT/server.log" >&2; exit 1; }
  if curl -fs -o /dev/null --max-time 1 "http://127.0.0.1:$port/health/live"; then up=1; break; fi
  sleep 0.1
done
[[ -n "$up" ]] || { echo "loadtest: $SERVER not up within 15 s; see $OUT/server.log" >&2; exit 1; }
echo "loadtest: $SERVER pid $gpid on 127.0.0.1:$port; $USERS users, +$RATE/s, $RUNTIME"

# Locust exits 1 when any request failed; keep its status but still stop the server.
status=0
timeout --kill-after=30 "$(( $("$VENV/bin/python" -c "import sys;t=sys.argv[1];m={'s':1,'m':60,'h':3600};print(int(t[:-1])*m[t[-1]] if t[-1] in m else int(t))" "$RUNTIME") + 60 ))" \
  "$VENV/bin/locust" -f perf/locustfile.py --headless -u "$USERS" -r "$RATE" -t "$RUNTIME" \
  --host "http://127.0.0.1:$port" --csv "$OUT/locust" --html "$OUT/report.html" \
  --only-summary --stop-timeout 10 || status=$?
echo "loadtest: report $OUT/report.html, CSVs $OUT/locust_*.csv (locust exit $status)"
exit "$status"
