#!/usr/bin/env bash
# e2e/kind/run.sh: a 2-node kind v0.33.0 cluster on Bulkhead, offline (optional CI step: run-all.sh
# runs it unless BULKHEAD_E2E_KIND=0; a cold run builds kubeadm & co. and the node image).
#   1. Docker engine (e2e/kind/docker-setup.sh), the node image (deploy/kind/build-node-image.sh,
#      under the shared build lock), a test image built here
#   2. cluster up (e2e/kind/lib/cluster.sh: kind create cluster, pod network, nodes Ready)
#   3. checks: both nodes on bulkhead://; `kind load docker-image`; pods on both RuntimeClasses
#      (runc, microvm) on both nodes; pod-to-pod and Service traffic across nodes; DNS through
#      CoreDNS; kubectl logs/exec/port-forward/attach; a Deployment rolled (env, then image) and
#      scaled; a node's Bulkhead restarted under running pods (same containers, exec works)
#   4. BULKHEAD_KIND_HOOK, when set: a command run against this cluster before it goes (run-all.sh
#      runs the conformance subset so: e2e/conformance/run.sh --cluster), the checks' pods deleted first
#   5. kind delete cluster; no node container, mount or netns left; the `kind` network and dockerd
#      are left alone while another cluster (e.g. the conformance suite's) uses them
# Safe beside another kind cluster on the same engine: only $CLUSTER is created and deleted.
# BULKHEAD_KIND_MICROVM=0 skips the micro-VM pods (default: skipped when the node image has no QEMU).
# The hook (bash -c) sees KUBECONFIG and BULKHEAD_KIND_CLUSTER. Its exit status goes to the file
# BULKHEAD_KIND_HOOK_RC when that is set (the caller counts its results), else it is one more check.
# Prints "kind: N passed, M failed" last; exit status 1 when anything failed.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
CACHE=${BULKHEAD_KIND_CACHE:-/var/cache/bulkhead-tools/kind}
CLUSTER=${BULKHEAD_KIND_CLUSTER:-bhk-e2e}
NODE_IMAGE=${NODE_IMAGE:-bulkhead/kind-node:v1.36.3}
TEST_IMAGE=bulkhead.local/kind-e2e/busybox:e2e
TEST_IMAGE2=bulkhead.local/kind-e2e/busybox:e2e-v2
WORK=$(mktemp -d /tmp/bulkhead-kind-e2e.XXXXXX)
export KUBECONFIG=$WORK/kubeconfig # kind writes ~/.kube/config otherwise
KIND=$CACHE/bin/kind
KUBECTL=$(bash "$REPO/e2e/cluster/build.sh" --print-dir)/kubectl
export KIND KUBECTL
# shellcheck source=e2e/kind/lib/cluster.sh
. "$REPO/e2e/kind/lib/cluster.sh"
passed=0
failed=0
t_start=$SECONDS
declare -a timings=()
log() { printf '[kind-e2e %4ss] %s\n' "$((SECONDS - t_start))" "$*"; }
timing() { timings+=("$1: $2s"); log "$1: $2s"; }
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
# An HTTP GET with busybox nc from inside a pod (busybox-static 1.35's wget segfaults).
get_in() { # pod host port
  k exec "$1" -- sh -c "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 $2 $3"
}
export -f k get_in # for the checks' bash -c

