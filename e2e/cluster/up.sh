#!/usr/bin/env bash
# Brings up a one-node Kubernetes control plane on loopback, as root:
#   etcd (HTTP on 127.0.0.1), kube-apiserver (own CA and certs, Node+RBAC authorization),
#   kubelet (cgroupfs, cgroup v1 allowed, no swap check, CRI endpoint $CRI_ENDPOINT).
# No scheduler and no controller manager: tests set spec.nodeName and create what the missing
# controllers would (the "default" ServiceAccount); see e2e/cluster/README.md.
# The CRI runtime must already be serving $CRI_ENDPOINT. Waits until the node is Ready.
# Prints the admin kubeconfig path on success. Undo with down.sh (also after a failed up.sh).
set -euo pipefail
. "$(dirname "$0")/env.sh"
. "$(dirname "$0")/../lib/await-exec.sh"
[ "$(id -u)" = 0 ] || cdie "run as root"
for b in etcd kube-apiserver kubelet; do [ -x "$K8S_BIN/$b" ] || cdie "$K8S_BIN/$b missing: run e2e/cluster/build.sh"; done
command -v openssl >/dev/null || cdie "openssl is required"
UP_TIMEOUT=${UP_TIMEOUT:-180}

mkdir -p "$CLUSTER_DIR" "$PKI" "$PIDS" "$CLUSTER_LOGS" "$CLUSTER_DIR/etcd" "$CLUSTER_DIR/kubelet"
chmod 0700 "$CLUSTER_DIR"

# ------------------------------------------------------------------ certificates
# sign NAME SUBJECT [SANS]: key + cert signed by our CA (client certs without SANS).
sign() {
  local name=$1 subj=$2 sans=${3:-} ext=$PKI/$1.ext
  [ -s "$PKI/$name.crt" ] && return 0
  openssl genrsa -out "$PKI/$name.key" 2048 2>/dev/null
  openssl req -new -key "$PKI/$name.key" -subj "$subj" -out "$PKI/$name.csr" 2>/dev/null
  if [ -n "$sans" ]; then
    printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=%s\n' "$sans" > "$ext"
  else
    printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n' > "$ext"
  fi
  openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
    -days 7 -sha256 -extfile "$ext" -out "$PKI/$name.crt" 2>/dev/null
  rm -f "$PKI/$name.csr" "$ext"
}
if [ ! -s "$PKI/ca.crt" ]; then
  clog "generating certificates in $PKI"
  openssl genrsa -out "$PKI/ca.key" 2048 2>/dev/null
  openssl req -x509 -new -key "$PKI/ca.key" -subj "/CN=bulkhead-e2e-ca" -days 7 -sha256 \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
    -out "$PKI/ca.crt" 2>/dev/null
fi
svc_ip=$(awk -F'[./]' '{print $1"."$2"."$3"."$4+1}' <<<"$SERVICE_CIDR")   # first service IP (kubernetes.default)
sign apiserver "/CN=kube-apiserver" \
  "IP:127.0.0.1,IP:$svc_ip,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.$CLUSTER_DNS_DOMAIN"
sign apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client"
sign admin "/O=system:masters/CN=kubernetes-admin"
sign kubelet-client "/O=system:nodes/CN=system:node:$NODE_NAME"
if [ ! -s "$PKI/sa.key" ]; then
  openssl genrsa -out "$PKI/sa.key" 2048 2>/dev/null
  openssl rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
fi

kubeconfig() { # FILE USER CERTNAME
  cat > "$1" <<KC
apiVersion: v1
kind: Config
clusters:
- name: bulkhead-e2e
  cluster:
    server: https://127.0.0.1:$APISERVER_PORT
    certificate-authority: $PKI/ca.crt
users:
- name: $2
  user:
    client-certificate: $PKI/$3.crt
    client-key: $PKI/$3.key
contexts:
- name: bulkhead-e2e
  context: {cluster: bulkhead-e2e, user: $2}
current-context: bulkhead-e2e
KC
}
kubeconfig "$KUBECONFIG_ADMIN" kubernetes-admin admin
kubeconfig "$CLUSTER_DIR/kubelet.kubeconfig" "system:node:$NODE_NAME" kubelet-client

# start NAME CMD...: detached (own session), log in $CLUSTER_LOGS/NAME.log, pid in $PIDS.
start() {
  local name=$1; shift
  if pid_alive "$name"; then clog "$name already running (pid $(cat "$PIDS/$name.pid"))"; return 0; fi
  printf '\n===== %s start %s =====\n' "$name" "$(date -u +%FT%TZ)" >> "$CLUSTER_LOGS/$name.log"
  setsid "$@" >>"$CLUSTER_LOGS/$name.log" 2>&1 </dev/null &
  local pid=$!
  echo "$pid" > "$PIDS/$name.pid"
  await_exec "$pid"
  clog "$name started (pid $pid, log $CLUSTER_LOGS/$name.log)"
}
# wait_for NAME CMD...: until CMD succeeds; fails early when NAME's process died.
wait_for() {
  local name=$1 deadline=$((SECONDS + UP_TIMEOUT)); shift
  until "$@" >/dev/null 2>&1; do
    pid_alive "$name" || { tail -n 40 "$CLUSTER_LOGS/$name.log" >&2; cdie "$name exited"; }
    [ $SECONDS -lt $deadline ] || { tail -n 40 "$CLUSTER_LOGS/$name.log" >&2; cdie "$name not ready after ${UP_TIMEOUT}s"; }
    sleep 0.5
  done
}

