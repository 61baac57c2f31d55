#!/usr/bin/env bash
# e2e/kubelet/runtime.sh start|stop|endpoint - the CRI runtime the kubelet bench talks to.
#   KUBELET_E2E_RUNTIME=bulkhead (default): a dedicated bulkheadd (dist/) with its own root,
#     state and socket (not the one e2e/lib/daemon.sh runs for critest), so the bench can run
#     beside other integration jobs.
#   KUBELET_E2E_RUNTIME=containerd: Debian's containerd 1.6 with its CRI plugin, as a reference
#     to validate the cluster tooling and the specs against a known-good runtime.
#   KUBELET_E2E_GUEST_ROOT=<dir>: bulkhead's microvm handler uses the guest image built there
#     (deploy/guest/build-guest.sh <dir>); needs the vm handler in the build.
# Both use the CNI network in $RT_DIR/net.d (bridge bhkube0, 10.244.0.0/16, no NAT, no gateway
# route off the node) and the loopback registry mirrors in e2e/certs.d. stop removes the bridge
# and the IPAM state of that network.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
. "$REPO/e2e/lib/await-exec.sh"
RUNTIME=${KUBELET_E2E_RUNTIME:-bulkhead}
RT_DIR=${KUBELET_E2E_RT_DIR:-/run/bulkhead-kubelet-e2e}
RT_ROOT=${KUBELET_E2E_RT_ROOT:-/var/lib/bulkhead-kubelet-e2e}
RT_LOGS=${CLUSTER_LOGS:-$REPO/.e2e-work/cluster-logs}
CNI_NET=bulkhead-kube
CNI_BRIDGE=bhkube0
CNI_SUBNET=${KUBELET_E2E_POD_SUBNET:-10.244.0.0/16}
SANDBOX_IMAGE=${SANDBOX_IMAGE:-registry.k8s.io/pause:3.10.1}

log() { printf '[runtime] %s\n' "$*"; }
die() { printf '[runtime] ERROR: %s\n' "$*" >&2; exit 1; }

endpoint() {
  case $RUNTIME in
    bulkhead) echo "unix://$RT_DIR/bulkhead.sock" ;;
    containerd) echo "unix://$RT_DIR/containerd.sock" ;;
    *) die "KUBELET_E2E_RUNTIME must be bulkhead or containerd, not $RUNTIME" ;;
  esac
}
PIDF=$RT_DIR/$RUNTIME.pid
alive() { [ -s "$PIDF" ] && kill -0 "$(cat "$PIDF")" 2>/dev/null && tr '\0' ' ' < "/proc/$(cat "$PIDF")/cmdline" | grep -q -- "$RT_DIR"; }

write_cni() {
  mkdir -p "$RT_DIR/net.d"
  cat > "$RT_DIR/net.d/10-$CNI_NET.conflist" <<CNI
{
  "cniVersion": "1.0.0",
  "name": "$CNI_NET",
  "plugins": [
    { "type": "bridge", "bridge": "$CNI_BRIDGE", "isGateway": true, "ipMasq": false, "hairpinMode": true,
      "ipam": { "type": "host-local", "ranges": [[{ "subnet": "$CNI_SUBNET" }]], "routes": [{ "dst": "0.0.0.0/0" }] } },
    { "type": "portmap", "capabilities": { "portMappings": true } }
  ]
}
CNI
}

start_containerd() {
  mkdir -p "$RT_DIR" "$RT_ROOT/containerd" "$RT_LOGS"
  cat > "$RT_DIR/containerd.toml" <<TOML
version = 2
root = "$RT_ROOT/containerd"
state = "$RT_DIR/containerd-state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = "$RT_DIR/containerd.sock"
[ttrpc]
  address = "$RT_DIR/containerd.sock.ttrpc"
[debug]
  level = "info"
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$RT_ROOT/containerd-opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$SANDBOX_IMAGE"
  # Root lacks CAP_SYS_RESOURCE on these machines: negative oom_score_adj must be clamped.
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$RT_DIR/net.d"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "$REPO/e2e/certs.d"
TOML
  setsid /usr/bin/containerd --config "$RT_DIR/containerd.toml" >>"$RT_LOGS/containerd.log" 2>&1 </dev/null &
  echo $! > "$PIDF"
}

