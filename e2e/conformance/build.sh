#!/usr/bin/env bash
# Builds upstream Kubernetes' cluster e2e suite (e2e.test), the ginkgo CLI and agnhost from the
# Go module proxy at the kubelet's version, cached.
#
# Technique: e2e/cluster/build.sh's throwaway main module (requires k8s.io/kubernetes, replaces each
# staging module at v0.0.0 with its published v0.<minor>.<patch>), plus one step: `go mod tidy`
# only follows the main module's own imports and tests, so the imports of test/e2e's *_test.go
# files (the suite's spec packages) are missed. `go list -f '{{.TestImports}} {{.XTestImports}}'`
# lists them; they go into tools.go and tidy runs again.
# ginkgo is built at the version kubernetes' go.mod pins (the CLI and the suite must agree).
#
# Output: $BULKHEAD_TOOLS_CACHE/k8s-<ver>/{e2e.test,ginkgo,agnhost}; skipped when present.
# Usage: e2e/conformance/build.sh [--print-dir]
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-v1.36.3}"
CACHE_ROOT="${BULKHEAD_TOOLS_CACHE:-/var/cache/bulkhead-tools}"
OUT="$CACHE_ROOT/k8s-$K8S_VERSION"
if [[ "${1:-}" == "--print-dir" ]]; then echo "$OUT"; exit 0; fi

missing=()
for b in e2e.test ginkgo agnhost; do [[ -x "$OUT/$b" ]] || missing+=("$b"); done
if [[ ${#missing[@]} -eq 0 ]]; then echo "conformance/build.sh: cached in $OUT (e2e.test ginkgo agnhost)"; exit 0; fi

command -v go >/dev/null || { echo "conformance/build.sh: go is required" >&2; exit 1; }
staging_ver="v0.${K8S_VERSION#v1.}"
mkdir -p "$OUT"
work="$(mktemp -d /tmp/bulkhead-e2e-build.XXXXXX)"
trap 'rm -rf "$work"' EXIT
# The same Go settings as e2e/cluster/build.sh (cgo on, -trimpath, GOFLAGS, the default GOCACHE):
# its kubelet/kubeadm/... builds, earlier in the same CI run, leave most of e2e.test's
# dependency packages in the build cache. The selected module versions are the same in both
# throwaway modules; cgo was the difference (net's cgo setting changes every dependent package's
# hash, so nothing was shared). Upstream builds e2e.test with cgo too (hack/lib/golang.sh).
export GOFLAGS=-buildvcs=false GOTOOLCHAIN="${GOTOOLCHAIN:-auto}" CGO_ENABLED="${CGO_ENABLED:-1}"
export GOPROXY="${GOPROXY:-https://proxy.golang.org}" GOMAXPROCS="${GOMAXPROCS:-2}"
t_all=$SECONDS

modfile="$work/kubernetes.mod"
(cd "$work" && go mod download -json "k8s.io/kubernetes@$K8S_VERSION" >/dev/null)
cp "$(go env GOMODCACHE)/cache/download/k8s.io/kubernetes/@v/$K8S_VERSION.mod" "$modfile"
mapfile -t staging < <(awk '/^require/,/^\)/' "$modfile" | awk '$1 ~ /^k8s\.io\// && $2 == "v0.0.0" {print $1}')
ginkgo_ver="$(awk '$1 == "github.com/onsi/ginkgo/v2" {print $2; exit}' "$modfile")"
[[ ${#staging[@]} -gt 10 && -n "$ginkgo_ver" ]] || { echo "conformance/build.sh: cannot parse $modfile" >&2; exit 1; }

{
  echo "module bulkhead.local/k8s-e2e"
  echo
  echo "go $(awk '$1 == "go" {print $2; exit}' "$modfile")"
  echo
  echo "require ("
  echo "	k8s.io/kubernetes $K8S_VERSION"
  echo "	github.com/onsi/ginkgo/v2 $ginkgo_ver"
  for m in "${staging[@]}"; do echo "	$m $staging_ver"; done
  echo ")"
  echo
  echo "replace ("
  for m in "${staging[@]}"; do echo "	$m => $m $staging_ver"; done
  echo ")"
} > "$work/go.mod"
write_tools() { # extra import paths...
  {
    echo "//go:build tools"
    echo
    echo "package tools"
    echo
    echo "import ("
    echo '	_ "github.com/onsi/ginkgo/v2/ginkgo"'
    echo '	_ "k8s.io/kubernetes/test/e2e"'
    echo '	_ "k8s.io/kubernetes/test/images/agnhost"'
    for p in "$@"; do echo "	_ \"$p\""; done
    echo ")"
  } > "$work/tools.go"
}
write_tools
cd "$work"
echo "conformance/build.sh: resolving modules for kubernetes $K8S_VERSION (staging $staging_ver, ginkgo $ginkgo_ver)"
go mod tidy -e >/dev/null 2>"$work/tidy.log" || { cat "$work/tidy.log" >&2; exit 1; }
# The second pass: test/e2e's test-only imports (and those of agnhost's, harmlessly).
mapfile -t timports < <(go list -e -f '{{join .TestImports "\n"}}{{"\n"}}{{join .XTestImports "\n"}}' \
  k8s.io/kubernetes/test/e2e | grep -v '^$' | grep -v '^k8s.io/kubernetes/test/e2e$' | sort -u)
echo "conformance/build.sh: test/e2e has ${#timports[@]} test-only imports; tidying again"
write_tools "${timports[@]}"
go mod tidy -e >/dev/null 2>"$work/tidy.log" || { cat "$work/tidy.log" >&2; exit 1; }

ldflags_k8s="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags_k8s+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$(cut -d. -f2 <<<"$K8S_VERSION")"
  ldflags_k8s+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done

step() { # name cmd...
  local name="$1" t0=$SECONDS; shift
  [[ -x "$OUT/$name" ]] && { echo "conformance/build.sh: $name cached"; return 0; }
  echo "conformance/build.sh: building $name"
  nice -n "${BUILD_NICE:-10}" "$@"
  mv -f "$OUT/.$name.tmp" "$OUT/$name"
  echo "conformance/build.sh: $name built in $((SECONDS - t0))s"
}
step ginkgo go build -p 2 -trimpath -o "$OUT/.ginkgo.tmp" github.com/onsi/ginkgo/v2/ginkgo
step agnhost go build -p 2 -trimpath -ldflags "-s -w" -o "$OUT/.agnhost.tmp" k8s.io/kubernetes/test/images/agnhost
step e2e.test go test -c -vet=off -p 2 -trimpath -ldflags "$ldflags_k8s" -o "$OUT/.e2e.test.tmp" k8s.io/kubernetes/test/e2e
"$OUT/ginkgo" version
"$OUT/e2e.test" --help >/dev/null 2>&1 || true
ls -l "$OUT/e2e.test" "$OUT/ginkgo" "$OUT/agnhost"
echo "conformance/build.sh: done in $((SECONDS - t_all))s"
