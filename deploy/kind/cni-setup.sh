#!/usr/bin/env bash
# deploy/kind/cni-setup.sh CLUSTER: pod networking for a kind cluster created with
# disableDefaultCNI (kindnet is not available offline), from Debian's CNI plugins in the nodes:
# each node gets a bridge conflist for its podCIDR and a route to every other node's podCIDR via
# that node's IP on the kind network. Idempotent; run after `kind create cluster`.
set -euo pipefail
CLUSTER=${1:-bulkhead}
KUBECTL=${KUBECTL:-kubectl}
KIND=${KIND:-kind}
mapfile -t nodes < <("$KIND" get nodes --name "$CLUSTER")
((${#nodes[@]} > 0)) || { echo "cni-setup: cluster $CLUSTER has no nodes" >&2; exit 1; }
declare -A cidr ip
for n in "${nodes[@]}"; do
  for _ in $(seq 1 60); do
    cidr[$n]=$($KUBECTL get node "$n" -o jsonpath='{.spec.podCIDR}' 2>/dev/null || true)
    [[ -n ${cidr[$n]} ]] && break
    sleep 1
  done
  [[ -n ${cidr[$n]} ]] || { echo "cni-setup: node $n has no podCIDR" >&2; exit 1; }
  ip[$n]=$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$n")
done
for n in "${nodes[@]}"; do
  # isGateway: the bridge holds the subnet's .1, the pods' default route, so traffic to other
  # nodes' pods leaves through the node's routes; ipMasq off: pod IPs stay visible across nodes.
  docker exec -i "$n" sh -c 'cat > /etc/cni/net.d/10-kind-bridge.conflist' <<JSON
{
  "cniVersion": "1.0.0",
  "name": "kind-bridge",
  "plugins": [
    { "type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": false, "hairpinMode": true,
      "ipam": { "type": "host-local", "ranges": [[{ "subnet": "${cidr[$n]}" }]], "routes": [{ "dst": "0.0.0.0/0" }] } },
    { "type": "portmap", "capabilities": { "portMappings": true } }
  ]
}
JSON
  # The node's netns inherits the host's ip_forward (0 here): pods of other nodes are routed through it.
  docker exec "$n" sysctl -qw net.ipv4.ip_forward=1
  for m in "${nodes[@]}"; do
    [[ $m == "$n" ]] && continue
    docker exec "$n" ip route replace "${cidr[$m]}" via "${ip[$m]}"
  done
  echo "cni-setup: $n podCIDR ${cidr[$n]} (${ip[$n]})"
done
