#!/usr/bin/env bash
# e2e/conformance/run.sh: upstream Kubernetes' [NodeConformance] specs (e2e suite v1.36.3,
# --provider=skeleton) against a 2-node kind cluster on Bulkhead, offline.
#   1. tools and images: e2e/conformance/build.sh (e2e-common.test: upstream's suite with
#      test/e2e/common's specs, all of the [NodeConformance] ones; ginkgo, agnhost), the node image
#      (deploy/kind/build-node-image.sh as bulkhead/kind-node:conf), e2e/conformance/make-images.sh
#   2. kind create cluster bhk-conf (deploy/kind/kind-config.yaml) + deploy/kind/cni-setup.sh;
#      with --cluster NAME instead: that running cluster ($KUBECONFIG; e2e/kind/run.sh's, through
#      its BULKHEAD_KIND_HOOK), neither built nor deleted here (same node image and kind-config)
#   3. a registry on the kind network's gateway (:5001, the nodes' way to the host) serving the
#      test images; each node's /etc/bulkhead/certs.d/<gw>:5001/hosts.toml makes it plain http;
#      KUBE_TEST_REPO_LIST renames e2e.test's registries to it
#   4. ginkgo --procs e2e-common.test: focus [NodeConformance], skip [Serial] [Slow] [Disruptive]
#      [Flaky], then the set (BULKHEAD_CONFORMANCE_SET):
#        subset (default, what CI runs) the areas of ci-focus.list minus its skips and ci-skip.list
#        wide                           every [NodeConformance] spec minus ci-skip.list (220)
#        full                           all of them (236; also BULKHEAD_CONFORMANCE_FULL=1)
#   5. kind delete cluster bhk-conf (not with --cluster), the registry stopped
# Env: BULKHEAD_CONFORMANCE_SET (above), BULKHEAD_CONFORMANCE_RUNTIMECLASS=microvm
# (pods without a runtimeClassName run in micro-VMs: the nodes' default handler is switched; not
# with --cluster), BULKHEAD_CONFORMANCE_PROCS (ginkgo --procs, default 4),
# BULKHEAD_CONFORMANCE_RESULTS (results dir), BULKHEAD_CONFORMANCE_FOCUS (a regex: the
# [NodeConformance] specs matching it, in place of the subset's areas; it narrows wide and full),
# BULKHEAD_CONFORMANCE_KEEP=1 (leave the cluster up), --dry-run (count the specs; no cluster, no images).
# Prints "conformance: N passed, M failed, K skipped" last; exit status 1 when a spec failed.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
HERE=$REPO/e2e/conformance
CLUSTER=bhk-conf
NODE_IMAGE=${NODE_IMAGE:-bulkhead/kind-node:conf}
KIND_CACHE=${BULKHEAD_KIND_CACHE:-/var/cache/bulkhead-tools/kind}
CACHE=${BULKHEAD_CONFORMANCE_CACHE:-/var/cache/bulkhead-tools/conformance}
KIND=$KIND_CACHE/bin/kind
K8S_BIN=$(bash "$REPO/e2e/conformance/build.sh" --print-dir)
KUBECTL=$K8S_BIN/kubectl
REG_PORT=${BULKHEAD_CONFORMANCE_REGISTRY_PORT:-5001}
PROCS=${BULKHEAD_CONFORMANCE_PROCS:-4}
RC_MODE=${BULKHEAD_CONFORMANCE_RUNTIMECLASS:-}
SET=${BULKHEAD_CONFORMANCE_SET:-subset}
[[ ${BULKHEAD_CONFORMANCE_FULL:-0} == 1 ]] && SET=full
DRY=0
EXISTING= # --cluster NAME: a running cluster, not ours to create or delete
while (($#)); do
  case $1 in
    --dry-run) DRY=1 ;;
    --cluster) EXISTING=${2:?--cluster NAME}; CLUSTER=$EXISTING; shift ;;
    *) echo "usage: $0 [--dry-run] [--cluster NAME]" >&2; exit 2 ;;
  esac
  shift
