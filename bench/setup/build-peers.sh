#!/usr/bin/env bash
# bench/setup/build-peers.sh - build the CRI runtimes the bench compares Bulkhead with, from the
# Go module proxy, into /var/cache/bulkhead-tools/peers/<name>-<version>/ (reused when present).
#
#   bench/setup/build-peers.sh [containerd|crio ...]    (default: both)
#
# containerd 1.6.20 is Debian's package and needs no build. A peer whose binaries are all in its
# cache dir is not rebuilt; a failed build leaves no cache dir, so the bench reports it missing.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../../deploy/lib/go-module.sh
. "$HERE/../../deploy/lib/go-module.sh"

PEERS_DIR=${BULKHEAD_PEERS_DIR:-/var/cache/bulkhead-tools/peers}
CONTAINERD_VERSION=${CONTAINERD2_VERSION:-v2.4.2}
CRIO_VERSION=${CRIO_VERSION:-v1.34.0}

log() { printf 'build-peers: %s\n' "$*" >&2; }

# Both peers link libseccomp with cgo; pinns is a static C binary.
ensure_apt() {
  local missing=() pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null \
    || { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null; }
}

# Builds into a temp dir and moves it into place at the end, so a half-built peer never looks cached.
build_containerd() {
  local out=$PEERS_DIR/containerd-${CONTAINERD_VERSION#v} dir tc tmp
  if [ -x "$out/containerd" ] && [ -x "$out/containerd-shim-runc-v2" ]; then
    log "containerd $CONTAINERD_VERSION cached in $out"; return 0
  fi
  ensure_apt gcc libc6-dev libseccomp-dev pkg-config
  dir=$(go_module_dir github.com/containerd/containerd/v2 "$CONTAINERD_VERSION")
  tc=$(go_toolchain_for "$dir")
  tmp=$(mktemp -d "$PEERS_DIR/.containerd.XXXXXX")
  log "building containerd $CONTAINERD_VERSION (cgo, ~3 min on 2 idle cores)"
  # -X sets the version the CRI Version call reports (a module build has no VCS stamp).
  (cd "$dir" && GOTOOLCHAIN=$tc GOFLAGS=-buildvcs=false CGO_ENABLED=1 go build -trimpath \
    -tags "no_btrfs no_devmapper no_zfs" \
    -ldflags "-X github.com/containerd/containerd/v2/version.Version=$CONTAINERD_VERSION" \
    -o "$tmp/" ./cmd/containerd ./cmd/containerd-shim-runc-v2) || { rm -rf "$tmp"; return 1; }
  rm -rf "$out" && mv "$tmp" "$out" && chmod 0755 "$out"
  log "containerd $CONTAINERD_VERSION -> $out"
}

build_crio() {
  local out=$PEERS_DIR/crio-${CRIO_VERSION#v} dir tc tmp
  if [ -x "$out/crio" ] && [ -x "$out/pinns" ]; then
    log "CRI-O $CRIO_VERSION cached in $out"; return 0
  fi
  ensure_apt gcc libc6-dev libseccomp-dev pkg-config conmon runc
  dir=$(go_module_dir github.com/cri-o/cri-o "$CRIO_VERSION")
  tc=$(go_toolchain_for "$dir")
  tmp=$(mktemp -d "$PEERS_DIR/.crio.XXXXXX")
  log "building CRI-O $CRIO_VERSION (cgo, ~95 s on 2 idle cores)"
  (cd "$dir" && GOTOOLCHAIN=$tc GOFLAGS=-buildvcs=false CGO_ENABLED=1 go build -trimpath \
    -tags "containers_image_openpgp exclude_graphdriver_btrfs exclude_graphdriver_devicemapper seccomp" \
    -o "$tmp/crio" ./cmd/crio) || { rm -rf "$tmp"; return 1; }
  # pinns pins the pod's namespaces; upstream builds it from these sources with its own Makefile.
  gcc -std=c99 -O3 -Wall -static -o "$tmp/pinns" "$dir"/pinns/src/*.c || { rm -rf "$tmp"; return 1; }
  rm -rf "$out" && mv "$tmp" "$out" && chmod 0755 "$out"
  log "CRI-O $CRIO_VERSION -> $out"
}

main() {
  local peers=("$@") peer rc=0
  [ ${#peers[@]} -gt 0 ] || peers=(containerd crio)
  mkdir -p "$PEERS_DIR"
  for peer in "${peers[@]}"; do
    case $peer in
      containerd) build_containerd || { log "containerd $CONTAINERD_VERSION: build failed"; rc=1; } ;;
      crio) build_crio || { log "CRI-O $CRIO_VERSION: build failed"; rc=1; } ;;
      *) log "unknown peer $peer"; rc=2 ;;
    esac
  done
  return $rc
}

main "$@"