docker_started=no
pf_pid=
cleanup() {
  log "cleanup"
  [[ -n $pf_pid ]] && kill "$pf_pid" 2>/dev/null || true
  bhk_cluster_down "$CLUSTER" || true
  docker rmi -f "$TEST_IMAGE" "$TEST_IMAGE2" >/dev/null 2>&1 || true
  bhk_docker_down "$docker_started" || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# ---- 1. engine and images
docker_started=$(bhk_docker_up)
log "docker engine: $docker_started"
t0=$SECONDS
flock "$CACHE/.build.lock" bash "$REPO/deploy/kind/build-node-image.sh"
timing "node image (build or cached)" $((SECONDS - t0))
# Micro-VM pods where the node image has QEMU (label set by build-node-image.sh; QEMU=0 builds none).
MICROVM=${BULKHEAD_KIND_MICROVM:-$(docker image inspect -f '{{index .Config.Labels "bulkhead.microvm"}}' "$NODE_IMAGE" 2>/dev/null || true)}
[[ $MICROVM == 0 ]] || MICROVM=1
log "microvm pods: $([[ $MICROVM == 1 ]] && echo yes || echo "no (node image without QEMU)")"

# The test image: the host's static busybox, made into a `docker save` archive and loaded into
# the engine, so `kind load docker-image` exercises docker save → ctr shim → bulkhead import.
. "$REPO/deploy/kind/lib/image-archive.sh"
mkdir -p "$WORK/bb/bin" "$WORK/bb/www"
cp /bin/busybox "$WORK/bb/bin/busybox"
for a in sh nc httpd hostname sleep cat echo printf nslookup env; do ln -sf busybox "$WORK/bb/bin/$a"; done
tar -C "$WORK/bb" --owner=0 --group=0 --numeric-owner -cf "$WORK/bb.layer.tar" .
make_image_archive "$WORK/bb.tar" "$TEST_IMAGE" '{"Env":["PATH=/bin"],"Cmd":["/bin/sh"]}' "$WORK/bb.layer.tar"
docker load -i "$WORK/bb.tar" >/dev/null
# A second tag of the same image (the Deployment's image change; kind retags it with `ctr images tag`).
docker tag "$TEST_IMAGE" "$TEST_IMAGE2"

# ---- 2. cluster
t0=$SECONDS
bhk_cluster_up "$CLUSTER" "$NODE_IMAGE" >/dev/null
timing "cluster up (create + CNI + nodes Ready)" $((SECONDS - t0))
mapfile -t nodes < <("$KIND" get nodes --name "$CLUSTER" | sort)
# Host-side traces of the nodes, to check after `kind delete cluster`.
for n in "${nodes[@]}"; do
  docker inspect -f '{{.Id}} {{.NetworkSettings.SandboxKey}}' "$n" >>"$WORK/node-traces.txt"
done
check "nodes Ready" k wait --for=condition=Ready node --all --timeout=60s
k get nodes -o wide | tee "$WORK/nodes.txt"
check "both nodes run bulkhead" bash -c "[[ \$(grep -c 'bulkhead://' '$WORK/nodes.txt') == 2 ]]"
for n in "${nodes[@]}"; do # the node's own view: every configured handler usable (QEMU, guest image, accelerator)
  check "bulkhead status on $n: handlers ✓" bash -c "docker exec $n bulkhead status >'$WORK/status.out' 2>&1; sed -n '/^Handlers/,/^CNI/p' '$WORK/status.out'
    grep -q '✓ runc' '$WORK/status.out' && { [[ $MICROVM == 0 ]] || grep -q '✓ microvm' '$WORK/status.out'; }"
done

# ---- 3. workload
t1=$SECONDS
check "kind load docker-image" "$KIND" load docker-image "$TEST_IMAGE" --name "$CLUSTER"
timing "kind load docker-image" $((SECONDS - t1))
k apply -f "$REPO/deploy/runtimeclasses.yaml" >/dev/null

pod() { # name node runtimeClass label command
  k apply -f - <<YAML
apiVersion: v1
kind: Pod
metadata: { name: $1, labels: { app: $4, pod: $1 } }
spec:
  nodeName: $2
  runtimeClassName: $3
  tolerations: [{ operator: Exists }]
  terminationGracePeriodSeconds: 2
  containers:
    - name: c
      image: $TEST_IMAGE
      imagePullPolicy: Never
      command: ["/bin/sh", "-c", "$5"]
YAML
}
export -f pod
WEB='echo served-by-$(hostname) > /www/index.html; echo $(hostname) up; exec httpd -f -p 8080 -h /www'
t_vm=$SECONDS
if [[ $MICROVM == 1 ]]; then # first: they take longest (TCG boot)
  for i in 0 1; do pod "vm-$i" "${nodes[i]}" microvm kind-e2e-vm "$WEB" >/dev/null; done
fi
for i in 0 1; do pod "web-$i" "${nodes[i]}" runc kind-e2e "$WEB" >/dev/null; done
# attach: a reader of its stdin (stdin: true), which echoes what it reads to its log.
k apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Pod
metadata: { name: attach, labels: { app: kind-e2e-attach } }
spec:
  nodeName: ${nodes[1]}
  tolerations: [{ operator: Exists }]
  terminationGracePeriodSeconds: 2
  containers:
    - name: c
      image: $TEST_IMAGE
      imagePullPolicy: Never
      stdin: true
      command: ["/bin/sh", "-c", "echo ready; while read l; do echo \"got:\$l\"; done; echo eof; sleep 3600"]
YAML
check "runc pods on both nodes run" k wait --for=condition=Ready pod -l app=kind-e2e --timeout=120s
k get pods -o wide
ip1=$(k get pod web-1 -o jsonpath='{.status.podIP}')
check "pod-to-pod across nodes (web-0 → web-1 $ip1)" bash -c "get_in web-0 $ip1 8080 | grep -q served-by-web-1"
check "kubectl logs" bash -c "'$KUBECTL' logs web-0 | grep -q 'web-0 up'"
check "kubectl exec" bash -c "[[ \$('$KUBECTL' exec web-1 -- cat /www/index.html) == served-by-web-1 ]]"

# Service: only web-1 behind it, reached from web-0 on the other node, by ClusterIP and by its DNS name.
k apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Service
metadata: { name: web1 }
spec:
  selector: { pod: web-1 }
  ports: [{ port: 80, targetPort: 8080 }]
YAML
svc_ip=$(k get svc web1 -o jsonpath='{.spec.clusterIP}')
check "Service across nodes (web-0 → web1 $svc_ip:80 → web-1)" bash -c "
  for _ in \$(seq 1 20); do get_in web-0 $svc_ip 80 | grep -q served-by-web-1 && exit 0; sleep 1; done; exit 1"
check "CoreDNS Ready" k -n kube-system wait --for=condition=Ready pod -l k8s-app=kube-dns --timeout=120s
check "DNS: web1.default.svc.cluster.local → $svc_ip (from web-0)" bash -c "
  for _ in \$(seq 1 20); do '$KUBECTL' exec web-0 -- nslookup web1.default.svc.cluster.local >'$WORK/dns.out' 2>&1 && grep -q '$svc_ip' '$WORK/dns.out' && exit 0; sleep 1; done
  cat '$WORK/dns.out'; exit 1"
check "DNS name → Service traffic (web1.default.svc.cluster.local:80)" bash -c "
  ip=\$('$KUBECTL' exec web-0 -- nslookup web1.default.svc.cluster.local | awk '/^Address/ && !/#53/ {a=\$NF} END {print a}')
  echo \"resolved \$ip\"; get_in web-0 \"\$ip\" 80 | grep -q served-by-web-1"

# port-forward: host 127.0.0.1:<port> → web-1:8080 through the kubelet's streaming to Bulkhead.
pf_port=$((20000 + RANDOM % 10000))
k port-forward pod/web-1 "$pf_port:8080" >"$WORK/pf.log" 2>&1 &
pf_pid=$!
check "kubectl port-forward" bash -c "
  for _ in \$(seq 1 30); do out=\$(curl -fsS --max-time 5 http://127.0.0.1:$pf_port/ 2>/dev/null) && [[ \$out == served-by-web-1 ]] && exit 0; sleep 0.5; done
  cat '$WORK/pf.log'; exit 1"
kill "$pf_pid" 2>/dev/null || true
pf_pid=

check "attach pod runs" k wait --for=condition=Ready pod/attach --timeout=60s
check "kubectl attach (stdin reaches the container)" bash -c "
  (sleep 2; echo hello-attach; sleep 3) | timeout 30 '$KUBECTL' attach -i attach -c c >'$WORK/attach.out' 2>&1 || true
  for _ in \$(seq 1 10); do '$KUBECTL' logs attach | grep -q got:hello-attach && exit 0; sleep 1; done
  cat '$WORK/attach.out'; '$KUBECTL' logs attach; exit 1"

# Deployment: rolled on an env change, then on an image change (a second tag, loaded with kind
# load: the node has the image already, so kind retags it), then scaled up and down.
k apply -f - >/dev/null <<YAML
apiVersion: apps/v1
kind: Deployment
metadata: { name: roll }
spec:
  replicas: 2
  selector: { matchLabels: { app: roll } }
  strategy: { rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } }
  template:
    metadata: { labels: { app: roll } }
    spec:
      tolerations: [{ operator: Exists }]
      terminationGracePeriodSeconds: 2
      containers:
        - name: web
          image: $TEST_IMAGE
          imagePullPolicy: Never
          env: [{ name: VERSION, value: v1 }]
          command: ["/bin/sh", "-c", "echo \$VERSION > /www/index.html; exec httpd -f -p 8080 -h /www"]
          readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 2 }
