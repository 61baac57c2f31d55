# Shared settings of the one-node loopback cluster (source it). Everything can be overridden
# from the environment; the defaults avoid the usual ports so a real cluster on the same host
# is never touched.
CLUSTER_REPO=${CLUSTER_REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
K8S_VERSION=${K8S_VERSION:-v1.36.3}
K8S_BIN=${K8S_BIN:-${BULKHEAD_TOOLS_CACHE:-/var/cache/bulkhead-tools}/k8s-$K8S_VERSION}

# kubectl: the one build.sh made at the cluster's version, else whatever is on PATH.
if [ -z "${KUBECTL:-}" ]; then
  if [ -x "$K8S_BIN/kubectl" ]; then KUBECTL=$K8S_BIN/kubectl; else KUBECTL=kubectl; fi
fi
export KUBECTL

# Everything up.sh creates lives below CLUSTER_DIR (certs, kubeconfigs, etcd data, kubelet
# root dir, pid files); logs go to CLUSTER_LOGS, which down.sh keeps for CI artifacts.
CLUSTER_DIR=${CLUSTER_DIR:-/var/lib/bulkhead-kcluster}
CLUSTER_LOGS=${CLUSTER_LOGS:-$CLUSTER_REPO/.e2e-work/cluster-logs}
# Pod cgroups go below this cgroup (cgroupfs driver); up.sh creates it, down.sh removes it.
CLUSTER_CGROUP_ROOT=${CLUSTER_CGROUP_ROOT:-/bulkhead-kcluster}

NODE_NAME=${NODE_NAME:-bulkhead-e2e-node}
ETCD_CLIENT_PORT=${ETCD_CLIENT_PORT:-23791}
ETCD_PEER_PORT=${ETCD_PEER_PORT:-23801}
APISERVER_PORT=${APISERVER_PORT:-16443}
KUBELET_PORT=${KUBELET_PORT:-10250}
KUBELET_HEALTHZ_PORT=${KUBELET_HEALTHZ_PORT:-10248}
SERVICE_CIDR=${SERVICE_CIDR:-10.96.0.0/16}
CLUSTER_DNS_DOMAIN=${CLUSTER_DNS_DOMAIN:-cluster.local}

# CRI endpoint the kubelet uses (the runtime is started by the caller, see e2e/kubelet/runtime.sh).
CRI_ENDPOINT=${CRI_ENDPOINT:-unix:///run/bulkhead-kubelet-e2e/bulkhead.sock}

KUBECONFIG_ADMIN=$CLUSTER_DIR/admin.kubeconfig
PKI=$CLUSTER_DIR/pki
PIDS=$CLUSTER_DIR/pids
export CLUSTER_DIR CLUSTER_LOGS KUBECONFIG_ADMIN NODE_NAME CRI_ENDPOINT APISERVER_PORT K8S_BIN

clog() { printf '[cluster] %s\n' "$*"; }
cdie() { printf '[cluster] ERROR: %s\n' "$*" >&2; exit 1; }

# pid_alive NAME: the recorded process is alive and still runs our binary.
pid_alive() {
  local f=$PIDS/$1.pid pid
  [ -s "$f" ] || return 1
  pid=$(cat "$f")
  kill -0 "$pid" 2>/dev/null && tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$CLUSTER_DIR"
}
