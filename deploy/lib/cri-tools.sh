#!/usr/bin/env bash
# deploy/lib/cri-tools.sh - build crictl (and optionally critest) of cri-tools from the Go module
# proxy into a cache directory. Sourced by deploy/install.sh (crictl for the node's shell) and
# e2e/setup.sh (crictl + critest for the tests); both share /var/cache/bulkhead-tools/<version>.
#
# `go install sigs.k8s.io/cri-tools/cmd/...@vX` fails against the proxy (it refuses the version
# list go install asks for its deprecation check), so the module is downloaded and built in its
# own directory.
#
#   build_cri_tools OUT_DIR VERSION [crictl|critest ...]   (default: crictl critest)

build_cri_tools() {
  local out=$1 version=$2 tmp dir need have tool
  shift 2
  local tools=("$@")
  [ ${#tools[@]} -gt 0 ] || tools=(crictl critest)
  tmp=$(mktemp -d)
  (cd "$tmp" && go mod init bulkhead-cri-tools-fetch >/dev/null 2>&1)
  # The module's directory from `go mod download -json` without needing jq on the host.
  dir=$(cd "$tmp" && go mod download -json "sigs.k8s.io/cri-tools@$version" \
    | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
  if [ ! -d "$dir" ]; then
    rm -rf "$tmp"
    printf 'go mod download of cri-tools %s failed\n' "$version" >&2
    return 1
  fi
  mkdir -p "$out"
  # An older local Go (>= 1.21) can fetch the toolchain go.mod asks for through the module proxy.
  need=$(sed -n 's/^go \([0-9.]*\).*/\1/p' "$dir/go.mod")
  have=$(go env GOVERSION | sed 's/^go//')
  local toolchain=${GOTOOLCHAIN:-auto}
  if [ -n "$need" ] && [ "$(printf '%s\n%s\n' "$need" "$have" | sort -V | head -n1)" != "$need" ]; then
    printf 'local go %s is older than the go %s cri-tools needs: using GOTOOLCHAIN=go%s\n' "$have" "$need" "$need"
    toolchain=go$need
  fi
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
