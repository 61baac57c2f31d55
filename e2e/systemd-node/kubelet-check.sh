#!/bin/bash
# e2e/systemd-node/kubelet-check.sh - sourced by check.sh INSIDE the systemd test node when run.sh
# staged a kubelet (/opt/bulkhead/kubelet): a standalone kubelet (no API server: a static pod; an
# apiserver + etcd under TCG would cost minutes) with cgroupDriver: systemd against Bulkhead runs a
# Burstable pod of two containers, one with a 64 MiB memory limit and one without. kubelet sets a
# pod-level limit only when every container declares one, so its pod slice
# (kubepods-burstable-pod<uid>.slice) must keep memory.max "max"; the runtime must not write the
# partial sum of the sandbox resources (64 MiB) into it. Then the manifest goes and the pod must
# go with it. Uses say/ok/bad/expect_eq from check.sh.
KDIR=/var/lib/kubelet-check
mkdir -p "$KDIR/manifests" /var/log/pods
cat > "$KDIR/config.yaml" <<'KCFG'
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
containerRuntimeEndpoint: unix:///run/bulkhead/bulkhead.sock
imageServiceEndpoint: unix:///run/bulkhead/bulkhead.sock
cgroupDriver: systemd
cgroupsPerQOS: true
enforceNodeAllocatable: ["pods"]
failSwapOn: false
staticPodPath: /var/lib/kubelet-check/manifests
authentication: {anonymous: {enabled: true}, webhook: {enabled: false}}
authorization: {mode: AlwaysAllow}
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
# the node VM has 2 GiB and a 3 GiB disk: no eviction or image GC mid-test
evictionHard: {memory.available: "1Mi", nodefs.available: "1%", imagefs.available: "1%", nodefs.inodesFree: "1%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
fileCheckFrequency: 5s
syncFrequency: 10s
runtimeRequestTimeout: 5m
resolvConf: /etc/resolv.conf
KCFG
cat > "$KDIR/manifests/burstable.yaml" <<'POD'
apiVersion: v1
kind: Pod
metadata: {name: burstable, namespace: default}
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: limited
    image: docker.io/library/busybox:latest
    command: ["sleep", "3600"]
    resources: {requests: {memory: 32Mi, cpu: 50m}, limits: {memory: 64Mi, cpu: 200m}}
  - name: unlimited
    image: docker.io/library/busybox:latest
    command: ["sleep", "3600"]
POD
t=$(cut -d' ' -f1 /proc/uptime)
systemd-run --unit=kubelet-check --collect -p Delegate=yes /opt/bulkhead/kubelet --config "$KDIR/config.yaml" \
  --root-dir "$KDIR/root" --hostname-override systemd-node --v=1 >/dev/null || bad "start kubelet"
running=0
for _ in $(seq 1 300); do
  running=$(crictl ps --state Running -q --label io.kubernetes.pod.name=burstable-systemd-node 2>/dev/null | wc -l)
  [ "$running" = 2 ] && break
  systemctl is-active -q kubelet-check || break
  sleep 2
done
expect_eq "kubelet: Burstable pod containers running" "$running" 2
say "kubelet: pod running after $(awk -v t="$t" '{printf "%.0f", $1 - t}' /proc/uptime) s"
kpodid=$(crictl pods -q --label io.kubernetes.pod.name=burstable-systemd-node | head -1)
uid=$(crictl inspectp -o go-template --template '{{index .status.labels "io.kubernetes.pod.uid"}}' "$kpodid" 2>/dev/null)
kslice="kubepods-burstable-pod${uid//-/_}.slice"
kpdir=/sys/fs/cgroup/kubepods.slice/kubepods-burstable.slice/$kslice
say "kubelet pod slice $kslice: memory.max $(cat "$kpdir/memory.max" 2>&1), cpu.max $(cat "$kpdir/cpu.max" 2>&1)"
expect_eq "kubelet pod slice memory.max" "$(cat "$kpdir/memory.max" 2>&1)" max
expect_eq "kubelet pod slice cpu.max quota" "$(cut -d' ' -f1 "$kpdir/cpu.max" 2>&1)" max
# the two container scopes (not conmon's bulkhead-conmon-<id>.scope beside them)
limits=$(for c in $(crictl ps -q --pod "$kpodid"); do cat "$kpdir/bulkhead-$c.scope/memory.max" 2>&1; done | sort | tr '\n' ' ')
expect_eq "kubelet container scopes' memory.max" "$limits" "67108864 max "
rm -f "$KDIR/manifests/burstable.yaml"
left=1
for _ in $(seq 1 150); do
  left=$(crictl pods -q --label io.kubernetes.pod.name=burstable-systemd-node 2>/dev/null | wc -l)
  [ "$left" = 0 ] && [ ! -e "$kpdir" ] && break
  sleep 2
done
expect_eq "kubelet: pod removed after its manifest" "$left" 0
expect_eq "kubelet: pod slice gone" "$(test -e "$kpdir" && echo present || echo gone)" gone
journalctl -u kubelet-check --no-pager -o cat 2>/dev/null | grep -E '^E[0-9]{4}' | grep -v 'Housekeeping took longer' | tail -15 | sed 's/^/[kubelet] /'
systemctl stop kubelet-check 2>/dev/null || true