done
RESULTS=${BULKHEAD_CONFORMANCE_RESULTS:-/var/tmp/bulkhead-conformance/$(date -u +%Y%m%dT%H%M%SZ)${RC_MODE:+-$RC_MODE}}
mkdir -p "$RESULTS"
if [[ -n $EXISTING ]]; then
  [[ -n ${KUBECONFIG:-} ]] || { echo "conformance: --cluster needs KUBECONFIG (that cluster's)" >&2; exit 2; }
  [[ -z $RC_MODE ]] || { echo "conformance: BULKHEAD_CONFORMANCE_RUNTIMECLASS needs a cluster of its own" >&2; exit 2; }
else
  export KUBECONFIG=$RESULTS/kubeconfig # kind writes ~/.kube/config otherwise
fi
t_start=$SECONDS
log() { printf '[conformance %4ss] %s\n' "$((SECONDS - t_start))" "$*"; }
die() { log "ERROR: $*"; exit 2; }

# ---- the spec selection
NC='\[NodeConformance\]'
# [Serial] & co. are never part of a set: not run, not counted (summarize --ignore-for).
NEVER='\[Serial\]|\[Slow\]|\[Disruptive\]|\[Flaky\]'
list_regexes() { grep -v '^[[:space:]]*#' "$1" | sed '/^[[:space:]]*$/d' | paste -sd'|'; }
focus_list() { sed -n "s/^$1 //p" "$HERE/ci-focus.list" | paste -sd'|'; } # focus|skip
AREAS=${BULKHEAD_CONFORMANCE_FOCUS:-}
SKIP=
case $SET in
  subset) [[ -n $AREAS ]] || AREAS=$(focus_list focus)
    SKIP=$(printf '%s\n' "$(focus_list skip)" "$(list_regexes "$HERE/ci-skip.list")" | sed '/^$/d' | paste -sd'|') ;;
  wide) SKIP=$(list_regexes "$HERE/ci-skip.list") ;;
  full) ;;
  *) echo "conformance: BULKHEAD_CONFORMANCE_SET=$SET: subset, wide or full" >&2; exit 2 ;;
esac
FOCUS=$NC
[[ -n $AREAS ]] && FOCUS="$NC.*($AREAS)|($AREAS).*$NC"
if [[ $RC_MODE == microvm && -f $HERE/microvm-skip.list ]] && [[ -n $(list_regexes "$HERE/microvm-skip.list") ]]; then
  SKIP="${SKIP:+$SKIP|}$(list_regexes "$HERE/microvm-skip.list")"
fi
# For e2e/lib/summarize.mjs, which counts from report.json: focus, skip, never.
printf '%s\n' "$FOCUS" >"$RESULTS/focus.txt"
printf '%s\n' "$SKIP" >"$RESULTS/skip.txt"
printf '%s\n' "$NEVER" >"$RESULTS/never.txt"
GINKGO_SKIP=$NEVER${SKIP:+|$SKIP}

t0=$SECONDS
bash "$REPO/e2e/conformance/build.sh"
E2E_TEST=$K8S_BIN/e2e-common.test
log "e2e-common.test/ginkgo/agnhost ready in $((SECONDS - t0))s"

# Counts from ginkgo's JSON report (which lists every spec of the suite) as e2e/run-all.sh's
# summary counts them (e2e/lib/summarize.mjs): out of the focus or [Serial] & co.: not counted;
# on a skip list: skipped. Prints the failures, then "COUNTS passed failed skipped".
summarize() {
  local out
  out=$(node "$REPO/e2e/lib/summarize.mjs" --ginkgo "conformance=$1" --ginkgo-focus "conformance=$FOCUS" \
    --skip-for "conformance=$SKIP" --ignore-for "conformance=$NEVER") || true
  sed -n 's/^ *FAILED: /  FAILED /p' <<<"$out"
  tail -1 <<<"$out" | sed -E 's/^([0-9]+) passed, ([0-9]+) failed, ([0-9]+) skipped$/COUNTS \1 \2 \3/'
}