YAML
roll_versions() { # VERSION N [IMAGE]: the rollout is done, N replicas Ready, each serves VERSION (and runs IMAGE)
  local want=$1 n=$2 p ok=0
  k rollout status deployment/roll --timeout=120s
  for _ in $(seq 1 60); do
    [[ $(k get deployment roll -o jsonpath='{.status.readyReplicas}/{.status.replicas}/{.status.updatedReplicas}') == "$n/$n/$n" ]] && { ok=1; break; }
    sleep 1
  done
  ((ok)) || { k get deployment roll -o wide; return 1; }
  # Pods still terminating (deletionTimestamp set) are the old ones: skip them.
  for p in $(k get pods -l app=roll -o jsonpath='{range .items[*]}{.metadata.name}{" "}{.metadata.deletionTimestamp}{"\n"}{end}' | awk 'NF==1{print $1}'); do
    [[ $(k exec "$p" -- cat /www/index.html) == "$want" ]] || { echo "$p does not serve $want"; return 1; }
    if [[ -n ${3:-} ]]; then # IMAGE: the pod runs it
      [[ $(k get pod "$p" -o jsonpath='{.spec.containers[0].image}') == "$3" ]] || { echo "$p does not run $3"; return 1; }
    fi
  done
}
export -f roll_versions
check "Deployment rolled out (2 × v1)" roll_versions v1 2
k set env deployment/roll VERSION=v2 >/dev/null
check "Deployment rolled on an env change (2 × v2)" roll_versions v2 2
check "kind load docker-image (second tag of a loaded image)" "$KIND" load docker-image "$TEST_IMAGE2" --name "$CLUSTER"
k set image deployment/roll "web=$TEST_IMAGE2" >/dev/null
check "Deployment rolled on an image change" roll_versions v2 2 "$TEST_IMAGE2"
k scale deployment/roll --replicas=4 >/dev/null
check "Deployment scaled up (4, both nodes)" bash -c "roll_versions v2 4 &&
  [[ \$('$KUBECTL' get pods -l app=roll -o jsonpath='{.items[*].spec.nodeName}' | tr ' ' '\n' | sort -u | wc -l) == 2 ]]"
