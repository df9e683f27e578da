# Shared by the scripts that run a private server (fuzz.sh, loadtest.sh); source it.

# Stops a background process by its pid: TERM, up to 20 s for a graceful exit, then KILL.
process_stop() {
  local pid=$1
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}
