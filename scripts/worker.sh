#!/usr/bin/env bash
# The job worker of `make run` (manage.py worker: imports, webhook deliveries) in the background.
#   bash scripts/worker.sh start [PID]   start it (stopping one this script started before),
#                                        print its pid; with PID it stops when that process is
#                                        gone (`make run` passes its make: the worker goes when
#                                        the server does)
#   bash scripts/worker.sh stop          stop the one it started (SIGTERM: running jobs finish)
# Its log: .data/worker.log. `make worker` runs one in the foreground instead.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
PID_FILE=.data/worker.pid
LOG=.data/worker.log

stop_worker() {
  [[ -f $PID_FILE ]] || return 0
  local pid
  pid=$(cat "$PID_FILE")
  rm -f "$PID_FILE"
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid"
  for _ in $(seq 1 100); do  # up to 10 s for running jobs to finish
    kill -0 "$pid" 2>/dev/null || { echo "worker: pid $pid stopped"; return 0; }
    sleep 0.1
  done
  echo "worker: pid $pid still running after 10 s; killing it" >&2
  kill -KILL "$pid" 2>/dev/null || true
}

case "${1:-}" in
  start)
    stop_worker
    mkdir -p .data
    nohup "$PY" manage.py worker ${2:+--exit-with "$2"} >>"$LOG" 2>&1 &
    echo $! >"$PID_FILE"
    echo "worker: pid $! (jobs and webhooks; log $LOG)"
    ;;
  stop)
    stop_worker
    ;;
  *)
    echo "usage: $0 start [PID] | stop" >&2
    exit 2
    ;;
esac
