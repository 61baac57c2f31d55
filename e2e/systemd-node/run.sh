#!/bin/bash
# e2e/systemd-node/run.sh - boots the systemd + cgroup v2 test node (build.sh) under QEMU (KVM
# when usable, TCG otherwise: expect minutes) with this checkout's build on a second disk, and
# waits for check.sh's verdict on the serial console. run-all.sh's step `systemd-node` runs it
# (TIMEOUT=1500 there); by hand after `npm run build`:  bash e2e/systemd-node/run.sh
# Env: TIMEOUT (s, default 2400), MEM (MiB, 2048), SMP (2), KEEP=1 keeps the work dir, CRITEST=0
# skips the critest specs, CRITEST_FULL=1 runs critest's whole suite (minus e2e/critest-skip.list), CRITEST_BIN (default: e2e/setup.sh's cri-tools v1.36.0 build), KUBELET=0
# skips the kubelet check, KUBELET_BIN (default: e2e/cluster/build.sh's v1.36.3 build), OOM_RUNS
# (OOM containers in a row, default 3), KEEP_REGISTRY=1 leaves a registry this script started,
# SYSTEMD_NODE_REPORT=<file> writes the results as a vitest-style JSON report (report.mjs).
# The whole script is one compound command: bash reads it fully before running, so editing the
# checkout during a run (minutes under TCG) cannot change what the run executes.
{
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
TIMEOUT=${TIMEOUT:-2400}
log() { printf '[systemd-node] %s\n' "$*"; }
[ -f "$REPO/dist/cmd/bulkheadd/main.js" ] || { log "no dist/: run npm run build first"; exit 1; }
# a fresh CI machine: the one tool e2e/setup.sh does not install (here, not in build.sh: its hash keys the image cache)
command -v debootstrap >/dev/null || { log "installing debootstrap"; DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >&2; }
# the lock run-all.sh's background prebuild takes while it builds the same image
mkdir -p /var/cache/bulkhead-tools/systemd-node
IMG=$(flock /var/cache/bulkhead-tools/systemd-node/.build.lock bash "$HERE/build.sh")
WORK=$(mktemp -d /var/tmp/systemd-node.XXXXXX)
# The node pulls the test images from the host's loopback registry (QEMU user net 10.0.2.2:5000):
# make-test-images.sh builds them once (cached) and starts the registry unless something serves it.
PIDF=/var/cache/bulkhead-testimages/pids/registry.pid
had_registry=no; [ -s "$PIDF" ] && had_registry=yes
if ! curl -fs -o /dev/null http://127.0.0.1:5000/v2/; then bash "$REPO/e2e/images/make-test-images.sh" >&2 || { log "test images/registry failed"; exit 1; }; fi
cleanup() {
  [ -n "${QPID:-}" ] && kill "$QPID" 2>/dev/null || true
  if [ "$had_registry" = no ] && [ -s "$PIDF" ] && [ "${KEEP_REGISTRY:-0}" != 1 ]; then bash "$REPO/e2e/images/stop-registry.sh" >&2 || true; fi
  [ "${KEEP:-0}" = 1 ] && log "kept $WORK" || rm -rf "$WORK"
}
trap cleanup EXIT

# The checkout's build (dist, node_modules, deploy files, the check) as a read-only second disk.
STAGE=$WORK/stage
mkdir -p "$STAGE"
# What deploy/install.sh installs: dist, the CRI proto, production node_modules, deploy files.
tar -C "$REPO" -chf - dist api package.json package-lock.json node_modules deploy | tar -C "$STAGE" -xf -
(cd "$STAGE" && npm prune --omit=dev --no-audit --no-fund --loglevel=error >/dev/null)
mkdir -p "$STAGE/e2e/systemd-node"
cp "$HERE/check.sh" "$HERE/kubelet-check.sh" "$STAGE/e2e/systemd-node/"
cp -r "$REPO/e2e/certs.d" "$STAGE/e2e/"
# settings for check.sh inside the node (it cannot see this environment)
{
  printf 'OOM_RUNS=%q\n' "${OOM_RUNS:-3}"
  # CRITEST_FULL=1: critest's whole suite minus e2e/critest-skip.list (TCG: expect an hour),
  # instead of the focused cgroup/resource/stats/OOM/lifecycle subset
  if [ "${CRITEST_FULL:-0}" = 1 ]; then
    printf 'CRITEST_FOCUS=\nCRITEST_SKIP=%q\n' "$(grep -v -e '^[[:space:]]*#' -e '^[[:space:]]*$' "$REPO/e2e/critest-skip.list" | paste -sd'|' -)"
  fi
} > "$STAGE/e2e/systemd-node/env"
# critest's cgroup/resource/stats/OOM/lifecycle specs too, unless CRITEST=0 (they add minutes under TCG)
CRITEST_BIN=${CRITEST_BIN:-/var/cache/bulkhead-tools/v1.36.0/critest}
if [ "${CRITEST:-1}" = 1 ] && [ -x "$CRITEST_BIN" ]; then cp "$CRITEST_BIN" "$STAGE/critest"; fi
# kubelet with cgroupDriver: systemd and a Burstable static pod (kubelet-check.sh), unless KUBELET=0
KUBELET_BIN=${KUBELET_BIN:-/var/cache/bulkhead-tools/k8s-v1.36.3/kubelet}
if [ "${KUBELET:-1}" = 1 ]; then
  # e2e/cluster/build.sh builds it from the Go module proxy once (cached; run-all's kubelet step already did)
  [ -x "$KUBELET_BIN" ] || bash "$REPO/e2e/cluster/build.sh" >&2 || { log "no kubelet at $KUBELET_BIN and e2e/cluster/build.sh failed (KUBELET=0 skips)"; exit 1; }
  cp "$KUBELET_BIN" "$STAGE/kubelet"
fi
truncate -s 1G "$WORK/bulkhead.ext4"
mkfs.ext4 -q -F -d "$STAGE" "$WORK/bulkhead.ext4"
rm -rf "$STAGE"

accel=tcg
if [ -w /dev/kvm ] && grep -qE 'vmx|svm' /proc/cpuinfo && ! dmesg 2>/dev/null | grep -q kvm-pvm; then accel=kvm; fi
# TCG: without tsc_early_khz the guest cannot calibrate its TSC and may hang (docs/microvm.md).
khz=$(awk -F: '/cpu MHz/ { printf "%d", $2 * 1000; exit }' /proc/cpuinfo)
cmdline="root=/dev/vda rw console=ttyS0 systemd.unified_cgroup_hierarchy=1 tsc_early_khz=$khz mitigations=off random.trust_cpu=on"
log "booting ($accel, ${MEM:-2048} MiB, ${SMP:-2} vCPUs): serial log $WORK/serial.log"
start=$(date +%s)
qemu-system-x86_64 -accel "$accel" -cpu max -machine q35 -smp "${SMP:-2}" -m "${MEM:-2048}" \
  -nographic -nodefaults -no-reboot -monitor none -serial "file:$WORK/serial.log" \
  -kernel "$IMG/vmlinuz" -initrd "$IMG/initrd.img" -append "$cmdline" \
  -drive "file=$IMG/node.ext4,if=virtio,format=raw,snapshot=on" \
  -drive "file=$WORK/bulkhead.ext4,if=virtio,format=raw,readonly=on" \
  -netdev user,id=n0 -device virtio-net-pci,netdev=n0 &
QPID=$!
result=
while kill -0 "$QPID" 2>/dev/null; do
  if [ $(( $(date +%s) - start )) -gt "$TIMEOUT" ]; then log "timeout after $TIMEOUT s"; break; fi
  result=$(grep -ao 'SYSTEMD-NODE-RESULT: .*' "$WORK/serial.log" 2>/dev/null | tail -1 || true)
  [ -n "$result" ] && break
  sleep 5
done
# Once more after the loop: a node that prints its verdict and powers off within one 5 s poll
# ended the loop (QEMU gone) with the verdict unread ("no verdict" on a passing run, seen once).
[ -n "$result" ] || result=$(grep -ao 'SYSTEMD-NODE-RESULT: .*' "$WORK/serial.log" 2>/dev/null | tail -1 || true)
grep -a '^\[check\|^\[status\]\|^\[critest\]\|^\[bulkheadd\]\|^\[kubelet\]' "$WORK/serial.log" || true
log "wall time: $(( $(date +%s) - start )) s ($accel)"
# A vitest-style report for e2e/lib/summarize.mjs (run-all.sh's systemd-node step)
if [ -n "${SYSTEMD_NODE_REPORT:-}" ]; then node "$HERE/report.mjs" "$WORK/serial.log" "$SYSTEMD_NODE_REPORT" || true; fi
for _ in $(seq 1 60); do kill -0 "$QPID" 2>/dev/null || break; sleep 1; done
case "$result" in
  *PASS*) log "$result"; exit 0 ;;
  *) log "${result:-no verdict}; last serial lines:"; tail -30 "$WORK/serial.log"; exit 1 ;;
esac
exit
}
