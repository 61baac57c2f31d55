#!/usr/bin/env bash
# deploy/lib/cri-tools.sh - build crictl (and optionally critest) of cri-tools from the Go module
# proxy into a cache directory. Sourced by deploy/install.sh (crictl for the node's shell) and
# e2e/setup.sh (crictl + critest for the tests); both share /var/cache/bulkhead-tools/<version>.
# The module is fetched and its toolchain chosen by go-module.sh (also used by the bench's peers).
#
#   build_cri_tools OUT_DIR VERSION [crictl|critest ...]   (default: crictl critest)

# shellcheck source=go-module.sh
. "$(dirname "${BASH_SOURCE[0]}")/go-module.sh"

build_cri_tools() {
  local out=$1 version=$2 tmp dir tool toolchain
  shift 2
  local tools=("$@")
  [ ${#tools[@]} -gt 0 ] || tools=(crictl critest)
  dir=$(go_module_dir sigs.k8s.io/cri-tools "$version") || return 1
  toolchain=$(go_toolchain_for "$dir")
  tmp=$(mktemp -d)
  mkdir -p "$out"
  for tool in "${tools[@]}"; do
    printf 'building %s %s\n' "$tool" "$version"
    case $tool in
      crictl) (cd "$dir" && GOTOOLCHAIN=$toolchain GOFLAGS=-buildvcs=false CGO_ENABLED=0 go build -trimpath -o "$tmp/crictl" ./cmd/crictl) ;;
      critest) (cd "$dir" && GOTOOLCHAIN=$toolchain GOFLAGS=-buildvcs=false CGO_ENABLED=0 go test -c -trimpath -o "$tmp/critest" ./cmd/critest) ;;
      *) printf 'unknown cri-tools binary %s\n' "$tool" >&2; rm -rf "$tmp"; return 1 ;;
    esac || { rm -rf "$tmp"; return 1; }
    install -m 0755 "$tmp/$tool" "$out/"
  done
  rm -rf "$tmp"
}