if [[ $DRY == 1 ]]; then
  "$E2E_TEST" --provider=skeleton --ginkgo.dry-run --ginkgo.no-color --ginkgo.v \
    --ginkgo.focus="$FOCUS" --ginkgo.skip="$GINKGO_SKIP" --ginkgo.json-report="$RESULTS/dry-run.json" \
    >"$RESULTS/dry-run.log" 2>&1 || true
  grep -E '^Ran [0-9]+ of [0-9]+ Specs' "$RESULTS/dry-run.log" || tail -5 "$RESULTS/dry-run.log"
  out=$(summarize "$RESULTS/dry-run.json")
  read -r _ p _ s <<<"$(tail -1 <<<"$out")"
  echo "conformance dry run ($SET set): $p would run, $s skipped by its lists (list: $RESULTS/dry-run.log)"
  exit 0
fi

# ---- 1. engine, node image (not with --cluster), test images
if [[ -z $EXISTING ]]; then
  docker_state=$(bash "$REPO/e2e/kind/docker-setup.sh")
  log "docker engine: $docker_state"
  [[ -f $REPO/dist/cmd/bulkheadd/main.js ]] || die "npm run build first (the node image takes this checkout's dist/)"
  t0=$SECONDS
  flock "$KIND_CACHE/.build.lock" env NODE_IMAGE="$NODE_IMAGE" bash "$REPO/deploy/kind/build-node-image.sh"
  log "node image $NODE_IMAGE ready in $((SECONDS - t0))s"
fi
t0=$SECONDS
REGISTRY= bash "$HERE/make-images.sh" # built only: e2e/run-all.sh exports REGISTRY (its own registry)
log "test images ready in $((SECONDS - t0))s"

REG_PID=
cleanup() {
  set +e
  if [[ ${BULKHEAD_CONFORMANCE_KEEP:-0} == 1 ]]; then
    log "BULKHEAD_CONFORMANCE_KEEP=1: cluster $CLUSTER and the registry (pid $REG_PID) left up; KUBECONFIG=$KUBECONFIG"
    return
  fi
  if [[ -z $EXISTING ]]; then
    log "cleanup: kind delete cluster --name $CLUSTER"
    "$KIND" delete cluster --name "$CLUSTER" >/dev/null 2>&1
  fi
  [[ -n $REG_PID ]] && kill -TERM "$REG_PID" 2>/dev/null && wait "$REG_PID" 2>/dev/null
}
trap cleanup EXIT

# ---- 2. cluster (with --cluster: the caller's, which must have the test-handler handler)
t0=$SECONDS
if [[ -z $EXISTING ]]; then
  "$KIND" delete cluster --name "$CLUSTER" >/dev/null 2>&1 || true
  "$KIND" create cluster --name "$CLUSTER" --config "$REPO/deploy/kind/kind-config.yaml" --image "$NODE_IMAGE" --retain
  KIND=$KIND KUBECTL=$KUBECTL bash "$REPO/deploy/kind/cni-setup.sh" "$CLUSTER"
fi
"$KUBECTL" wait --for=condition=Ready node --all --timeout=180s
"$KUBECTL" -n kube-system wait --for=condition=Ready pod --all --timeout=180s || "$KUBECTL" -n kube-system get pods -o wide
for n in $("$KIND" get nodes --name "$CLUSTER"); do
  docker exec "$n" grep -q '^\[runtime_handlers.test-handler\]' /etc/bulkhead/config.toml \
    || die "node $n has no test-handler runtime handler (deploy/kind/bulkhead-config.toml)"
done
log "cluster $CLUSTER ${EXISTING:+(existing) }ready in $((SECONDS - t0))s"
"$KUBECTL" get nodes -o wide

# ---- 3. the registry on the kind gateway, the images in it, the nodes told it is plain http
GW=$(docker network inspect kind -f '{{range .IPAM.Config}}{{.Gateway}} {{end}}' | tr ' ' '\n' | grep -E '^[0-9]+(\.[0-9]+){3}$' | head -1)
[[ -n $GW ]] || die "no IPv4 gateway on the kind network"
REG=$GW:$REG_PORT
mkdir -p "$CACHE/registry"
sed -e "s|@DATA@|$CACHE/registry|" -e "s|@ADDR@|$REG|" "$REPO/e2e/images/registry-config.yml" >"$RESULTS/registry.yml"
/usr/bin/docker-registry serve "$RESULTS/registry.yml" >"$RESULTS/registry.log" 2>&1 </dev/null &
REG_PID=$!
for _ in $(seq 1 100); do curl -fs -o /dev/null "http://$REG/v2/" && break; sleep 0.1; done
curl -fs -o /dev/null "http://$REG/v2/" || die "registry on $REG did not come up ($RESULTS/registry.log)"
REGISTRY=$REG bash "$HERE/make-images.sh"
for n in $("$KIND" get nodes --name "$CLUSTER"); do
  docker exec -i "$n" sh -c "mkdir -p '/etc/bulkhead/certs.d/$REG' && cat > '/etc/bulkhead/certs.d/$REG/hosts.toml'" <<TOML
