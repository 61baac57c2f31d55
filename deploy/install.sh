#!/usr/bin/env bash
# deploy/install.sh - set up this node for Bulkhead and start the daemon (run as root, from a
# checkout, on Debian 12 / Ubuntu). Idempotent: re-running upgrades the installed copy and
# restarts the daemon; existing /etc/bulkhead/config.toml and CNI configs are left alone.
#   1. apt packages the daemon uses at run time
#   2. npm ci + npm run build in the checkout
#   3. copy to $PREFIX/lib/bulkhead (production node_modules only), wrappers $PREFIX/bin/bulkheadd
#      and $PREFIX/bin/bulkhead (status/config CLI); runc >= 1.2 + bulkhead-idmap-mount into
#      $PREFIX/lib/bulkhead/bin (user-namespace pods) and crictl on the PATH when absent (both built
#      from the Go module proxy when Go is installed, otherwise a one-line hint)
#   4. /etc/bulkhead/config.toml (all defaults, commented) and /etc/crictl.yaml if absent;
#      a CNI network config if /etc/cni/net.d has none. The cgroup driver matches the host:
#      "systemd" when systemd is PID 1 (then kubelet needs cgroupDriver: systemd), else "cgroupfs";
#      BULKHEAD_CGROUP_DRIVER=systemd|cgroupfs overrides it. An existing config keeps its driver.
#   5. start: systemd unit when PID 1 is systemd, else setsid in the background
#      (log /var/log/bulkhead.log, pid file /run/bulkheadd.pid)
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
PREFIX=${PREFIX:-/usr/local}
LIB=$PREFIX/lib/bulkhead
ETC=${BULKHEAD_ETC:-/etc/bulkhead}
LOGFILE=${BULKHEAD_LOG:-/var/log/bulkhead.log}
PIDFILE=${BULKHEAD_PIDFILE:-/run/bulkheadd.pid}
CRICTL_YAML=${CRICTL_YAML:-/etc/crictl.yaml}
log() { printf '[install] %s\n' "$*"; }
die() { printf '[install] ERROR: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (a root shell: bash deploy/install.sh; or sudo bash deploy/install.sh)"
command -v node >/dev/null || die "Node.js >= 20.11 is required (e.g. the nodejs package from NodeSource)"
node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=11)?0:1)' \
  || die "Node.js >= 20.11 is required, found $(node --version)"
export DEBIAN_FRONTEND=noninteractive

# 1. run-time packages: OCI runtimes + monitor + pod init, CNI plugins, QEMU for micro-VM pods,
#    the mount/network/filesystem tools the daemon calls, and gcc + libc6-dev (static libc): the guest
#    image build compiles deploy/guest/clone-fixup.c.
PACKAGES=(runc crun conmon catatonit containernetworking-plugins qemu-system-x86
  iproute2 iptables util-linux mount e2fsprogs erofs-utils kmod ca-certificates
  busybox-static lz4 binutils gcc libc6-dev)
# The systemd cgroup driver talks to systemd over the D-Bus system bus.
if [ "$(cat /proc/1/comm 2>/dev/null)" = systemd ]; then PACKAGES+=(dbus); fi
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "apt-get install ${missing[*]}"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Snapshot start for micro-VM pods (start_from = "auto", the default) needs QEMU >= 9.0 and the
# Rust virtiofsd: deploy/vm-tools.sh installs both (bookworm-backports QEMU 10 on Debian 12, virtiofsd
# pinned from crates.io: ~6 min of cargo once, cached). BULKHEAD_VM_TOOLS=0 skips it (pods then boot).
bash "$SRC/deploy/vm-tools.sh" || log "deploy/vm-tools.sh failed: micro-VM pods will boot instead of restoring a snapshot"

# 2. build
cd "$SRC"
log "npm ci + build in $SRC"
npm ci --no-audit --no-fund --loglevel=error
npm run -s build

