#!/usr/bin/env bash
# The WebSocket server of `make run` (live updates, DESIGN.md §10): uvicorn serving
# config.asgi on 127.0.0.1:$WS_PORT (default 8001), in the background.
#   bash scripts/realtime.sh start [PID]   start it (stopping one this script started before),
#                                          print its pid; with PID it stops when that process
#                                          is gone (`make run` passes its make)
#   bash scripts/realtime.sh stop          stop the one it started
# Its log: .data/realtime.log.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
HOST=${HOST:-127.0.0.1}
WS_PORT=${WS_PORT:-8001}
PID_FILE=.data/realtime.pid
LOG=.data/realtime.log

stop_server() {
  [[ -f $PID_FILE ]] || return 0
  local pid
  pid=$(cat "$PID_FILE")
  rm -f "$PID_FILE"
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || { echo "realtime: pid $pid stopped"; return 0; }
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
}

case "${1:-}" in
  start)
    stop_server
    mkdir -p .data
    nohup "$PY" -m uvicorn config.asgi:application --host "$HOST" --port "$WS_PORT" \
      --ws websockets --ws-per-message-deflate false --log-level warning >>"$LOG" 2>&1 &
    server=$!
    echo "$server" >"$PID_FILE"
    if [[ -n ${2:-} ]]; then  # stop with the given process (make run's make)
      watched=$2
      nohup bash -c "while kill -0 $watched 2>/dev/null && kill -0 $server 2>/dev/null; do
        sleep 1; done; kill -TERM $server 2>/dev/null" >/dev/null 2>&1 &
    fi
    echo "realtime: ws://$HOST:$WS_PORT/ws/org/{slug}/ (pid $server; log $LOG)"
    ;;
  stop)
    stop_server
    ;;
  *)
    echo "usage: $0 start [PID] | stop" >&2
    exit 2
    ;;
esac