# e2e/conformance/run.sh: the host's conformance image registry, plain http.
server = "http://$REG"
TOML
done
cat >"$RESULTS/repo-list.yaml" <<YAML
promoterE2eRegistry: $REG/e2e-test-images
buildImageRegistry: $REG/build-image
gcEtcdRegistry: $REG
gcRegistry: $REG
sigStorageRegistry: $REG/sig-storage
privateRegistry: $REG/k8s-authenticated-test
dockerLibraryRegistry: $REG/library
cloudProviderGcpRegistry: $REG/cloud-provider-gcp
YAML
export KUBE_TEST_REPO_LIST=$RESULTS/repo-list.yaml
log "registry $REG serving the test images"

# ---- microvm mode: pods without a runtimeClassName get the nodes' default handler
if [[ $RC_MODE == microvm ]]; then
  for n in $("$KIND" get nodes --name "$CLUSTER"); do
    docker exec "$n" sh -c 'grep -q "^\[runtime_handlers.microvm\]" /etc/bulkhead/config.toml' \
      || die "node $n has no microvm handler (its image has no QEMU: see deploy/kind/)"
    docker exec "$n" sed -i 's/^default_runtime_handler = .*/default_runtime_handler = "microvm"/' /etc/bulkhead/config.toml
    docker exec "$n" systemctl restart bulkhead
  done
  "$KUBECTL" wait --for=condition=Ready node --all --timeout=180s
  log "nodes' default runtime handler: microvm"
elif [[ -n $RC_MODE ]]; then
  die "BULKHEAD_CONFORMANCE_RUNTIMECLASS=$RC_MODE: only microvm is known"
fi

# ---- 4. the specs
t0=$SECONDS
log "ginkgo --procs $PROCS: the $SET set (focus.txt, skip.txt); results in $RESULTS"
set +e
"$K8S_BIN/ginkgo" --procs="$PROCS" --no-color --timeout="${BULKHEAD_CONFORMANCE_TIMEOUT:-3h}" \
  --focus="$FOCUS" --skip="$GINKGO_SKIP" --output-dir="$RESULTS" --junit-report=junit.xml --json-report=report.json \
  "$E2E_TEST" -- --provider=skeleton --kubeconfig="$KUBECONFIG" --report-dir="$RESULTS" \
  >"$RESULTS/e2e.log" 2>&1
rc=$?
set -e
log "e2e-common.test finished in $((SECONDS - t0))s (ginkgo exit $rc); log $RESULTS/e2e.log"
grep -E '^Ran [0-9]+ of [0-9]+ Specs|Passed \| [0-9]+ Failed' "$RESULTS/e2e.log" || tail -20 "$RESULTS/e2e.log"
# keep the nodes' Bulkhead logs for the failures
for n in $("$KIND" get nodes --name "$CLUSTER"); do
  docker exec "$n" journalctl -u bulkhead --no-pager >"$RESULTS/bulkhead-$n.log" 2>&1 || true
  docker exec "$n" journalctl -u kubelet --no-pager >"$RESULTS/kubelet-$n.log" 2>&1 || true
done
[[ -f $RESULTS/report.json ]] || die "no report.json (ginkgo exit $rc)"
out=$(summarize "$RESULTS/report.json")
sed '$d' <<<"$out"
read -r _ p f s <<<"$(tail -1 <<<"$out")"
cleanup
trap - EXIT
log "total $((SECONDS - t_start))s"
echo "conformance: $p passed, $f failed, $s skipped"
((f == 0 && rc == 0))
