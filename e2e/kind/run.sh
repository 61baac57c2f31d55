#!/usr/bin/env bash
# e2e/kind/run.sh: a 2-node kind v0.33.0 cluster on Bulkhead, offline (optional CI step: run-all.sh
# runs it only with BULKHEAD_E2E_KIND=1; a cold run builds kubeadm & co. and the node image).
#   1. Docker engine (e2e/kind/docker-setup.sh), the node image (deploy/kind/build-node-image.sh)
#   2. kind create cluster (deploy/kind/kind-config.yaml), pod network (deploy/kind/cni-setup.sh)
#   3. checks: both nodes Ready with CONTAINER-RUNTIME bulkhead://; `kind load docker-image` of a
#      locally built image; a pod on each node from it; pod-to-pod across nodes; kubectl logs/exec
#   4. kind delete cluster; nothing of the cluster left; dockerd stopped if this script started it
# Prints "kind: N passed, M failed" last; exit status 1 when anything failed.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
CACHE=${BULKHEAD_KIND_CACHE:-/var/cache/bulkhead-tools/kind}
CLUSTER=${BULKHEAD_KIND_CLUSTER:-bhk-e2e}
NODE_IMAGE=${NODE_IMAGE:-bulkhead/kind-node:v1.36.3}
TEST_IMAGE=bulkhead.local/kind-e2e/busybox:e2e
WORK=$(mktemp -d /tmp/bulkhead-kind-e2e.XXXXXX)
export KUBECONFIG=$WORK/kubeconfig # kind writes ~/.kube/config otherwise
KIND=$CACHE/bin/kind
KUBECTL=$(bash "$REPO/e2e/cluster/build.sh" --print-dir)/kubectl
passed=0
failed=0
t_start=$SECONDS
log() { printf '[kind-e2e %4ss] %s\n' "$((SECONDS - t_start))" "$*"; }
check() { # name command...
  local name=$1
  shift
  if "$@" >"$WORK/check.out" 2>&1; then
    passed=$((passed + 1))
    log "PASS $name"
  else
    failed=$((failed + 1))
    log "FAIL $name"
    sed 's/^/    /' "$WORK/check.out" | tail -20
  fi
}
k() { "$KUBECTL" "$@"; }

docker_started=no
cleanup() {
  log "cleanup"
  "$KIND" delete cluster --name "$CLUSTER" >/dev/null 2>&1 || true
  docker rmi -f "$TEST_IMAGE" >/dev/null 2>&1 || true
  docker network rm kind >/dev/null 2>&1 || true # kind creates it and never removes it
  if [[ $docker_started == started ]]; then
    kill -TERM "$(cat /run/bulkhead-kind-dockerd/dockerd.pid)" 2>/dev/null || true
    for _ in $(seq 1 100); do docker info >/dev/null 2>&1 || break; sleep 0.2; done
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# ---- 1. engine and images
docker_started=$(bash "$REPO/e2e/kind/docker-setup.sh")
log "docker engine: $docker_started"
t0=$SECONDS
bash "$REPO/deploy/kind/build-node-image.sh"
log "node image ready in $((SECONDS - t0))s"

# The test image: the host's static busybox, made into a `docker save` archive and loaded into
# the engine, so `kind load docker-image` exercises docker save → ctr shim → bulkhead import.
. "$REPO/deploy/kind/lib/image-archive.sh"
mkdir -p "$WORK/bb/bin" "$WORK/bb/www"
cp /bin/busybox "$WORK/bb/bin/busybox"
for a in sh nc httpd hostname sleep cat echo printf; do ln -sf busybox "$WORK/bb/bin/$a"; done
tar -C "$WORK/bb" --owner=0 --group=0 --numeric-owner -cf "$WORK/bb.layer.tar" .
make_image_archive "$WORK/bb.tar" "$TEST_IMAGE" '{"Env":["PATH=/bin"],"Cmd":["/bin/sh"]}' "$WORK/bb.layer.tar"
docker load -i "$WORK/bb.tar" >/dev/null

# ---- 2. cluster
t0=$SECONDS
"$KIND" delete cluster --name "$CLUSTER" >/dev/null 2>&1 || true
"$KIND" create cluster --name "$CLUSTER" --config "$REPO/deploy/kind/kind-config.yaml" --image "$NODE_IMAGE" --retain
log "kind create cluster: $((SECONDS - t0))s"
KIND=$KIND KUBECTL=$KUBECTL bash "$REPO/deploy/kind/cni-setup.sh" "$CLUSTER"
check "nodes Ready" k wait --for=condition=Ready node --all --timeout=180s
log "nodes Ready at $((SECONDS - t0))s after create"
k get nodes -o wide | tee "$WORK/nodes.txt"
check "both nodes run bulkhead" bash -c "[[ \$(grep -c 'bulkhead://' '$WORK/nodes.txt') == 2 ]]"

# ---- 3. workload
t1=$SECONDS
check "kind load docker-image" "$KIND" load docker-image "$TEST_IMAGE" --name "$CLUSTER"
log "kind load docker-image: $((SECONDS - t1))s"
mapfile -t nodes < <("$KIND" get nodes --name "$CLUSTER" | sort)
i=0
for n in "${nodes[@]}"; do
  k apply -f - <<YAML
apiVersion: v1
kind: Pod
metadata: { name: web-$i, labels: { app: kind-e2e } }
spec:
  nodeName: $n
  tolerations: [{ operator: Exists }]
  containers:
    - name: web
      image: $TEST_IMAGE
      imagePullPolicy: Never
      command: ["/bin/sh", "-c", "echo served-by-\$(hostname) > /www/index.html; echo web-$i up; exec httpd -f -p 8080 -h /www"]
YAML
  i=$((i + 1))
done
check "a pod on each node runs" k wait --for=condition=Ready pod -l app=kind-e2e --timeout=120s
k get pods -o wide
ip1=$(k get pod web-1 -o jsonpath='{.status.podIP}')
# nc, not wget: busybox-static 1.35's wget segfaults (on the host too).
check "pod-to-pod across nodes (web-0 → web-1 $ip1)" bash -c "'$KUBECTL' exec web-0 -- sh -c \"printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 $ip1 8080\" | grep -q served-by-web-1"
check "kubectl logs" bash -c "'$KUBECTL' logs web-0 | grep -q 'web-0 up'"
check "kubectl exec" bash -c "[[ \$('$KUBECTL' exec web-1 -- cat /www/index.html) == served-by-web-1 ]]"

# ---- 4. teardown leaves nothing
t1=$SECONDS
"$KIND" delete cluster --name "$CLUSTER"
log "kind delete cluster: $((SECONDS - t1))s"
check "no cluster containers left" bash -c "[[ -z \$(docker ps -aq --filter label=io.x-k8s.kind.cluster=$CLUSTER) ]]"
check "no kind network endpoints left" bash -c "[[ \$(docker network inspect kind -f '{{len .Containers}}' 2>/dev/null || echo 0) == 0 ]]"
log "total $((SECONDS - t_start))s"
echo "kind: $passed passed, $failed failed"
((failed == 0))
