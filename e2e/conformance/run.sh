#!/usr/bin/env bash
# e2e/conformance/run.sh: upstream Kubernetes' [NodeConformance] specs (e2e.test v1.36.3,
# --provider=skeleton) against a 2-node kind cluster on Bulkhead, offline.
#   1. tools and images: e2e/conformance/build.sh (e2e.test, ginkgo, agnhost), the node image
#      (deploy/kind/build-node-image.sh as bulkhead/kind-node:conf), e2e/conformance/make-images.sh
#   2. kind create cluster bhk-conf (deploy/kind/kind-config.yaml) + deploy/kind/cni-setup.sh
#   3. a registry on the kind network's gateway (:5001, the nodes' way to the host) serving the
#      test images; each node's /etc/bulkhead/certs.d/<gw>:5001/hosts.toml makes it plain http;
#      KUBE_TEST_REPO_LIST renames e2e.test's registries to it
#   4. ginkgo --procs e2e.test: focus [NodeConformance], skip [Serial] [Slow] [Disruptive]
#      [Flaky] and, unless BULKHEAD_CONFORMANCE_FULL=1, the specs in ci-skip.list (each with its reason)
#   5. kind delete cluster bhk-conf, the registry stopped
# Env: BULKHEAD_CONFORMANCE_FULL=1 (all of them), BULKHEAD_CONFORMANCE_RUNTIMECLASS=microvm
# (pods without a runtimeClassName run in micro-VMs: the nodes' default handler is switched),
# BULKHEAD_CONFORMANCE_PROCS (ginkgo --procs, default 4), BULKHEAD_CONFORMANCE_RESULTS (results
# dir), BULKHEAD_CONFORMANCE_FOCUS (an extra regex to narrow the focus), BULKHEAD_CONFORMANCE_KEEP=1
# (leave the cluster up), --dry-run (count the specs; no cluster, no images).
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
FULL=${BULKHEAD_CONFORMANCE_FULL:-0}
DRY=0
[[ ${1:-} == --dry-run ]] && DRY=1
RESULTS=${BULKHEAD_CONFORMANCE_RESULTS:-/var/tmp/bulkhead-conformance/$(date -u +%Y%m%dT%H%M%SZ)${RC_MODE:+-$RC_MODE}}
mkdir -p "$RESULTS"
export KUBECONFIG=$RESULTS/kubeconfig # kind writes ~/.kube/config otherwise
t_start=$SECONDS
log() { printf '[conformance %4ss] %s\n' "$((SECONDS - t_start))" "$*"; }
die() { log "ERROR: $*"; exit 2; }

# ---- the spec selection
FOCUS='\[NodeConformance\]'
[[ -n ${BULKHEAD_CONFORMANCE_FOCUS:-} ]] && FOCUS="$FOCUS.*(${BULKHEAD_CONFORMANCE_FOCUS})|(${BULKHEAD_CONFORMANCE_FOCUS}).*$FOCUS"
SKIP='\[Serial\]|\[Slow\]|\[Disruptive\]|\[Flaky\]'
list_regexes() { grep -v '^[[:space:]]*#' "$1" | sed '/^[[:space:]]*$/d' | paste -sd'|'; }
if [[ $FULL != 1 ]]; then SKIP="$SKIP|$(list_regexes "$HERE/ci-skip.list")"; fi
if [[ $RC_MODE == microvm && -f $HERE/microvm-skip.list ]] && [[ -n $(list_regexes "$HERE/microvm-skip.list") ]]; then
  SKIP="$SKIP|$(list_regexes "$HERE/microvm-skip.list")"
fi
printf '%s\n' "$FOCUS" >"$RESULTS/focus.txt"
printf '%s\n' "$SKIP" >"$RESULTS/skip.txt"

t0=$SECONDS
bash "$REPO/e2e/conformance/build.sh"
log "e2e.test/ginkgo/agnhost ready in $((SECONDS - t0))s"

