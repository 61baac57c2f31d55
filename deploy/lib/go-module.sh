#!/usr/bin/env bash
# deploy/lib/go-module.sh - fetch a Go module from the module proxy and pick the toolchain its
# go.mod asks for. Sourced by deploy/lib/cri-tools.sh and bench/setup/build-peers.sh.
#
# `go install MOD@VER` fails against the proxy (it refuses the version list go install asks for
# its deprecation check), so modules are downloaded with `go mod download -json` and built in
# their own (read-only) module directory.

#   go_module_dir MODULE VERSION   -> prints the module's directory in the module cache
go_module_dir() {
  local mod=$1 version=$2 tmp dir
  tmp=$(mktemp -d)
  (cd "$tmp" && go mod init bulkhead-module-fetch >/dev/null 2>&1)
  # The "Dir" field of `go mod download -json`, without needing jq on the host.
  dir=$(cd "$tmp" && go mod download -json "$mod@$version" \
    | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
  rm -rf "$tmp"
  if [ ! -d "$dir" ]; then
    printf 'go mod download of %s@%s failed\n' "$mod" "$version" >&2
    return 1
  fi
  printf '%s\n' "$dir"
}

#   go_toolchain_for MODULE_DIR    -> prints the GOTOOLCHAIN value to build it with
# An older local Go (>= 1.21) can fetch the toolchain go.mod asks for through the module proxy.
go_toolchain_for() {
  local dir=$1 need have
  need=$(sed -n 's/^go \([0-9.]*\).*/\1/p' "$dir/go.mod")
  have=$(go env GOVERSION | sed 's/^go//')
  if [ -n "$need" ] && [ "$(printf '%s\n%s\n' "$need" "$have" | sort -V | head -n1)" != "$need" ]; then
    printf 'local go %s is older than the go %s %s needs: using GOTOOLCHAIN=go%s\n' "$have" "$need" "$dir" "$need" >&2
    printf 'go%s\n' "$need"
    return 0
  fi
  printf '%s\n' "${GOTOOLCHAIN:-auto}"
}
