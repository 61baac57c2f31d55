#!/usr/bin/env bash
# Builds kubelet, kube-apiserver, etcd and kubectl from the Go module proxy at pinned versions, cached.
#
# Why not `go install k8s.io/kubernetes/cmd/kubelet@vX`: k8s.io/kubernetes' go.mod requires its
# staging modules (k8s.io/api, k8s.io/client-go, ...) at v0.0.0 and replaces them with
# ./staging/... paths that are not in the module zip. A throwaway main module that requires
# k8s.io/kubernetes and replaces every staging module with its published v0.<minor>.<patch> fixes
# that (replace directives only count in the main module). etcd comes from the same module graph
# (go.etcd.io/etcd/server/v3 at the version kube-apiserver's client is built against), so the
# API server talks to the etcd it was tested with; Debian's etcd 3.4 is older than Kubernetes supports.
#
# Output: $BULKHEAD_TOOLS_CACHE/k8s-<ver>/{kubelet,kube-apiserver,etcd,kubectl}; skipped when present.
# With --kind also kubeadm, kube-scheduler, kube-controller-manager and kube-proxy (the rest of a
# kubeadm control plane, for deploy/kind/build-node-image.sh), from the same module graph.
# Usage: e2e/cluster/build.sh [--print-dir] [--kind]
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-v1.36.3}"
CACHE_ROOT="${BULKHEAD_TOOLS_CACHE:-/var/cache/bulkhead-tools}"
OUT="$CACHE_ROOT/k8s-$K8S_VERSION"
BINS=(kubelet kube-apiserver etcd kubectl)
KIND_BINS=(kubeadm kube-scheduler kube-controller-manager kube-proxy)

if [[ "${1:-}" == "--print-dir" ]]; then echo "$OUT"; exit 0; fi
if [[ "${1:-}" == "--kind" ]]; then BINS+=("${KIND_BINS[@]}"); fi

missing=()
for b in "${BINS[@]}"; do [[ -x "$OUT/$b" ]] || missing+=("$b"); done
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "build.sh: cached in $OUT (${BINS[*]})"
  exit 0
fi

command -v go >/dev/null || { echo "build.sh: go is required" >&2; exit 1; }
staging_ver="v0.${K8S_VERSION#v1.}"          # v1.36.3 -> v0.36.3
mkdir -p "$OUT"
work="$(mktemp -d /tmp/bulkhead-k8s-build.XXXXXX)"
trap 'rm -rf "$work"' EXIT
export GOFLAGS=-buildvcs=false GOTOOLCHAIN="${GOTOOLCHAIN:-auto}" CGO_ENABLED="${CGO_ENABLED:-1}"
export GOPROXY="${GOPROXY:-https://proxy.golang.org}"

# kubernetes' own go.mod tells us which staging modules (required at v0.0.0) need a replacement
# and which etcd it is built against.
modfile="$work/kubernetes.mod"
(cd "$work" && go mod download -json "k8s.io/kubernetes@$K8S_VERSION" >/dev/null)
cp "$(go env GOMODCACHE)/cache/download/k8s.io/kubernetes/@v/$K8S_VERSION.mod" "$modfile"
mapfile -t staging < <(awk '/^require/,/^\)/' "$modfile" | awk '$1 ~ /^k8s\.io\// && $2 == "v0.0.0" {print $1}')
etcd_ver="$(awk '$1 == "go.etcd.io/etcd/server/v3" {print $2; exit}' "$modfile")"
[[ ${#staging[@]} -gt 10 && -n "$etcd_ver" ]] || { echo "build.sh: cannot parse $modfile" >&2; exit 1; }

{
  echo "module bulkhead.local/k8s-tools"
  echo
  echo "go $(awk '$1 == "go" {print $2; exit}' "$modfile")"
  echo
  echo "require ("
  echo "	k8s.io/kubernetes $K8S_VERSION"
  echo "	go.etcd.io/etcd/server/v3 $etcd_ver"
  for m in "${staging[@]}"; do echo "	$m $staging_ver"; done
  echo ")"
  echo
  echo "replace ("
  for m in "${staging[@]}"; do echo "	$m => $m $staging_ver"; done
  echo ")"
} > "$work/go.mod"
cat > "$work/tools.go" <<'GO'
//go:build tools

package tools

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kubectl"
	_ "k8s.io/kubernetes/cmd/kubelet"
	_ "k8s.io/kubernetes/cmd/kubeadm"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-proxy"
)
GO

cd "$work"
echo "build.sh: resolving modules for kubernetes $K8S_VERSION (staging $staging_ver, etcd $etcd_ver)"
go mod tidy -e >/dev/null 2>"$work/tidy.log" || { cat "$work/tidy.log" >&2; exit 1; }

# Version stamping: kubelet/apiserver report these in /version and node status.
ldflags_k8s="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags_k8s+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$(cut -d. -f2 <<<"$K8S_VERSION")"
  ldflags_k8s+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done

build() { # name pkg ldflags
  local name="$1" pkg="$2" ldflags="$3" t0=$SECONDS lock
  # One build per binary at a time: run-all.sh's background prebuild (e2e/lib/prebuild.sh) and
  # the step that needs the binary may both get here; the second waits, then finds it cached.
  exec {lock}>"$OUT/.$name.lock"
  flock "$lock"
  if [[ -x "$OUT/$name" ]]; then echo "build.sh: $name cached ($((SECONDS - t0))s waiting)"; exec {lock}>&-; return 0; fi
  echo "build.sh: building $name ($pkg)"
  nice -n "${BUILD_NICE:-10}" go build -trimpath -ldflags "$ldflags" -o "$OUT/.$name.tmp" "$pkg"
  mv -f "$OUT/.$name.tmp" "$OUT/$name"
  exec {lock}>&-
  echo "build.sh: $name built in $((SECONDS - t0))s"
}
build kubelet k8s.io/kubernetes/cmd/kubelet "$ldflags_k8s"
build kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver "$ldflags_k8s"
build etcd go.etcd.io/etcd/server/v3 "-s -w"
# kubectl at the cluster's version, so a fresh machine needs no packaged kubectl.
build kubectl k8s.io/kubernetes/cmd/kubectl "$ldflags_k8s"
if [[ " ${BINS[*]} " == *" kubeadm "* ]]; then
  # kube-proxy first: the smallest, and the one a failed later build would not hold back.
  build kube-proxy k8s.io/kubernetes/cmd/kube-proxy "$ldflags_k8s"
  build kubeadm k8s.io/kubernetes/cmd/kubeadm "$ldflags_k8s"
  build kube-scheduler k8s.io/kubernetes/cmd/kube-scheduler "$ldflags_k8s"
  build kube-controller-manager k8s.io/kubernetes/cmd/kube-controller-manager "$ldflags_k8s"
fi
"$OUT/kubelet" --version
"$OUT/kube-apiserver" --version
# sed reads to the end: head could SIGPIPE the printer (exit 141 under pipefail after a good build)
"$OUT/etcd" --version | sed -n 1p
"$OUT/kubectl" version --client | sed -n 1p
