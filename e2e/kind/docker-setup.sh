#!/usr/bin/env bash
# e2e/kind/docker-setup.sh: a Docker engine kind can use on this kind of machine (see
# /work/shared/docs/machine.md): Debian's docker.io, dockerd with iptables and ip-forward off
# (traffic may only stay on the host) and a default runtime that strips CAP_SYS_RESOURCE.
# Starts dockerd in the background unless one answers; prints "started" when it did, so the
# caller knows to stop it (e2e/kind/run.sh does, with docker-teardown).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
STATE=${BULKHEAD_DOCKER_STATE:-/run/bulkhead-kind-dockerd}
if docker info >/dev/null 2>&1; then echo "reused"; exit 0; fi
if ! command -v dockerd >/dev/null; then
  # No init system here, but the package's maintainer scripts would try to start the daemon with
  # its defaults (iptables on): forbid service starts while it installs.
  cleanup_policy() { rm -f /usr/sbin/policy-rc.d; }
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d
    trap cleanup_policy EXIT
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends docker.io >/dev/null
fi
install -D -m 0755 "$HERE/runc-wrapper" /usr/local/libexec/bulkhead/runc-nosysresource
mkdir -p "$STATE"
cat >"$STATE/daemon.json" <<JSON
{
  "iptables": false,
  "ip-forward": false,
  "runtimes": { "runc-nosysresource": { "path": "/usr/local/libexec/bulkhead/runc-nosysresource" } },
  "default-runtime": "runc-nosysresource",
  "storage-driver": "overlay2"
}
JSON
setsid dockerd --config-file "$STATE/daemon.json" --pidfile "$STATE/dockerd.pid" >"$STATE/dockerd.log" 2>&1 </dev/null &
for _ in $(seq 1 100); do docker info >/dev/null 2>&1 && break; sleep 0.3; done
docker info >/dev/null 2>&1 || { tail -20 "$STATE/dockerd.log" >&2; exit 1; }
echo "started"
