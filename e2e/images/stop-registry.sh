#!/usr/bin/env bash
# Stop the loopback registry started by start-registry.sh (only that process, by its pid file).
set -euo pipefail
LOG_TAG=registry
. "$(dirname "$0")/../lib/common.sh"
PIDF=$TESTIMAGES_DIR/pids/registry.pid
CONF=$TESTIMAGES_DIR/registry/config.yml
[ -s "$PIDF" ] || exit 0
pid=$(cat "$PIDF")
if kill -0 "$pid" 2>/dev/null && tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q "docker-registry serve $CONF"; then
  kill "$pid"
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
  log "stopped (pid $pid)"
fi
rm -f "$PIDF"
