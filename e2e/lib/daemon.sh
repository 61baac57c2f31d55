#!/usr/bin/env bash
# e2e/lib/daemon.sh start|stop|status - run bulkheadd (dist/, e2e config) in the background.
#   start: renders e2e/bulkhead-e2e.toml into $E2E_WORK, starts the daemon detached (setsid) with
#          its log in $E2E_WORK/bulkheadd.log, and waits until `crictl version` answers.
#          With BULKHEAD_E2E_FRESH=1 it first empties the e2e root and state dirs.
#   stop:  SIGTERM to the recorded pid (SIGKILL after 30 s); only ever the process it started.
# Can also be sourced: daemon_start / daemon_stop / daemon_running.
set -euo pipefail
LOG_TAG=daemon
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

DAEMON_LOG=$E2E_WORK/bulkheadd.log
DAEMON_PID=$E2E_WORK/bulkheadd.pid
DAEMON_START_TIMEOUT=${DAEMON_START_TIMEOUT:-60}

crictl_e2e() { "$CRICTL" --runtime-endpoint "unix://$BULKHEAD_SOCK" --image-endpoint "unix://$BULKHEAD_SOCK" --timeout 10s "$@"; }

# True when the pid file names a live bulkheadd started with our rendered config.
daemon_running() {
  [ -s "$DAEMON_PID" ] || return 1
  local pid; pid=$(cat "$DAEMON_PID")
  kill -0 "$pid" 2>/dev/null && tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q -- "--config $BULKHEAD_E2E_CONFIG"
}

# Empties the config's root and state dirs, unless something is still mounted below one of them
# (a crashed earlier run): then it is kept, and the log says so.
daemon_reset_dirs() {
  local d
  for d in $(sed -nE 's/^(root|state) *= *"([^"]+)".*/\2/p' "$BULKHEAD_E2E_CONFIG"); do
    [ -d "$d" ] || continue
    if awk -v d="$d/" 'index($5 "/", d) == 1 { found = 1 } END { exit !found }' /proc/self/mountinfo; then
      log "mounts remain under $d from an earlier run: keeping it"
    else
      rm -rf "$d"
    fi
  done
}

daemon_start() {
  if daemon_running; then log "already running (pid $(cat "$DAEMON_PID"))"; return 0; fi
  [ -f "$REPO/dist/cmd/bulkheadd/main.js" ] || die "dist/ missing: run npm run build"
  [ -x "$BULKHEAD_RUNC" ] || die "no runc at $BULKHEAD_RUNC (run e2e/setup.sh)"
  sed -e "s|@REPO@|$REPO|g" -e "s|@RUNC@|$BULKHEAD_RUNC|g" "$BULKHEAD_E2E_CONFIG_TEMPLATE" > "$BULKHEAD_E2E_CONFIG"
  if [ "${BULKHEAD_E2E_FRESH:-0}" = 1 ]; then daemon_reset_dirs; fi
  mkdir -p "$(dirname "$BULKHEAD_SOCK")"
  : >> "$DAEMON_LOG"
  printf '\n===== bulkheadd start %s =====\n' "$(date -u +%FT%TZ)" >> "$DAEMON_LOG"
  setsid node "$REPO/dist/cmd/bulkheadd/main.js" --config "$BULKHEAD_E2E_CONFIG" --address "$BULKHEAD_SOCK" \
    >>"$DAEMON_LOG" 2>&1 </dev/null &
  echo $! > "$DAEMON_PID"
  local deadline=$((SECONDS + DAEMON_START_TIMEOUT))
  while [ $SECONDS -lt $deadline ]; do
    if ! kill -0 "$(cat "$DAEMON_PID")" 2>/dev/null; then
      tail -n 30 "$DAEMON_LOG" >&2
      rm -f "$DAEMON_PID"
      die "bulkheadd exited during start-up (log: $DAEMON_LOG)"
    fi
    if [ -S "$BULKHEAD_SOCK" ] && crictl_e2e version >/dev/null 2>&1; then
      log "bulkheadd up (pid $(cat "$DAEMON_PID"), socket $BULKHEAD_SOCK, log $DAEMON_LOG)"
      return 0
    fi
    sleep 0.2
  done
  daemon_stop
  die "bulkheadd did not answer crictl version within ${DAEMON_START_TIMEOUT}s (log: $DAEMON_LOG)"
}

daemon_stop() {
  if ! daemon_running; then rm -f "$DAEMON_PID"; return 0; fi
  local pid; pid=$(cat "$DAEMON_PID")
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    log "bulkheadd (pid $pid) ignored SIGTERM for 30 s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$DAEMON_PID"
  log "bulkheadd stopped (pid $pid)"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  case "${1:-}" in
    start) daemon_start ;;
    stop) daemon_stop ;;
    status) if daemon_running; then echo "running (pid $(cat "$DAEMON_PID"))"; else echo "stopped"; exit 1; fi ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
  esac
fi
