#!/usr/bin/env bash
# Tears down what up.sh started and leaves nothing behind:
#   1. deletes every pod through the API (the kubelet stops them via the runtime) and waits,
#   2. stops kubelet, kube-apiserver, etcd (only the pids up.sh recorded; SIGKILL after 20 s),
#   3. removes any pod sandbox still known to the runtime at $CRI_ENDPOINT (crictl, if present),
#   4. unmounts whatever is left below $CLUSTER_DIR (kubelet volumes), removes the pod cgroups
#      below $CLUSTER_CGROUP_ROOT and then $CLUSTER_DIR itself. Logs in $CLUSTER_LOGS are kept.
# Safe to run repeatedly and after a half-finished up.sh.
set -uo pipefail
. "$(dirname "$0")/env.sh"
[ "$(id -u)" = 0 ] || cdie "run as root"
CRICTL=${CRICTL:-$(command -v crictl || echo /var/cache/bulkhead-tools/v1.36.0/crictl)}

kc() { "$KUBECTL" --kubeconfig "$KUBECONFIG_ADMIN" --request-timeout 10s "$@"; }

if pid_alive kube-apiserver && pid_alive kubelet; then
  clog "deleting all pods"
  kc delete pods --all --all-namespaces --wait=false --grace-period="${DOWN_GRACE:-5}" >/dev/null 2>&1 || true
  for _ in $(seq 1 60); do
    [ -z "$(kc get pods -A -o name 2>/dev/null)" ] && break
    sleep 1
  done
  left=$(kc get pods -A -o name 2>/dev/null | wc -l)
  [ "$left" = 0 ] || clog "$left pods still present after 60s; removing their sandboxes with crictl"
fi

stop() { # NAME
  pid_alive "$1" || { rm -f "$PIDS/$1.pid"; return 0; }
  local pid; pid=$(cat "$PIDS/$1.pid")
  kill -TERM "$pid" 2>/dev/null
  for _ in $(seq 1 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then clog "$1 ignored SIGTERM: SIGKILL"; kill -KILL "$pid" 2>/dev/null; sleep 0.2; fi
  rm -f "$PIDS/$1.pid"
  clog "$1 stopped (pid $pid)"
}
stop kubelet
stop kube-apiserver
stop etcd

# Sandboxes the kubelet did not get to remove (it was stopped first, or a test crashed).
if [ -x "$CRICTL" ] && [ -S "${CRI_ENDPOINT#unix://}" ]; then
  cri() { "$CRICTL" --runtime-endpoint "$CRI_ENDPOINT" --image-endpoint "$CRI_ENDPOINT" --timeout 30s "$@"; }
  for id in $(cri pods -q 2>/dev/null); do
    cri stopp "$id" >/dev/null 2>&1; cri rmp "$id" >/dev/null 2>&1 && clog "removed leftover sandbox $id"
  done
fi

# Mounts below the cluster dir (kubelet's tmpfs/bind volume mounts), deepest first.
if [ -d "$CLUSTER_DIR" ]; then
  awk -v d="$CLUSTER_DIR/" 'index($5 "/", d) == 1 {print $5}' /proc/self/mountinfo | sort -r | while read -r m; do
    if umount "$m" 2>/dev/null || umount -l "$m"; then clog "unmounted $m"; fi
  done
fi

# Pod cgroups (kubepods/...) below our cgroup root, deepest first, in every v1 hierarchy.
while read -r _ mnt fstype _; do
  [ "$fstype" = cgroup ] || [ "$fstype" = cgroup2 ] || continue
  [ -d "$mnt$CLUSTER_CGROUP_ROOT" ] || continue
  find "$mnt$CLUSTER_CGROUP_ROOT" -depth -type d -exec rmdir {} \; 2>/dev/null
  [ -d "$mnt$CLUSTER_CGROUP_ROOT" ] && clog "WARNING: $mnt$CLUSTER_CGROUP_ROOT not removed (processes left?)"
done < /proc/mounts

# The kubelet's /var/log/containers symlinks into our pod log dir.
if [ -d /var/log/containers ]; then
  find /var/log/containers -maxdepth 1 -type l -lname "$CLUSTER_DIR/*" -delete
  [ -e "$CLUSTER_DIR/created-var-log-containers" ] && rmdir /var/log/containers 2>/dev/null
fi
rm -rf "$CLUSTER_DIR"
clog "down"
