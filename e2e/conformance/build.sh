#!/usr/bin/env bash
# Builds upstream Kubernetes' cluster e2e suite, the ginkgo CLI and agnhost from the Go module
# proxy at the kubelet's version, cached.
#
# The suite is e2e-common.test: upstream's test/e2e suite (its RunE2ETests, flags, framework
# set-up, embedded test files: a copy of test/e2e/e2e_test.go's TestMain) with only the spec
# packages of test/e2e/common (node, storage, network), where all 236 [NodeConformance] specs of
# v1.36.3 live. Upstream's whole e2e.test also compiles apps, network, storage drivers, kubectl,
# dra, autoscaling...: cold, after the kubelet's builds, 74 s for this one, ~180 s for that one.
#
# Technique: e2e/cluster/build.sh's throwaway main module (requires k8s.io/kubernetes, replaces each
# staging module at v0.0.0 with its published v0.<minor>.<patch>); the suite's main is a test
# package of that module (nodeconf/), so `go mod tidy` follows its imports.
# ginkgo is built at the version kubernetes' go.mod pins (the CLI and the suite must agree).
#
# Output: $BULKHEAD_TOOLS_CACHE/k8s-<ver>/{e2e-common.test,ginkgo,agnhost}; skipped when present.
# Usage: e2e/conformance/build.sh [--print-dir]
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-v1.36.3}"
CACHE_ROOT="${BULKHEAD_TOOLS_CACHE:-/var/cache/bulkhead-tools}"
OUT="$CACHE_ROOT/k8s-$K8S_VERSION"
if [[ "${1:-}" == "--print-dir" ]]; then echo "$OUT"; exit 0; fi

missing=()
for b in e2e-common.test ginkgo agnhost; do [[ -x "$OUT/$b" ]] || missing+=("$b"); done
if [[ ${#missing[@]} -eq 0 ]]; then echo "conformance/build.sh: cached in $OUT (e2e-common.test ginkgo agnhost)"; exit 0; fi

command -v go >/dev/null || { echo "conformance/build.sh: go is required" >&2; exit 1; }
staging_ver="v0.${K8S_VERSION#v1.}"
mkdir -p "$OUT"
work="$(mktemp -d /tmp/bulkhead-e2e-build.XXXXXX)"
trap 'rm -rf "$work"' EXIT
# The same Go settings as e2e/cluster/build.sh (cgo on, -trimpath, GOFLAGS, the default GOCACHE):
# its kubelet/kubeadm/... builds, earlier in the same CI run, leave most of e2e-common.test's
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
etcd_ver="$(awk '$1 == "go.etcd.io/etcd/server/v3" {print $2; exit}' "$modfile")"
[[ ${#staging[@]} -gt 10 && -n "$ginkgo_ver" && -n "$etcd_ver" ]] || { echo "conformance/build.sh: cannot parse $modfile" >&2; exit 1; }

{
  echo "module bulkhead.local/k8s-e2e"
  echo
  echo "go $(awk '$1 == "go" {print $2; exit}' "$modfile")"
  echo
  echo "require ("
  echo "	k8s.io/kubernetes $K8S_VERSION"
  echo "	github.com/onsi/ginkgo/v2 $ginkgo_ver"
  # e2e/cluster/build.sh's requirement too (kept by tools.go): the same module graph, so the same
  # versions (e.g. etcd's creack/pty v1.1.18, not v1.1.9) and the same build cache entries.
  echo "	go.etcd.io/etcd/server/v3 $etcd_ver"
  for m in "${staging[@]}"; do echo "	$m $staging_ver"; done
  echo ")"
  echo
  echo "replace ("
  for m in "${staging[@]}"; do echo "	$m => $m $staging_ver"; done
  echo ")"
} > "$work/go.mod"
cat >"$work/tools.go" <<'GO'
//go:build tools

package tools

import (
	_ "github.com/onsi/ginkgo/v2/ginkgo"
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/test/images/agnhost"
)
GO
mkdir -p "$work/nodeconf"
# test/e2e/e2e_test.go (v1.36.3) with the spec imports cut to test/e2e/common (which package e2e
# imports itself); without its progress reporter (unexported) and the log invariants check.
cat >"$work/nodeconf/nodeconf_test.go" <<'GO'
package nodeconf

import (
	"flag"
	"fmt"
	"os"
	"testing"

	"k8s.io/component-base/version"
	conformancetestdata "k8s.io/kubernetes/test/conformance/testdata"
	"k8s.io/kubernetes/test/e2e"
	"k8s.io/kubernetes/test/e2e/framework"
	"k8s.io/kubernetes/test/e2e/framework/config"
	"k8s.io/kubernetes/test/e2e/framework/testfiles"
	e2etestingmanifests "k8s.io/kubernetes/test/e2e/testing-manifests"
	testfixtures "k8s.io/kubernetes/test/fixtures"

	// define and freeze constants
	_ "k8s.io/kubernetes/test/e2e/feature"

	// test sources: all [NodeConformance] specs
	_ "k8s.io/kubernetes/test/e2e/common"

	// reconfigure framework
	_ "k8s.io/kubernetes/test/e2e/framework/debug/init"
	_ "k8s.io/kubernetes/test/e2e/framework/metrics/init"
	_ "k8s.io/kubernetes/test/e2e/framework/node/init"
	_ "k8s.io/kubernetes/test/utils/format"
)

func TestMain(m *testing.M) {
	var versionFlag bool
	flag.CommandLine.BoolVar(&versionFlag, "version", false, "Displays version information.")
	config.CopyFlags(config.Flags, flag.CommandLine)
	framework.RegisterCommonFlags(flag.CommandLine)
	framework.RegisterClusterFlags(flag.CommandLine)
	flag.Parse()
	if versionFlag {
		fmt.Printf("%s\n", version.Get())
		os.Exit(0)
	}
	if flag.CommandLine.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "unknown additional command line arguments: %s", flag.CommandLine.Args())
		os.Exit(1)
	}
	testfiles.AddFileSource(e2etestingmanifests.GetE2ETestingManifestsFS())
	testfiles.AddFileSource(testfixtures.GetTestFixturesFS())
	testfiles.AddFileSource(conformancetestdata.GetConformanceTestdataFS())
	framework.AfterReadingAllFlags(&framework.TestContext)
	if framework.TestContext.RepoRoot != "" {
		testfiles.AddFileSource(testfiles.RootFileSource{Root: framework.TestContext.RepoRoot})
	}
	os.Exit(m.Run())
}

func TestE2E(t *testing.T) {
	e2e.RunE2ETests(t)
}
GO
cd "$work"
echo "conformance/build.sh: resolving modules for kubernetes $K8S_VERSION (staging $staging_ver, ginkgo $ginkgo_ver)"
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
step e2e-common.test go test -c -vet=off -p 2 -trimpath -ldflags "$ldflags_k8s" -o "$OUT/.e2e-common.test.tmp" ./nodeconf
"$OUT/ginkgo" version
"$OUT/e2e-common.test" --version
ls -l "$OUT/e2e-common.test" "$OUT/ginkgo" "$OUT/agnhost"
echo "conformance/build.sh: done in $((SECONDS - t_all))s"