k scale deployment/roll --replicas=1 >/dev/null
check "Deployment scaled down (1)" roll_versions v2 1

# micro-VM pods (started above): logs + exec on each node.
if [[ $MICROVM == 1 ]]; then
  check "microvm pods on both nodes run" k wait --for=condition=Ready pod -l app=kind-e2e-vm --timeout=300s
  timing "microvm pods Ready (2, TCG, since created)" $((SECONDS - t_vm))
  for i in 0 1; do # per pod: creation → Ready, as the API server recorded them
    c=$(k get pod "vm-$i" -o jsonpath='{.metadata.creationTimestamp}')
    r=$(k get pod "vm-$i" -o jsonpath='{.status.conditions[?(@.type=="Ready")].lastTransitionTime}')
    timing "microvm vm-$i created → Ready" $(($(date -d "$r" +%s) - $(date -d "$c" +%s)))
  done
  k get pods -l app=kind-e2e-vm -o wide || true
  for i in 0 1; do
    # Ready says the process was started, not that its first line has come out of the guest yet.
    check "microvm vm-$i: kubectl logs" bash -c "for _ in \$(seq 1 30); do '$KUBECTL' logs vm-$i | grep -q 'vm-$i up' && exit 0; sleep 1; done; exit 1"
    check "microvm vm-$i: kubectl exec (guest kernel)" bash -c "
      out=\$('$KUBECTL' exec vm-$i -- sh -c 'cat /www/index.html; uname -r'); echo \"\$out\"
      [[ \$out == served-by-vm-$i* ]] && [[ \$(sed -n 2p <<<\"\$out\") != \$(docker exec ${nodes[i]} uname -r) ]]"
  done
  # The accelerator the nodes' Bulkhead chose: KVM only where the host's /dev/kvm is real (kind's
  # privileged nodes see it); TCG where it is PVM (stock guest kernels cannot boot) or absent.
  want=kvm
  if [[ -e /sys/module/kvm_pvm ]] || ! grep -qwE 'vmx|svm' /proc/cpuinfo || [[ ! -c /dev/kvm ]]; then want=tcg; fi
  for i in 0 1; do
    check "microvm vm-$i: QEMU runs with -accel $want" bash -c "docker exec ${nodes[i]} pgrep -a qemu-system | tee /dev/stderr | grep -q -- '-accel $want'"
  done
  vm1_ip=$(k get pod vm-1 -o jsonpath='{.status.podIP}')
  check "pod-to-pod runc → microvm across nodes (web-0 → vm-1 $vm1_ip)" bash -c "get_in web-0 $vm1_ip 8080 | grep -q served-by-vm-1"
fi

# A node's Bulkhead restarted under running pods: every pod on the worker keeps its containers
# (same ids, same restartCount), and exec, logs and traffic still work afterwards.
worker=${nodes[1]}
snapshot() { k get pods --field-selector="spec.nodeName=$worker,status.phase=Running" -o jsonpath='{range .items[*]}{.metadata.name} {.status.containerStatuses[0].containerID} {.status.containerStatuses[0].restartCount}{"\n"}{end}' | sort; }
snapshot >"$WORK/before.txt"
cat "$WORK/before.txt"
t1=$SECONDS
check "systemctl restart bulkhead on $worker" bash -c "docker exec $worker systemctl restart bulkhead &&
  for _ in \$(seq 1 60); do docker exec $worker crictl info >/dev/null 2>&1 && exit 0; sleep 1; done; exit 1"
timing "bulkhead restart (CRI answering again)" $((SECONDS - t1))
sleep 20 # a few PLEG relists: a pod the restarted daemon lost would show up as restarted/recreated
snapshot >"$WORK/after.txt"
check "pods survive the restart (same container ids and restartCount)" bash -c "diff '$WORK/before.txt' '$WORK/after.txt' && [[ -s '$WORK/before.txt' ]]"
check "kubectl exec after the restart (runc)" bash -c "[[ \$('$KUBECTL' exec web-1 -- cat /www/index.html) == served-by-web-1 ]]"
check "kubectl logs after the restart" bash -c "'$KUBECTL' logs web-1 | grep -q 'web-1 up'"
check "traffic after the restart (web-0 → web1 Service)" bash -c "get_in web-0 $svc_ip 80 | grep -q served-by-web-1"
if [[ $MICROVM == 1 ]]; then
  check "kubectl exec after the restart (microvm vm-1)" bash -c "'$KUBECTL' exec vm-1 -- cat /www/index.html | grep -q served-by-vm-1"
fi
check "new pod on the restarted node" bash -c "TEST_IMAGE='$TEST_IMAGE'
  pod late '$worker' runc kind-e2e-late 'echo late up; exec sleep 3600' && '$KUBECTL' wait --for=condition=Ready pod/late --timeout=60s"

# ---- 4. the hook, on this cluster
if [[ -n ${BULKHEAD_KIND_HOOK:-} ]]; then
  # The checks' pods go first, not waited for: idle micro-VMs under TCG still take CPU (2 cores).
  k delete deployment --all --wait=false >/dev/null 2>&1 || true
  k delete pod --all --wait=false >/dev/null 2>&1 || true
  t1=$SECONDS
  log "hook: $BULKHEAD_KIND_HOOK"
  hook_rc=0
  BULKHEAD_KIND_CLUSTER=$CLUSTER bash -c "$BULKHEAD_KIND_HOOK" || hook_rc=$?
  timing "hook (exit $hook_rc)" $((SECONDS - t1))
  if [[ -n ${BULKHEAD_KIND_HOOK_RC:-} ]]; then
    echo "$hook_rc" >"$BULKHEAD_KIND_HOOK_RC"
  else
    check "hook exits 0" test "$hook_rc" = 0
  fi
fi

# ---- 5. teardown leaves nothing
t1=$SECONDS
"$KIND" delete cluster --name "$CLUSTER"
timing "kind delete cluster" $((SECONDS - t1))
check "no cluster containers left" bash -c "[[ -z \$(docker ps -aq --filter label=io.x-k8s.kind.cluster=$CLUSTER) ]]"
# dockerd unmounts a deleted container's netns at once but removes the (empty) file in its netns
# GC, every 60 s (libnetwork's osl): wait for that rather than call it a leak.
check "no mounts or netns of the nodes left on the host" bash -c "
  while read -r id sbox; do
    if grep -q \"\$id\" /proc/self/mountinfo; then echo \"mount of \$id left\"; exit 1; fi
    if [[ -n \$sbox ]] && grep -q \"\$sbox\" /proc/self/mountinfo; then echo \"netns \$sbox still mounted\"; exit 1; fi
  done <'$WORK/node-traces.txt'
  if grep -q '$CLUSTER' /proc/self/mountinfo; then grep '$CLUSTER' /proc/self/mountinfo; exit 1; fi
  for _ in \$(seq 1 80); do
    left=\$(awk '{print \$2}' '$WORK/node-traces.txt' | while read -r f; do [[ -e \$f ]] && echo \$f; done)
    [[ -z \$left ]] && exit 0; sleep 1
  done
  echo \"netns files left after 80 s: \$left\"; exit 1"
log "total $((SECONDS - t_start))s"
printf '  %s\n' "${timings[@]}"
echo "kind: $passed passed, $failed failed"
((failed == 0))
