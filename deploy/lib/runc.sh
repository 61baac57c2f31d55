#!/usr/bin/env bash
# deploy/lib/runc.sh - build runc from the Go module proxy into a cache directory, for the "runc"
# runtime handler, and beside it bulkhead-idmap-mount (deploy/userns/, the rootfs's idmapped
# lower layers). Sourced by deploy/install.sh and e2e/setup.sh.
#
# Why not Debian's runc: Debian 12 ships runc 1.1.5, and pod user namespaces (hostUsers: false)
# need idmapped mounts (OCI mounts[].uidMappings/gidMappings), which runc supports from 1.2.
#
#   build_runc OUT_DIR VERSION   -> OUT_DIR/runc (reused when it is there and reports VERSION;
#                                   a temp dir in OUT_DIR until done, so a half-built one never counts)
#                                   OUT_DIR/bulkhead-idmap-mount (rebuilt when its source changed)

# shellcheck source=go-module.sh
. "$(dirname "${BASH_SOURCE[0]}")/go-module.sh"

RUNC_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# The helper is one C file: its cached source copy says whether the binary is current.
build_idmap_helper() {
  local out=$1 src=$RUNC_LIB_DIR/../userns/bulkhead-idmap-mount.c
  if [ -x "$out/bulkhead-idmap-mount" ] && cmp -s "$src" "$out/bulkhead-idmap-mount.c"; then return 0; fi
  mkdir -p "$out"
  gcc -O2 -Wall -Wextra -static -o "$out/.bulkhead-idmap-mount.new" "$src" || return 1
  mv "$out/.bulkhead-idmap-mount.new" "$out/bulkhead-idmap-mount" && cp "$src" "$out/bulkhead-idmap-mount.c"
  printf 'bulkhead-idmap-mount -> %s/bulkhead-idmap-mount\n' "$out"
}

build_runc() {
  build_runc_binary "$1" "$2" && build_idmap_helper "$1"
}

build_runc_binary() {
  local out=$1 version=$2 dir tc tmp
  if [ -x "$out/runc" ] && "$out/runc" --version 2>/dev/null | grep -q "^runc version ${version#v}\$"; then
    printf 'runc %s cached in %s\n' "$version" "$out"
    return 0
  fi
  # runc links libseccomp with cgo (the seccomp build tag); pkg-config finds it.
  local pkg missing=()
  for pkg in gcc libc6-dev libseccomp-dev pkg-config; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
      || { apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; } \
      || return 1
  fi
  dir=$(go_module_dir github.com/opencontainers/runc "$version") || return 1
  tc=$(go_toolchain_for "$dir")
  mkdir -p "$out"
  # Built into a temp dir and moved into place, so a half-built runc never looks cached.
  tmp=$(mktemp -d "$out/.runc.XXXXXX")
  printf 'building runc %s (cgo, ~20 s on 2 idle cores with a cold Go build cache)\n' "$version"
  # -X main.version: a module build has no VERSION file stamp or VCS info, and `runc --version`
  # is what the cache check above and the daemon's feature probe read.
  (cd "$dir" && nice -n 10 env GOTOOLCHAIN="$tc" GOFLAGS=-buildvcs=false CGO_ENABLED=1 go build -trimpath \
    -tags "seccomp urfave_cli_no_docs" \
    -ldflags "-X main.version=${version#v} -X main.gitCommit=module-proxy" \
    -o "$tmp/runc" .) || { rm -rf "$tmp"; return 1; }
  install -m 0755 "$tmp/runc" "$out/runc" && rm -rf "$tmp"
  printf 'runc %s -> %s/runc\n' "$version" "$out"
}
