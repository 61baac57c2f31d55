#!/usr/bin/env bash
# Start the loopback image registry (Debian docker-registry = CNCF distribution v2) on
# $REGISTRY (127.0.0.1:5000), storing its data under $TESTIMAGES_DIR/registry.
# Idempotent: does nothing if our recorded registry process is already serving.
# Exit codes: 0 = ours is serving, 3 = some other process already serves the port (usable,
# but not ours to stop), 1 = error.
set -euo pipefail
LOG_TAG=registry
. "$(dirname "$0")/../lib/common.sh"
HERE=$E2E/images
LAB=$TESTIMAGES_DIR
mkdir -p "$LAB/registry/data" "$LAB/pids" "$LAB/logs"
PIDF=$LAB/pids/registry.pid
CONF=$LAB/registry/config.yml
ours() { [ -s "$PIDF" ] && kill -0 "$(cat "$PIDF")" 2>/dev/null \
  && tr '\0' ' ' < "/proc/$(cat "$PIDF")/cmdline" | grep -q "docker-registry serve $CONF"; }
if ours; then log "already running (pid $(cat "$PIDF"))"; exit 0; fi
if curl -fs -o /dev/null "http://$REGISTRY/v2/" 2>/dev/null; then
  log "another process already serves $REGISTRY; using it as is (it will not be stopped)"; exit 3
fi
sed -e "s|@DATA@|$LAB/registry/data|" -e "s|@ADDR@|$REGISTRY|" "$HERE/registry-config.yml" > "$CONF"
setsid /usr/bin/docker-registry serve "$CONF" >>"$LAB/logs/registry.log" 2>&1 </dev/null &
echo $! > "$PIDF"
for _ in $(seq 1 100); do
  if curl -fs -o /dev/null "http://$REGISTRY/v2/"; then log "up on $REGISTRY (pid $(cat "$PIDF"))"; exit 0; fi
  kill -0 "$(cat "$PIDF")" 2>/dev/null || break
  sleep 0.1
done
die "registry did not come up; see $LAB/logs/registry.log"