# 3. install: a self-contained copy (dist + the CRI proto it loads at run time + prod deps)
log "installing to $LIB"
tmp=$(mktemp -d "$PREFIX/lib/.bulkhead-new.XXXXXX" 2>/dev/null || { mkdir -p "$PREFIX/lib"; mktemp -d "$PREFIX/lib/.bulkhead-new.XXXXXX"; })
trap 'rm -rf "$tmp"' EXIT
parts=(dist api package.json package-lock.json node_modules deploy)
[ -f README.md ] && parts+=(README.md)
tar -C "$SRC" --exclude=.git --exclude=.e2e-work --exclude='*.log' -cf - "${parts[@]}" | tar -C "$tmp" -xf -
(cd "$tmp" && npm prune --omit=dev --no-audit --no-fund --loglevel=error >/dev/null)
rm -rf "$LIB.old"
if [ -d "$LIB" ]; then mv "$LIB" "$LIB.old"; fi
mv "$tmp" "$LIB" && chmod 755 "$LIB"
rm -rf "$LIB.old"
mkdir -p "$PREFIX/bin"
cat > "$PREFIX/bin/bulkheadd" <<WRAP
#!/bin/sh
# Bulkhead CRI daemon (installed by deploy/install.sh from $SRC)
exec $(command -v node) $LIB/dist/cmd/bulkheadd/main.js "\$@"
WRAP
cat > "$PREFIX/bin/bulkhead" <<WRAP
#!/bin/sh
# Bulkhead status/config CLI (installed by deploy/install.sh from $SRC)
exec $(command -v node) $LIB/dist/cmd/bulkhead/main.js "\$@"
WRAP
chmod 755 "$PREFIX/bin/bulkheadd" "$PREFIX/bin/bulkhead"
"$PREFIX/bin/bulkheadd" --version >/dev/null || die "the installed bulkheadd does not run"

case ":$PATH:" in *:/usr/local/go/bin:*) ;; *) PATH=$PATH:/usr/local/go/bin ;; esac

# 3a. runc >= 1.2 for the runc handler: user-namespace pods (hostUsers: false) need idmapped mounts,
#     which Debian 12's runc 1.1.5 lacks. Built from the Go module proxy (~20 s on 2 cores; cached
#     in the tests' cache) with the idmap helper, into $LIB/bin, which a bare runtime_path = "runc"
#     (the default) prefers to PATH (pkg/runtime/oci/bundled-runtime.ts). Without Go the handler
#     keeps Debian's runc and refuses user-namespace pods (`crictl info`: user_namespaces false).
RUNC_VERSION=${RUNC_VERSION:-v1.5.3}
RUNC_CACHE=${BULKHEAD_RUNC_DIR:-/var/cache/bulkhead-tools/runc-$RUNC_VERSION}
if command -v go >/dev/null || [ -x "$RUNC_CACHE/runc" ]; then
  . "$SRC/deploy/lib/runc.sh"
  if build_runc "$RUNC_CACHE" "$RUNC_VERSION" >/dev/null; then
    install -D -m 0755 "$RUNC_CACHE/runc" "$LIB/bin/runc"
    install -m 0755 "$RUNC_CACHE/bulkhead-idmap-mount" "$LIB/bin/bulkhead-idmap-mount"
    log "installed runc $RUNC_VERSION and bulkhead-idmap-mount in $LIB/bin"
  else
    log "building runc $RUNC_VERSION failed: the runc handler uses Debian's runc, without user-namespace pods"
  fi
else
  log "no Go: the runc handler uses Debian's runc, without user-namespace pods (install Go >= 1.21 and re-run)"
fi

# 3b. crictl, the CRI client every runtime's users reach for. Left alone when one is on the PATH;
#     otherwise the pinned cri-tools version the tests use, from the shared build cache or built from
#     the Go module proxy (~1 min on 2 cores), or a hint when there is no Go.
CRI_TOOLS_VERSION=${CRI_TOOLS_VERSION:-v1.36.0}
CRI_TOOLS_DIR=${CRI_TOOLS_DIR:-/var/cache/bulkhead-tools/$CRI_TOOLS_VERSION}
if command -v crictl >/dev/null; then
  log "crictl already on the PATH: $(command -v crictl)"
else
  if [ ! -x "$CRI_TOOLS_DIR/crictl" ] && command -v go >/dev/null; then
    . "$SRC/deploy/lib/cri-tools.sh"
    log "building crictl $CRI_TOOLS_VERSION from the Go module proxy"
    build_cri_tools "$CRI_TOOLS_DIR" "$CRI_TOOLS_VERSION" crictl >/dev/null || log "building crictl failed (not needed by the daemon)"
  fi
  if [ -x "$CRI_TOOLS_DIR/crictl" ]; then
    install -m 0755 "$CRI_TOOLS_DIR/crictl" "$PREFIX/bin/crictl"
    log "installed $PREFIX/bin/crictl ($CRI_TOOLS_VERSION)"
  else
    log "no crictl: install Go >= 1.21 and re-run this script, or install crictl $CRI_TOOLS_VERSION of cri-tools by hand"
  fi
fi

# 3c. micro-VM guest image (kernel + initramfs + erofs root with node, agent, crun), cached by input
#     hash; the daemon would build it at start otherwise. Failure is not fatal for namespace pods.
log "building the micro-VM guest image"
bash "$LIB/deploy/guest/build-guest.sh" /var/lib/bulkhead >/dev/null || log "guest image build failed: micro-VM pods unavailable until it succeeds"