# summary COUNTS from ginkgo's JSON report: the [NodeConformance] specs only (the report also
# lists every spec the focus left out).
summarize() {
  node - "$1" <<'JS'
const fs = require('fs');
const reports = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
let p = 0, f = 0, s = 0; const failed = [];
for (const r of reports) for (const sp of r.SpecReports || []) {
  if (sp.LeafNodeType !== 'It') continue;
  const text = [...(sp.ContainerHierarchyTexts || []), sp.LeafNodeText].join(' ');
  const labels = [...(sp.ContainerHierarchyLabels || []).flat(), ...(sp.LeafNodeLabels || [])];
  if (!text.includes('[NodeConformance]') && !labels.includes('NodeConformance')) continue;
  if (/\[(Serial|Slow|Disruptive|Flaky)\]/.test(text)) continue; // never part of the set
  if (sp.State === 'passed') p++;
  else if (sp.State === 'skipped' || sp.State === 'pending') s++;
  else { f++; failed.push(`${sp.State}: ${text}`); }
}
for (const x of failed) console.log('  FAILED ' + x);
console.log(`COUNTS ${p} ${f} ${s}`);
JS
}

if [[ $DRY == 1 ]]; then
  "$K8S_BIN/e2e.test" --provider=skeleton --ginkgo.dry-run --ginkgo.no-color --ginkgo.v \
    --ginkgo.focus="$FOCUS" --ginkgo.skip="$SKIP" --ginkgo.json-report="$RESULTS/dry-run.json" \
    >"$RESULTS/dry-run.log" 2>&1 || true
  grep -E '^Ran [0-9]+ of [0-9]+ Specs' "$RESULTS/dry-run.log" || tail -5 "$RESULTS/dry-run.log"
  out=$(summarize "$RESULTS/dry-run.json")
  read -r _ p _ s <<<"$(tail -1 <<<"$out")"
  echo "conformance dry run: $p would run, $s skipped ($([[ $FULL == 1 ]] && echo full || echo "ci subset") selection; list: $RESULTS/dry-run.log)"
  exit 0
fi

# ---- 1. engine, node image, test images
docker_state=$(bash "$REPO/e2e/kind/docker-setup.sh")
log "docker engine: $docker_state"
[[ -f $REPO/dist/cmd/bulkheadd/main.js ]] || die "npm run build first (the node image takes this checkout's dist/)"
t0=$SECONDS
flock "$KIND_CACHE/.build.lock" env NODE_IMAGE="$NODE_IMAGE" bash "$REPO/deploy/kind/build-node-image.sh"
log "node image $NODE_IMAGE ready in $((SECONDS - t0))s"
t0=$SECONDS
bash "$HERE/make-images.sh"
log "test images ready in $((SECONDS - t0))s"

REG_PID=
cleanup() {
  set +e
  if [[ ${BULKHEAD_CONFORMANCE_KEEP:-0} == 1 ]]; then
    log "BULKHEAD_CONFORMANCE_KEEP=1: cluster $CLUSTER and the registry (pid $REG_PID) left up; KUBECONFIG=$KUBECONFIG"
    return
  fi
  log "cleanup: kind delete cluster --name $CLUSTER"
  "$KIND" delete cluster --name "$CLUSTER" >/dev/null 2>&1
  [[ -n $REG_PID ]] && kill -TERM "$REG_PID" 2>/dev/null && wait "$REG_PID" 2>/dev/null
}
trap cleanup EXIT

# ---- 2. cluster
t0=$SECONDS
"$KIND" delete cluster --name "$CLUSTER" >/dev/null 2>&1 || true
"$KIND" create cluster --name "$CLUSTER" --config "$REPO/deploy/kind/kind-config.yaml" --image "$NODE_IMAGE" --retain
KIND=$KIND KUBECTL=$KUBECTL bash "$REPO/deploy/kind/cni-setup.sh" "$CLUSTER"
"$KUBECTL" wait --for=condition=Ready node --all --timeout=180s
"$KUBECTL" -n kube-system wait --for=condition=Ready pod --all --timeout=180s || "$KUBECTL" -n kube-system get pods -o wide
log "cluster $CLUSTER up in $((SECONDS - t0))s"
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
log "ginkgo --procs $PROCS: focus $FOCUS ($([[ $FULL == 1 ]] && echo full || echo "ci subset: $HERE/ci-skip.list")); results in $RESULTS"
set +e
"$K8S_BIN/ginkgo" --procs="$PROCS" --no-color --timeout="${BULKHEAD_CONFORMANCE_TIMEOUT:-3h}" \
  --focus="$FOCUS" --skip="$SKIP" --output-dir="$RESULTS" --junit-report=junit.xml --json-report=report.json \
  "$K8S_BIN/e2e.test" -- --provider=skeleton --kubeconfig="$KUBECONFIG" --report-dir="$RESULTS" \
  >"$RESULTS/e2e.log" 2>&1
rc=$?
set -e
log "e2e.test finished in $((SECONDS - t0))s (ginkgo exit $rc); log $RESULTS/e2e.log"
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