start_bulkhead() {
  [ -f "$REPO/dist/cmd/bulkheadd/main.js" ] || die "dist/ missing: run npm run build"
  mkdir -p "$RT_DIR" "$RT_ROOT" "$RT_LOGS"
  cat > "$RT_DIR/bulkhead.toml" <<TOML
# Rendered by e2e/kubelet/runtime.sh for the kubelet bench.
root = "$RT_ROOT/bulkhead"
state = "$RT_DIR/bulkhead-state"
address = "$RT_DIR/bulkhead.sock"
log_level = "debug"
[registry]
config_path = "$REPO/e2e/certs.d"
[cni]
conf_dir = "$RT_DIR/net.d"
[cdi]
# cdi-device.spec.ts writes its spec here (kubelet's device plugin hands out the device's name).
spec_dirs = ["$RT_DIR/cdi"]
TOML
  mkdir -p "$RT_DIR/cdi"
  # The handler table, written out (naming runtime_handlers replaces the whole default one): runc
  # is the runc >= 1.2 e2e/setup.sh builds when there is one (user-namespace pods need it; Debian's
  # 1.1.5 cannot), the micro-VM guest image (deploy/guest/build-guest.sh) is cached outside
  # RT_ROOT, which stop removes, when KUBELET_E2E_GUEST_ROOT names the cache.
  runc=${KUBELET_E2E_RUNC:-${BULKHEAD_TOOLS_CACHE:-/var/cache/bulkhead-tools}/runc-v1.5.3/runc}
  [ -x "$runc" ] || runc=runc
  cat >> "$RT_DIR/bulkhead.toml" <<TOML
[runtime_handlers.runc]
kind = "oci"
runtime_path = "$runc"
[runtime_handlers.crun]
kind = "oci"
runtime_path = "crun"
[runtime_handlers.microvm]
kind = "vm"
TOML
  [ -n "${KUBELET_E2E_GUEST_ROOT:-}" ] && echo "guest_root = \"$KUBELET_E2E_GUEST_ROOT\"" >> "$RT_DIR/bulkhead.toml"
  setsid node "$REPO/dist/cmd/bulkheadd/main.js" --config "$RT_DIR/bulkhead.toml" \
    >>"$RT_LOGS/bulkheadd.log" 2>&1 </dev/null &
  echo $! > "$PIDF"
}

start() {
  if alive; then log "$RUNTIME already running (pid $(cat "$PIDF"))"; return 0; fi
  write_cni
  "start_$RUNTIME"
  await_exec "$(cat "$PIDF")"
  local sock; sock=$(endpoint); sock=${sock#unix://}
  for _ in $(seq 1 300); do
    alive || { tail -n 30 "$RT_LOGS/$RUNTIME"*.log >&2; die "$RUNTIME exited during start-up"; }
    [ -S "$sock" ] && break
    sleep 0.2
  done
  [ -S "$sock" ] || die "$RUNTIME socket $sock did not appear"
  log "$RUNTIME up (pid $(cat "$PIDF"), endpoint unix://$sock, log $RT_LOGS)"
}

stop() {
  if alive; then
    local pid; pid=$(cat "$PIDF")
    kill -TERM "$pid"
    for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && { log "$RUNTIME ignored SIGTERM: SIGKILL"; kill -KILL "$pid"; sleep 0.3; }
    log "$RUNTIME stopped (pid $pid)"
  fi
  rm -f "$PIDF"
  # containerd leaves its shims running by design; ours are the ones whose address is in RT_DIR.
  if [ "$RUNTIME" = containerd ]; then
    for p in $(pgrep -f "containerd-shim-runc-v2 .*-address $RT_DIR/containerd.sock" || true); do
      kill -TERM "$p" 2>/dev/null || true
    done
  fi
  # Mounts left below our dirs (snapshots, shm, netns), deepest first.
  awk -v a="$RT_DIR/" -v b="$RT_ROOT/" 'index($5 "/", a) == 1 || index($5 "/", b) == 1 {print $5}' /proc/self/mountinfo \
    | sort -r | while read -r m; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done
  ip link show "$CNI_BRIDGE" >/dev/null 2>&1 && ip link del "$CNI_BRIDGE" && log "removed bridge $CNI_BRIDGE"
  rm -rf "/var/lib/cni/networks/$CNI_NET" "$RT_DIR" "$RT_ROOT"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  endpoint) endpoint ;;
  *) echo "usage: $0 start|stop|endpoint" >&2; exit 2 ;;
esac