# 4. configuration (never overwrites what is there)
mkdir -p "$ETC" "$ETC/certs.d"
if [ ! -e "$ETC/config.toml" ]; then
  # The driver that fits the host: on a systemd node, systemd owns the cgroup tree (and kubelet's
  # default cgroupDriver there is systemd); without systemd as init only cgroupfs can work.
  driver=${BULKHEAD_CGROUP_DRIVER:-}
  if [ -z "$driver" ]; then
    if [ "$(cat /proc/1/comm 2>/dev/null)" = systemd ] && [ -d /run/systemd/system ]; then driver=systemd; else driver=cgroupfs; fi
  fi
  case "$driver" in systemd|cgroupfs) ;; *) die "BULKHEAD_CGROUP_DRIVER must be systemd or cgroupfs, not $driver" ;; esac
  sed -E 's/^([^#[:space:]])/# \1/' "$SRC/deploy/config.example.toml" > "$ETC/config.toml"
  if [ "$driver" = systemd ]; then sed -i 's/^# cgroup_driver = "cgroupfs"$/cgroup_driver = "systemd"/' "$ETC/config.toml"; fi
  log "wrote $ETC/config.toml (every key commented out = embedded defaults, except cgroup_driver = \"$driver\")"
fi
sock=$(node -e '
  import(process.argv[1]).then(({ loadConfig }) => console.log(loadConfig(process.argv[2]).address))' \
  "$LIB/dist/pkg/config/load.js" "$ETC/config.toml") || die "$ETC/config.toml is not valid (see above)"
driver=$(node -e '
  import(process.argv[1]).then(({ loadConfig }) => console.log(loadConfig(process.argv[2]).cgroup_driver))' \
  "$LIB/dist/pkg/config/load.js" "$ETC/config.toml")
log "cgroup driver: $driver (kubelet: --cgroup-driver=$driver, or cgroupDriver: $driver in its KubeletConfiguration)"
if [ ! -e "$CRICTL_YAML" ]; then
  printf 'runtime-endpoint: unix://%s\nimage-endpoint: unix://%s\ntimeout: 30\n' "$sock" "$sock" > "$CRICTL_YAML"
  log "wrote $CRICTL_YAML (crictl talks to Bulkhead)"
fi
mkdir -p /etc/cni/net.d
if [ -z "$(find /etc/cni/net.d -maxdepth 1 -type f \( -name '*.conflist' -o -name '*.conf' -o -name '*.json' \) -print -quit)" ]; then
  install -m 0644 "$SRC/deploy/cni/10-bulkhead.conflist" /etc/cni/net.d/10-bulkhead.conflist
  log "installed /etc/cni/net.d/10-bulkhead.conflist (bridge bhk0, 10.88.0.0/16)"
fi

# 5. start (or restart onto the new code)
if [ "$(cat /proc/1/comm 2>/dev/null)" = systemd ]; then
  install -m 0644 "$SRC/deploy/systemd/bulkhead.service" /etc/systemd/system/bulkhead.service
  sed -i "s|/usr/local/bin/bulkheadd --config /etc/bulkhead/config.toml|$PREFIX/bin/bulkheadd --config $ETC/config.toml|" \
    /etc/systemd/system/bulkhead.service
  systemctl daemon-reload
  systemctl enable bulkhead.service >/dev/null 2>&1
  systemctl restart bulkhead.service
  log "started with systemd: systemctl status bulkhead; journalctl -u bulkhead"
else
  if [ -s "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null \
     && tr '\0' ' ' < "/proc/$(cat "$PIDFILE")/cmdline" | grep -q 'bulkheadd/main.js'; then
    old=$(cat "$PIDFILE")
    log "stopping the running bulkheadd (pid $old)"
    kill -TERM "$old"
    for _ in $(seq 1 300); do kill -0 "$old" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$old" 2>/dev/null; then kill -KILL "$old"; fi
  fi
  mkdir -p "$(dirname "$LOGFILE")"
  setsid "$PREFIX/bin/bulkheadd" --config "$ETC/config.toml" >>"$LOGFILE" 2>&1 </dev/null &
  echo $! > "$PIDFILE"
  log "started in the background (no systemd): pid $(cat "$PIDFILE"), log $LOGFILE, pid file $PIDFILE"
fi

# wait for the socket the config names (default /run/bulkhead/bulkhead.sock)
alive() {
  if [ "$(cat /proc/1/comm 2>/dev/null)" = systemd ]; then systemctl is-active -q bulkhead.service
  else kill -0 "$(cat "$PIDFILE")" 2>/dev/null; fi
}
sleep 0.5
for _ in $(seq 1 150); do
  alive || die "bulkheadd exited during start-up: see $LOGFILE (or journalctl -u bulkhead)"
  if [ -S "$sock" ]; then log "bulkheadd is serving CRI on unix://$sock"; exit 0; fi
  sleep 0.2
done
die "bulkheadd did not create $sock within 30 s: see ${LOGFILE} (or journalctl -u bulkhead)"
