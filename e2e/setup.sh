#!/usr/bin/env bash
# e2e/setup.sh - install everything the tests and the daemon need on a fresh Debian 12 / Ubuntu
# machine (run as root). Idempotent and quick on re-runs: each step is skipped when its result
# is already there (packages installed, node_modules matching package-lock.json, cri-tools built).
#
#   1. OS packages (apt)            4. crictl + critest (cri-tools, pinned) from the Go module proxy
#   2. npm ci                       4b. runc (>= 1.2) + bulkhead-idmap-mount, from the Go module proxy
#   3. npm run build                5. CNI config in /etc/cni/net.d (only if that dir has none)
set -euo pipefail
LOG_TAG=setup
. "$(dirname "$0")/lib/common.sh"

[ "$(id -u)" = 0 ] || die "run as root (it installs packages and writes /etc/cni/net.d)"
export DEBIAN_FRONTEND=noninteractive

# ------------------------------------------------------------------ 1. OS packages
# runc/crun + conmon + catatonit: namespace containers; containernetworking-plugins: pod networks;
# qemu-system-x86: micro-VM pods; docker-registry + skopeo + umoci + gcc/libc6-dev: the offline
# test images and their loopback registry; containerd: reference runtime for comparing behaviour;
# debootstrap: the kind node image and the systemd test node (built by run-all.sh's prebuild).
# busybox-static conflicts with Debian's dynamic busybox; the test images fetch the latter with
# `apt-get download` instead of installing it.
PACKAGES=(
  runc crun conmon catatonit containernetworking-plugins
  docker-registry skopeo umoci
  iproute2 iptables curl jq socat tmux util-linux e2fsprogs erofs-utils squashfs-tools
  busybox-static qemu-system-x86 containerd kmod gcc libc6-dev ca-certificates
  libseccomp-dev pkg-config debootstrap
)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ! command -v go >/dev/null; then missing+=(golang-go); fi
if [ ${#missing[@]} -gt 0 ]; then
  log "apt-get install ${missing[*]}"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # Debian's containerd package enables its service; we only want the binary.
  if [ -d /run/systemd/system ] && systemctl is-active -q containerd 2>/dev/null \
     && [[ " ${missing[*]} " == *" containerd "* ]]; then
    systemctl disable --now containerd >/dev/null 2>&1 || true
  fi
else
  log "OS packages already installed"
fi
# Snapshot start (start_from = "auto", the default) needs QEMU >= 9.0 + the Rust virtiofsd: every VM
# suite runs on them where deploy/vm-tools.sh can install them (cargo build cached in
# /var/cache/bulkhead-tools/virtiofsd; BULKHEAD_VM_TOOLS=0 keeps the distribution's QEMU: pods boot).
bash "$REPO/deploy/vm-tools.sh" || die "deploy/vm-tools.sh failed"
command -v node >/dev/null || die "node (>= 20.11) is required: install Node.js 20 first"

# ------------------------------------------------------------------ 2-3. npm ci + build
cd "$REPO"
lock_hash=$(sha256sum package-lock.json | cut -d' ' -f1)
stamp=node_modules/.bulkhead-lock-sha256
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$lock_hash" ]; then
  log "node_modules matches package-lock.json"
else
  log "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$lock_hash" > "$stamp"
fi
log "npm run build"
npm run -s build

# ------------------------------------------------------------------ 4. crictl + critest
# The build itself is shared with deploy/install.sh (which puts crictl on the node's PATH).
. "$REPO/deploy/lib/cri-tools.sh"
if [ -x "$CRICTL" ] && [ -x "$CRITEST" ]; then
  log "crictl and critest $CRI_TOOLS_VERSION cached in $(dirname "$CRICTL")"
else
  command -v go >/dev/null || die "go is required to build cri-tools"
  log "using $(go version)"
  build_cri_tools "$CRI_TOOLS_DIR" "$CRI_TOOLS_VERSION" crictl critest || die "building cri-tools $CRI_TOOLS_VERSION failed"
fi

# ------------------------------------------------------------------ 4b. runc >= 1.2
# The runc handler of every test daemon (e2e/bulkhead-e2e.toml, e2e/lib/own-daemon.ts) runs this
# runc: user-namespace pods need it, and critest runs all its specs against the one runc.
. "$REPO/deploy/lib/runc.sh"
command -v go >/dev/null || [ -x "$BULKHEAD_RUNC" ] || die "go is required to build runc"
build_runc "$BULKHEAD_RUNC_DIR" "$RUNC_VERSION" || die "building runc $RUNC_VERSION failed"

# ------------------------------------------------------------------ 5. CNI config
# Install ours only when the node has no network config at all: never override an admin's.
mkdir -p /etc/cni/net.d
if [ -n "$(find /etc/cni/net.d -maxdepth 1 -type f \( -name '*.conflist' -o -name '*.conf' -o -name '*.json' \) -print -quit)" ]; then
  log "CNI config present in /etc/cni/net.d: $(cd /etc/cni/net.d && ls | tr '\n' ' ')"
else
  install -m 0644 "$REPO/deploy/cni/10-bulkhead.conflist" /etc/cni/net.d/10-bulkhead.conflist
  log "installed /etc/cni/net.d/10-bulkhead.conflist"
fi
log "done"
