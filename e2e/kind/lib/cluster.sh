#!/usr/bin/env bash
# e2e/kind/lib/cluster.sh: bring a kind cluster on Bulkhead up and down, safely beside other
# clusters on the same Docker engine (e2e/kind/run.sh and the conformance suite share it).
#
# Sourced (functions) or run (subcommands):
#   cluster.sh docker-up                 → prints "started" or "reused" (e2e/kind/docker-setup.sh)
#   cluster.sh up NAME IMAGE [CONFIG]    → kind create cluster + pod network (deploy/kind/cni-setup.sh)
#                                          + nodes Ready; prints the kubeconfig path ($KUBECONFIG, or
#                                          $BULKHEAD_KIND_CACHE/NAME.kubeconfig when unset)
#   cluster.sh down NAME                 → kind delete cluster NAME; the `kind` network is removed
#                                          only when no container is attached to it any more
#   cluster.sh docker-down STARTED       → stops dockerd only if STARTED is "started" (this caller
#                                          started it), no container (kind node of any cluster or
#                                          other) exists and no node image build holds the build lock
# Never touches another cluster's containers; never removes the network or stops the engine
# while something else uses them.
set -euo pipefail
_BHK_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BHK_REPO=${BHK_REPO:-$(cd "$_BHK_LIB/../../.." && pwd)}
BHK_CACHE=${BULKHEAD_KIND_CACHE:-/var/cache/bulkhead-tools/kind}
BHK_KIND=${KIND:-$BHK_CACHE/bin/kind}
BHK_DOCKER_STATE=${BULKHEAD_DOCKER_STATE:-/run/bulkhead-kind-dockerd}

_bhk_log() { printf '[kind-cluster] %s\n' "$*" >&2; }
_bhk_kubectl() {
  if [[ -n ${KUBECTL:-} ]]; then echo "$KUBECTL"; return; fi
  local d
  d=$(bash "$BHK_REPO/e2e/cluster/build.sh" --print-dir 2>/dev/null || true)
  if [[ -x $d/kubectl ]]; then echo "$d/kubectl"; else command -v kubectl; fi
}

bhk_docker_up() {
  bash "$BHK_REPO/e2e/kind/docker-setup.sh"
}

bhk_cluster_up() { # NAME IMAGE [CONFIG]
  local name=$1 image=$2 config=${3:-$BHK_REPO/deploy/kind/kind-config.yaml} kc kubectl t0=$SECONDS
  kc=${KUBECONFIG:-$BHK_CACHE/$name.kubeconfig}
  kubectl=$(_bhk_kubectl)
  # A cluster of this name left behind by an earlier run: only ours, by name.
  if "$BHK_KIND" get clusters 2>/dev/null | grep -qx "$name"; then
    _bhk_log "deleting the existing cluster $name"
    "$BHK_KIND" delete cluster --name "$name" >&2
  fi
  KUBECONFIG=$kc "$BHK_KIND" create cluster --name "$name" --config "$config" --image "$image" --retain >&2
  _bhk_log "kind create cluster $name: $((SECONDS - t0))s"
  KUBECONFIG=$kc KIND=$BHK_KIND KUBECTL=$kubectl bash "$BHK_REPO/deploy/kind/cni-setup.sh" "$name" >&2
  KUBECONFIG=$kc "$kubectl" wait --for=condition=Ready node --all --timeout=180s >&2
  _bhk_log "cluster $name: nodes Ready $((SECONDS - t0))s after create"
  echo "$kc"
}

bhk_cluster_down() { # NAME
  local name=$1 n
  "$BHK_KIND" delete cluster --name "$name" >&2 || true
  # kind creates the network and never removes it; another cluster (or anything) may still use it.
  if docker network inspect kind >/dev/null 2>&1; then
    n=$(docker network inspect kind -f '{{len .Containers}}' 2>/dev/null || echo 1)
    if [[ $n == 0 ]]; then
      docker network rm kind >/dev/null 2>&1 || true
    else
      _bhk_log "network kind kept: $n container(s) still attached"
    fi
  fi
}

bhk_docker_down() { # STARTED ("started" when the caller's docker-up started dockerd)
  local started=${1:-} others pid
  [[ $started == started ]] || return 0
  others=$(docker ps -aq 2>/dev/null | wc -l)
  if ((others > 0)); then
    _bhk_log "dockerd kept running: $others container(s) exist ($(docker ps -a --format '{{.Names}}' | tr '\n' ' '))"
    return 0
  fi
  # A node image build (another checkout's, under the shared lock) imports into this engine.
  if [[ -e $BHK_CACHE/.build.lock ]] && ! flock -n "$BHK_CACHE/.build.lock" true; then
    _bhk_log "dockerd kept running: a node image build holds $BHK_CACHE/.build.lock"
    return 0
  fi
  pid=$(cat "$BHK_DOCKER_STATE/dockerd.pid" 2>/dev/null || true)
  [[ -n $pid ]] || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do docker info >/dev/null 2>&1 || break; sleep 0.2; done
  _bhk_log "dockerd stopped (pid $pid)"
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  cmd=${1:-}
  shift || true
  case $cmd in
    docker-up) bhk_docker_up ;;
    up) bhk_cluster_up "$@" ;;
    down) bhk_cluster_down "$@" ;;
    docker-down) bhk_docker_down "$@" ;;
    *) echo "usage: $0 docker-up | up NAME IMAGE [CONFIG] | down NAME | docker-down started|reused" >&2; exit 2 ;;
  esac
fi