# ------------------------------------------------------------------ etcd
start etcd "$K8S_BIN/etcd" --name bulkhead-e2e --data-dir "$CLUSTER_DIR/etcd" \
  --listen-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT" \
  --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster "bulkhead-e2e=http://127.0.0.1:$ETCD_PEER_PORT" --listen-metrics-urls "" \
  --quota-backend-bytes 1073741824 --log-level warn
wait_for etcd curl -fsS "http://127.0.0.1:$ETCD_CLIENT_PORT/health"

# ------------------------------------------------------------------ kube-apiserver
# --endpoint-reconciler-type=none: the advertise address is loopback, which EndpointSlices
# reject; nothing in the tests uses the kubernetes Service.
start kube-apiserver "$K8S_BIN/kube-apiserver" \
  --etcd-servers "http://127.0.0.1:$ETCD_CLIENT_PORT" \
  --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$APISERVER_PORT" \
  --endpoint-reconciler-type none \
  --cert-dir "$PKI" --tls-cert-file "$PKI/apiserver.crt" --tls-private-key-file "$PKI/apiserver.key" \
  --client-ca-file "$PKI/ca.crt" \
  --kubelet-client-certificate "$PKI/apiserver-kubelet-client.crt" --kubelet-client-key "$PKI/apiserver-kubelet-client.key" \
  --kubelet-preferred-address-types InternalIP,Hostname \
  --service-account-issuer "https://kubernetes.default.svc.$CLUSTER_DNS_DOMAIN" \
  --service-account-key-file "$PKI/sa.pub" --service-account-signing-key-file "$PKI/sa.key" \
  --service-cluster-ip-range "$SERVICE_CIDR" \
  --authorization-mode Node,RBAC --enable-admission-plugins NodeRestriction \
  --allow-privileged=true --profiling=false --v=1
wait_for kube-apiserver curl -fsS --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" \
  "https://127.0.0.1:$APISERVER_PORT/readyz"

# ------------------------------------------------------------------ kubelet
# Pod cgroups live below $CLUSTER_CGROUP_ROOT in every mounted v1 hierarchy (kubelet insists
# that cgroupRoot exists); cpuset needs its cpus/mems copied from the parent before use.
while read -r _ mnt fstype _; do
  [ "$fstype" = cgroup ] || continue
  d=$mnt$CLUSTER_CGROUP_ROOT
  mkdir -p "$d"
  if [ -f "$mnt/cpuset.cpus" ]; then
    [ -n "$(cat "$d/cpuset.cpus")" ] || cat "$mnt/cpuset.cpus" > "$d/cpuset.cpus"
    [ -n "$(cat "$d/cpuset.mems")" ] || cat "$mnt/cpuset.mems" > "$d/cpuset.mems"
  fi
done < /proc/mounts

# The kubelet always symlinks container logs into /var/log/containers: remember whether that
# directory was ours so down.sh can remove it again.
[ -d /var/log/containers ] || { mkdir -p /var/log/containers && touch "$CLUSTER_DIR/created-var-log-containers"; }

cat > "$CLUSTER_DIR/kubelet-config.yaml" <<KCFG
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
containerRuntimeEndpoint: $CRI_ENDPOINT
imageServiceEndpoint: $CRI_ENDPOINT
# No systemd on these machines; cgroup v1 (hybrid) is in maintenance mode upstream and
# refused unless failCgroupV1 is false.
cgroupDriver: cgroupfs
failCgroupV1: false
cgroupsPerQOS: true
cgroupRoot: $CLUSTER_CGROUP_ROOT
enforceNodeAllocatable: ["pods"]
failSwapOn: false
# Root lacks CAP_SYS_RESOURCE here: a negative oom_score_adj for the kubelet itself fails.
oomScoreAdj: 0
address: 0.0.0.0
port: $KUBELET_PORT
healthzBindAddress: 127.0.0.1
healthzPort: $KUBELET_HEALTHZ_PORT
readOnlyPort: 0
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $PKI/ca.crt}
authorization:
  mode: Webhook
clusterDomain: $CLUSTER_DNS_DOMAIN
registerNode: true
# The disk and memory are shared with other jobs on CI machines: don't let their usage evict
# the test pods or garbage-collect images mid-test.
evictionHard: {memory.available: "1Mi", nodefs.available: "1%", imagefs.available: "1%", nodefs.inodesFree: "1%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
syncFrequency: 10s
nodeStatusReportFrequency: 10s
serializeImagePulls: false
runtimeRequestTimeout: 2m
resolvConf: /etc/resolv.conf
# Container log files (the runtime writes them where the kubelet says): inside CLUSTER_DIR so
# down.sh removes them.
podLogsDir: $CLUSTER_DIR/pod-logs
KCFG
start kubelet "$K8S_BIN/kubelet" --config "$CLUSTER_DIR/kubelet-config.yaml" \
  --kubeconfig "$CLUSTER_DIR/kubelet.kubeconfig" --root-dir "$CLUSTER_DIR/kubelet" \
  --hostname-override "$NODE_NAME" --v="${KUBELET_VERBOSITY:-2}"

kc() { "$KUBECTL" --kubeconfig "$KUBECONFIG_ADMIN" "$@"; }
node_ready() { [ "$(kc get node "$NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" = True ]; }
wait_for kubelet node_ready
clog "node $NODE_NAME Ready ($(kc get node "$NODE_NAME" -o jsonpath='{.status.nodeInfo.containerRuntimeVersion} {.status.nodeInfo.kubeletVersion}'))"
echo "$KUBECONFIG_ADMIN"
