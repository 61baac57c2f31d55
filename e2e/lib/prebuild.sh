#!/usr/bin/env bash
# e2e/lib/prebuild.sh - builds, in the background of run-all.sh and at the lowest CPU priority, the
# cached tools its later steps need: the Kubernetes binaries (kubelet step, then kind), the systemd
# test node's image, kind's base rootfs, the conformance suite and its images. Cold, these are
# ~45 min of Go compiles and debootstraps on 2 cores that the steps would otherwise pay one after
# the other; the unit, integration and critest steps before them leave CPU idle (waits on daemons,
# VMs, registries: 1232 of 2500 core-seconds idle between setup and the kubelet step in a warm run
# of 2026-12-05), which nice 19 takes (a nice-0 process gets ~98 % of a contended core against it:
# CFS weights 1024 vs 15). Warm, every build finds its cache and this ends within seconds.
# Each build takes the lock its step takes (per binary in e2e/cluster/build.sh, the image locks
# below), so a step that catches up waits for the build in flight instead of doing it twice.
# Env: the run-all.sh switches (BULKHEAD_SKIP_KUBELET, BULKHEAD_E2E_KIND, BULKHEAD_E2E_SYSTEMD,
# BULKHEAD_E2E_CONFORMANCE_SUBSET, BULKHEAD_E2E_CONFORMANCE).
set -uo pipefail
E2E=$(cd "$(dirname "$0")/.." && pwd)
REPO=$(cd "$E2E/.." && pwd)
TOOLS=/var/cache/bulkhead-tools
renice -n 19 -p $$ >/dev/null
ionice -c 3 -p $$ 2>/dev/null || true  # idle I/O class: the steps' disk work comes first

part() { # part NAME CMD...: runs one build, logs its time; a failure is the step's to report
  local t0=$SECONDS rc=0
  echo "prebuild: $1 ..."
  "${@:2}" >/dev/null || rc=$?
  echo "prebuild: $1 rc=$rc in $((SECONDS - t0))s"
}

want_kubelet=1; [ "${BULKHEAD_SKIP_KUBELET:-0}" = 1 ] && want_kubelet=0
want_kind=${BULKHEAD_E2E_KIND:-1}
want_systemd=${BULKHEAD_E2E_SYSTEMD:-1}
want_conformance=0
if [ "$want_kind" = 1 ] && [ "${BULKHEAD_E2E_CONFORMANCE_SUBSET:-1}" = 1 ] || [ "${BULKHEAD_E2E_CONFORMANCE:-0}" = 1 ]; then want_conformance=1; fi
mkdir -p "$TOOLS/systemd-node" "$TOOLS/kind" "$TOOLS/conformance"

# Two chains side by side: the Go compiles (CPU) in the order the steps need them (kubelet step,
# then kind, then the conformance hook, whose images pack its agnhost build), and the
# debootstrapped images (network and disk, little CPU) beside them.
go_chain() {
  if [ "$want_kubelet" = 1 ] || [ "$want_systemd" = 1 ]; then part k8s bash "$E2E/cluster/build.sh"; fi
  if [ "$want_kind" = 1 ]; then part k8s-kind bash "$E2E/cluster/build.sh" --kind; fi
  if [ "$want_conformance" = 1 ]; then
    # the images after the build: make-images.sh packs build.sh's agnhost binary
    part conformance-tools flock "$TOOLS/conformance/.build.lock" \
      bash -c "bash '$E2E/conformance/build.sh' && REGISTRY= bash '$E2E/conformance/make-images.sh'"
  fi
}
image_chain() {
  if [ "$want_kind" = 1 ]; then
    part kind-base flock "$TOOLS/kind/.build.lock" bash "$REPO/deploy/kind/build-node-image.sh" --base-only
  fi
  if [ "$want_systemd" = 1 ]; then
    part systemd-node-image flock "$TOOLS/systemd-node/.build.lock" bash "$E2E/systemd-node/build.sh"
  fi
}
go_chain &
image_chain &
wait
echo "prebuild: done"
