#!/usr/bin/env bash
# e2e/kubelet/run.sh - the kubelet bench as one step (run as root):
#   1. e2e/cluster/build.sh        kubelet, kube-apiserver, etcd (cached per version)
#   2. e2e/kubelet/runtime.sh      the CRI runtime: a dedicated bulkheadd (default), or
#                                  KUBELET_E2E_RUNTIME=containerd for the reference run
#   3. e2e/cluster/up.sh           etcd + kube-apiserver + kubelet, node Ready
#      With BULKHEAD_KUBELET_E2E_VM=1 the micro-VM guest image is built (cached) first and
#      the microvm RuntimeClass spec runs too (needs the vm handler in the build).
#   4. vitest e2e/kubelet/*.spec.ts, or the files named in KUBELET_E2E_SPECS (BULKHEAD_KUBELET_E2E=1; JSON report in
#                                  .e2e-work/vitest-kubelet.json)
#   5. e2e/cluster/down.sh + runtime.sh stop, always (also on failure/interrupt), then a leak
#      check: no kubelet/apiserver/etcd/runtime process, mount or bridge of ours may remain.
# Needs the loopback registry with the test images (e2e/images/make-test-images.sh; started
# here if it is not serving) and `npm run build` output for the bulkhead runtime.
# Exit status: vitest's, or 1 if set-up or the leak check failed.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
cd "$REPO"
[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 1; }
export KUBELET_E2E_RUNTIME=${KUBELET_E2E_RUNTIME:-bulkhead}
mkdir -p .e2e-work
log() { printf '[kubelet-e2e] %s\n' "$*"; }

registry_started=no
cleanup() {
  trap - EXIT INT TERM
  log "tearing down"
  bash e2e/cluster/down.sh || true
  bash "$HERE/runtime.sh" stop || true
  [ $registry_started = yes ] && bash e2e/images/stop-registry.sh >/dev/null 2>&1 || true
}
trap cleanup EXIT
trap 'echo interrupted >&2; exit 130' INT TERM

t0=$SECONDS
bash e2e/cluster/build.sh || exit 1
log "build: ${SECONDS}s"

# Test images in the loopback registry (reuses a registry that already serves them).
REGISTRY=${REGISTRY:-127.0.0.1:5000}
if ! curl -fs "http://$REGISTRY/v2/e2e-test-images/busybox/tags/list" 2>/dev/null | grep -q 1.29-2; then
  bash e2e/images/make-test-images.sh || exit 1
  [ -s /var/cache/bulkhead-testimages/pids/registry.pid ] && registry_started=yes
fi
if [ "$KUBELET_E2E_RUNTIME" = bulkhead ] && [ ! -f dist/cmd/bulkheadd/main.js ]; then npm run -s build || exit 1; fi

# Micro-VM pods (BULKHEAD_KUBELET_E2E_VM=1): the guest image, cached by input hash.
if [ "${BULKHEAD_KUBELET_E2E_VM:-0}" = 1 ] && [ "$KUBELET_E2E_RUNTIME" = bulkhead ]; then
  [ -f deploy/guest/build-guest.sh ] || { log "BULKHEAD_KUBELET_E2E_VM=1 needs the vm handler (deploy/guest/build-guest.sh)"; exit 1; }
  export KUBELET_E2E_GUEST_ROOT=${KUBELET_E2E_GUEST_ROOT:-/var/cache/bulkhead-tools/guest}
  nice -n 10 bash deploy/guest/build-guest.sh "$KUBELET_E2E_GUEST_ROOT" >/dev/null || exit 1
fi
bash "$HERE/runtime.sh" start || exit 1
export CRI_ENDPOINT; CRI_ENDPOINT=$(bash "$HERE/runtime.sh" endpoint)
t1=$SECONDS
bash e2e/cluster/up.sh || exit 1
log "cluster up in $((SECONDS - t1))s (runtime $KUBELET_E2E_RUNTIME)"

. e2e/cluster/env.sh
rc=0
BULKHEAD_KUBELET_E2E=1 BULKHEAD_KUBECONFIG=$KUBECONFIG_ADMIN NODE_NAME=$NODE_NAME \
  npx vitest run --project kubelet ${KUBELET_E2E_SPECS:-} \
  --reporter=default --reporter=json --outputFile=.e2e-work/vitest-kubelet.json || rc=$?

cleanup
# Leak check: nothing of ours may survive the teardown.
leaks=0
for f in /var/lib/bulkhead-kcluster /run/bulkhead-kubelet-e2e /var/lib/bulkhead-kubelet-e2e; do
  [ -e "$f" ] && { log "LEAK: $f still exists"; leaks=1; }
done
if grep -qE '/var/lib/bulkhead-kcluster|bulkhead-kubelet-e2e' /proc/self/mountinfo; then log "LEAK: mounts remain"; leaks=1; fi
if pgrep -f 'bulkhead-kcluster|bulkhead-kubelet-e2e' >/dev/null; then log "LEAK: processes remain: $(pgrep -af 'bulkhead-kcluster|bulkhead-kubelet-e2e' | head -5)"; leaks=1; fi
if find /var/log/containers -maxdepth 1 -lname "/var/lib/bulkhead-kcluster/*" 2>/dev/null | grep -q .; then log "LEAK: /var/log/containers symlinks remain"; leaks=1; fi
if ip link show bhkube0 >/dev/null 2>&1; then log "LEAK: bridge bhkube0 remains"; leaks=1; fi
if ls -d /sys/fs/cgroup/*/bulkhead-kcluster >/dev/null 2>&1; then log "LEAK: cgroups remain"; leaks=1; fi
log "done in $((SECONDS - t0))s: vitest exit $rc, leaks $leaks"
[ $rc = 0 ] && [ $leaks = 0 ]
