#!/usr/bin/env bash
# deploy/kind/build-node-image.sh: a kind node image whose CRI runtime is Bulkhead, built offline
# (Debian apt + the Go module proxy; no image registry, no kindest/node base).
#
#   1. tools: kubeadm/kubelet/kubectl and the control-plane binaries (e2e/cluster/build.sh --kind),
#      coredns and kind from the Go module proxy
#   2. base: debootstrap minbase bookworm + systemd + what kind's node contract and Bulkhead need
#      (cached by package list)
#   3. node rootfs: kind v0.33.0's base-image files (entrypoint, kubelet units, /kind) from its Go
#      module, /kind/version, Bulkhead installed as deploy/install.sh lays it out, running as a
#      systemd service the kubelet starts after; ctr/containerd shims for `kind load`
#   4. control-plane images (kube-apiserver, kube-controller-manager, kube-scheduler, kube-proxy,
#      etcd, coredns, pause) as `docker save`-style archives: the Debian base as the shared bottom
#      layer (glibc, iptables for kube-proxy) plus one layer with the binary
#   5. preload: a bulkheadd on this host with its root in the node's /var/lib/bulkhead imports the
#      archives through `bulkhead images import` (the same checks as a pull)
#   6. `docker import` of the rootfs as $NODE_IMAGE (skipped with --rootfs-only, or without an
#      engine: the rootfs tarball stays in the cache)
# Micro-VM pods (QEMU=1, the default; QEMU=0 leaves them out): the node's rootfs is the base plus
# Debian's qemu-system-x86 (QEMU 7.2 + its virtiofsd; installed with apt in a chroot, cached), and
# the guest image deploy/guest/build-guest.sh builds on this host (cached under $GUEST_ROOT) is
# copied to /usr/local/lib/bulkhead/guest-image, the microvm handler's guest_image.
# Everything is cached under $BULKHEAD_KIND_CACHE (default /var/cache/bulkhead-tools/kind).
# Usage: deploy/kind/build-node-image.sh [--rootfs-only | --base-only]
set -euo pipefail

REPO=$(cd "$(dirname "$0")/../.." && pwd)
K8S_VERSION=${K8S_VERSION:-v1.36.3}
KIND_VERSION=v0.33.0
# kubeadm v1.36's constants: the images `kubeadm init` would otherwise pull.
COREDNS_VERSION=v1.14.2
ETCD_TAG=3.6.8-0
PAUSE_TAG=3.10.2
CACHE=${BULKHEAD_KIND_CACHE:-/var/cache/bulkhead-tools/kind}
NODE_IMAGE=${NODE_IMAGE:-bulkhead/kind-node:$K8S_VERSION}
CRI_TOOLS_VERSION=${CRI_TOOLS_VERSION:-v1.36.0}
QEMU=${QEMU:-1}
GUEST_ROOT=${GUEST_ROOT:-/var/cache/bulkhead-tools/guest}
ROOTFS_ONLY=0
BASE_ONLY=0
[[ ${1:-} == --rootfs-only ]] && ROOTFS_ONLY=1
[[ ${1:-} == --base-only ]] && BASE_ONLY=1

log() { printf '[node-image %4ss] %s\n' "$SECONDS" "$*"; }
die() { printf '[node-image] ERROR: %s\n' "$*" >&2; exit 1; }
[[ $(id -u) == 0 ]] || die "run as root (debootstrap, device nodes, the preload daemon)"
for c in debootstrap go node tar sha256sum; do command -v "$c" >/dev/null || die "$c is required"; done
[[ -f $REPO/dist/cmd/bulkheadd/main.js ]] || die "build Bulkhead first (npm run build in $REPO)"
# shellcheck source=deploy/kind/lib/image-archive.sh
. "$REPO/deploy/kind/lib/image-archive.sh"
mkdir -p "$CACHE/bin" "$CACHE/images" "$CACHE/work"
export GOFLAGS=-buildvcs=false

# ---- 2. base rootfs (Debian minbase + systemd + run-time packages), cached by package list
PACKAGES=systemd,systemd-sysv,dbus,iproute2,iptables,nftables,conntrack,ethtool,util-linux,mount,kmod,procps,ca-certificates,libseccomp2,e2fsprogs,bash,runc,conmon,catatonit,containernetworking-plugins,busybox-static,libstdc++6,socat
BASE=$CACHE/base-bookworm-$(sha256sum <<<"$PACKAGES" | cut -c1-12).tar
if [[ ! -f $BASE ]]; then
  t0=$SECONDS
  log "debootstrap minbase bookworm (+ $PACKAGES)"
  rm -rf "$CACHE/work/base"
  debootstrap --variant=minbase --include="$PACKAGES" bookworm "$CACHE/work/base" http://deb.debian.org/debian >"$CACHE/work/debootstrap.log" 2>&1 \
    || { tail -20 "$CACHE/work/debootstrap.log" >&2; die "debootstrap failed (log: $CACHE/work/debootstrap.log)"; }
  b=$CACHE/work/base
  # As kind's base image does: no services but ours, no kmsg in the journal, tmpfiles late.
  find "$b/lib/systemd/system/sysinit.target.wants/" -name systemd-tmpfiles-setup.service -delete
  rm -f "$b"/lib/systemd/system/multi-user.target.wants/* "$b"/etc/systemd/system/*.wants/* \
    "$b"/lib/systemd/system/local-fs.target.wants/* "$b"/lib/systemd/system/sockets.target.wants/*udev* \
    "$b"/lib/systemd/system/sockets.target.wants/*initctl* "$b"/lib/systemd/system/basic.target.wants/*
  echo "ReadKMsg=no" >>"$b/etc/systemd/journald.conf"
  chroot "$b" apt-get clean
  rm -rf "$b"/var/lib/apt/lists/* "$b"/var/cache/apt/*.bin "$b"/var/log/*.log
  tar -C "$b" --numeric-owner --xattrs -cf "$BASE.tmp" .
  mv -f "$BASE.tmp" "$BASE"
  rm -rf "$b"
  log "base rootfs cached: $BASE ($((SECONDS - t0))s)"
fi

# ---- 2b. the node's base: + QEMU for micro-VM pods (apt in a chroot of the base), cached. The
# control-plane images keep the plain base as their bottom layer.
NODE_BASE=$BASE
if [[ $QEMU == 1 ]]; then
  QEMU_PACKAGES="qemu-system-x86"
  NODE_BASE=$CACHE/base-qemu-$(sha256sum <<<"$BASE $QEMU_PACKAGES" | cut -c1-12).tar
  if [[ ! -f $NODE_BASE ]]; then
    t0=$SECONDS
    log "base + $QEMU_PACKAGES (apt-get in a chroot)"
    b=$CACHE/work/base-qemu
    rm -rf "$b" && mkdir -p "$b"
    tar -C "$b" --numeric-owner --xattrs -xf "$BASE"
    mv "$b/etc/resolv.conf" "$b/etc/resolv.conf.orig" 2>/dev/null || true
    cp -L /etc/resolv.conf "$b/etc/resolv.conf"
    printf '#!/bin/sh\nexit 101\n' >"$b/usr/sbin/policy-rc.d" && chmod 0755 "$b/usr/sbin/policy-rc.d"
    mount -t proc proc "$b/proc"
    trap 'umount "$b/proc" 2>/dev/null || true' EXIT
    { chroot "$b" apt-get update -q && chroot "$b" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $QEMU_PACKAGES; } \
      >"$CACHE/work/qemu-apt.log" 2>&1 || { tail -20 "$CACHE/work/qemu-apt.log" >&2; die "apt-get install $QEMU_PACKAGES failed"; }
    umount "$b/proc"
    trap - EXIT
    chroot "$b" apt-get clean
    rm -rf "$b"/var/lib/apt/lists/* "$b"/var/cache/apt/*.bin "$b"/var/log/*.log "$b/usr/sbin/policy-rc.d" "$b/etc/resolv.conf"
    mv "$b/etc/resolv.conf.orig" "$b/etc/resolv.conf" 2>/dev/null || true
    tar -C "$b" --numeric-owner --xattrs -cf "$NODE_BASE.tmp" .
    mv -f "$NODE_BASE.tmp" "$NODE_BASE"
    rm -rf "$b"
    log "base + QEMU cached: $NODE_BASE ($((SECONDS - t0))s, $(du -h "$NODE_BASE" | cut -f1) vs $(du -h "$BASE" | cut -f1))"
  fi
fi

[[ $BASE_ONLY == 1 ]] && { log "base only: $BASE $NODE_BASE"; exit 0; }

# ---- 1. tools
bash "$REPO/e2e/cluster/build.sh" --kind
K8S_BIN=$(bash "$REPO/e2e/cluster/build.sh" --print-dir)
go_tool() { # name module@version — builds the module's root package, cached
  local name=$1 mod=$2 dir t0=$SECONDS
  [[ -x $CACHE/bin/$name ]] && return 0
  log "building $name ($mod)"
  dir=$(cd /tmp && go mod download -json "$mod" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  (cd "$dir" && CGO_ENABLED=0 nice -n 10 go build -trimpath -ldflags "-s -w" -o "$CACHE/bin/.$name.tmp" .)
  mv -f "$CACHE/bin/.$name.tmp" "$CACHE/bin/$name"
  log "$name built in $((SECONDS - t0))s"
}
go_tool kind "sigs.k8s.io/kind@$KIND_VERSION"
# COREDNS=skip leaves coredns out (a node image without cluster DNS), e.g. while it still builds.
[[ ${COREDNS:-} == skip ]] || go_tool coredns "github.com/coredns/coredns@$COREDNS_VERSION"
CRICTL=/var/cache/bulkhead-tools/$CRI_TOOLS_VERSION/crictl
if [[ ! -x $CRICTL ]]; then
  . "$REPO/deploy/lib/cri-tools.sh"
  build_cri_tools "/var/cache/bulkhead-tools/$CRI_TOOLS_VERSION" "$CRI_TOOLS_VERSION" crictl >/dev/null
fi
# The micro-VM guest image (kernel, initramfs, erofs root with the agent of this checkout), built
# or reused by the same script the daemon runs at start; the node ships it prebuilt (guest_image).
GUEST_DIR=
if [[ $QEMU == 1 ]]; then
  t0=$SECONDS
  GUEST_DIR=$(bash "$REPO/deploy/guest/build-guest.sh" "$GUEST_ROOT" 2>"$CACHE/work/build-guest.log" | tail -1) \
    || { tail -20 "$CACHE/work/build-guest.log" >&2; die "guest image build failed"; }
  [[ -f $GUEST_DIR/manifest.json ]] || die "no guest image in '$GUEST_DIR'"
  log "guest image $GUEST_DIR ($((SECONDS - t0))s)"
fi
KIND_SRC=$(cd /tmp && go mod download -json "sigs.k8s.io/kind@$KIND_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')/images/base/files
[[ -f $KIND_SRC/usr/local/bin/entrypoint ]] || die "kind's base-image files not found in $KIND_SRC"

# A node image built from exactly these inputs is reused (warm runs): the contents of this
# checkout's dist/ and deploy/ (this script included; not the *.md files) and package-lock.json,
# node's version, the bases, the tools and the guest image. Contents, not mtimes: `npm run build`
# rewrites dist/ with the same bytes. BULKHEAD_KIND_REBUILD=1 forces a build.
STAMP=$( { echo "$BASE $NODE_BASE $K8S_VERSION ${COREDNS:-} guest=${GUEST_DIR##*/} node=$(node --version)";
  ls -l --time-style=+%s "$K8S_BIN" "$CACHE/bin" "$CRICTL";
  (cd "$REPO" && find dist deploy package-lock.json -type f ! -name '*.md' -print0 | sort -z | xargs -0 sha256sum) ; } | sha256sum | cut -c1-16)
if [[ $ROOTFS_ONLY == 0 && ${BULKHEAD_KIND_REBUILD:-0} != 1 ]] \
   && [[ $(docker image inspect -f '{{index .Config.Labels "bulkhead.inputs"}}' "$NODE_IMAGE" 2>/dev/null) == "$STAMP" ]]; then
  log "$NODE_IMAGE is up to date (inputs $STAMP)"
  exit 0
fi

# ---- 3. node rootfs
R=$CACHE/work/rootfs
rm -rf "$R" && mkdir -p "$R"
tar -C "$R" --numeric-owner --xattrs -xf "$NODE_BASE"
install -d -m 0755 "$R/kind" "$R/kind/bin" "$R/etc/kubernetes/manifests" "$R/etc/systemd/system/kubelet.service.d" \
  "$R/etc/systemd/system/multi-user.target.wants" "$R/LICENSES"
install -m 0755 "$KIND_SRC/usr/local/bin/entrypoint" "$KIND_SRC/usr/local/bin/clean-install" "$R/usr/local/bin/"
install -m 0644 "$KIND_SRC/kind/README.txt" "$R/kind/"
install -m 0755 "$KIND_SRC"/kind/bin/*.sh "$R/kind/bin/"
install -m 0644 "$KIND_SRC"/etc/sysctl.d/* "$R/etc/sysctl.d/"
# kind's kubelet units; not its containerd units (containerd is not in this image).
install -m 0644 "$KIND_SRC/etc/systemd/system/kubelet.service" "$KIND_SRC/etc/systemd/system/kubelet.slice" \
  "$KIND_SRC/etc/systemd/system/undo-mount-hacks.service" "$R/etc/systemd/system/"
install -m 0644 "$KIND_SRC"/etc/systemd/system/kubelet.service.d/* "$R/etc/systemd/system/kubelet.service.d/"
# kind's /etc/default/kubelet names containerd's cgroup as the runtime's.
echo 'KUBELET_EXTRA_ARGS=--runtime-cgroups=/system.slice/bulkhead.service' >"$R/etc/default/kubelet"
echo "$K8S_VERSION" >"$R/kind/version"
ln -sf /lib/systemd/systemd "$R/sbin/init"
for b in kubeadm kubelet kubectl; do install -m 0755 "$K8S_BIN/$b" "$R/usr/bin/$b"; done
install -m 0755 "$CRICTL" "$R/usr/local/bin/crictl"

# Bulkhead, laid out as deploy/install.sh installs it (production node_modules only).
LIB=$R/usr/local/lib/bulkhead
mkdir -p "$LIB"
(cd "$REPO" && tar --exclude=.git --exclude='*.log' -chf - dist api package.json package-lock.json deploy node_modules) | tar -C "$LIB" -xf -
(cd "$LIB" && npm prune --omit=dev --offline --no-audit --no-fund --loglevel=error >/dev/null)
install -m 0755 "$(command -v node)" "$R/usr/local/bin/node"
printf '#!/bin/sh\nexec /usr/local/bin/node /usr/local/lib/bulkhead/dist/cmd/bulkheadd/main.js "$@"\n' >"$R/usr/local/bin/bulkheadd"
printf '#!/bin/sh\nexec /usr/local/bin/node /usr/local/lib/bulkhead/dist/cmd/bulkhead/main.js "$@"\n' >"$R/usr/local/bin/bulkhead"
install -m 0755 "$REPO/deploy/kind/bin/ctr" "$REPO/deploy/kind/bin/containerd" "$R/usr/local/bin/"
chmod 0755 "$R/usr/local/bin/bulkheadd" "$R/usr/local/bin/bulkhead"
install -d -m 0755 "$R/etc/bulkhead" "$R/etc/bulkhead/certs.d" "$R/etc/cni/net.d"
if [[ $QEMU == 1 ]]; then
  install -m 0644 "$REPO/deploy/kind/bulkhead-config.toml" "$R/etc/bulkhead/config.toml"
  mkdir -p "$LIB/guest-image"
  cp "$GUEST_DIR"/{manifest.json,stamp,vmlinux,initrd.cpio,rootfs.erofs} "$LIB/guest-image/"
else # no QEMU: no microvm handler section (from its header to the next section)
  awk '/^\[runtime_handlers\.microvm\]/{skip=1; next} /^\[/{skip=0} !skip' "$REPO/deploy/kind/bulkhead-config.toml" >"$R/etc/bulkhead/config.toml"
fi
install -m 0644 "$REPO/deploy/kind/crictl.yaml" "$R/etc/crictl.yaml"
install -m 0644 "$REPO/deploy/systemd/bulkhead.service" "$R/etc/systemd/system/bulkhead.service"
install -m 0644 "$REPO/deploy/kind/kubelet-after-bulkhead.conf" "$R/etc/systemd/system/kubelet.service.d/20-bulkhead.conf"
# systemctl enable, by hand (no systemd on the build host).
for u in kubelet.service bulkhead.service undo-mount-hacks.service; do
  ln -sf "/etc/systemd/system/$u" "$R/etc/systemd/system/multi-user.target.wants/$u"
done
ln -sf /dev/null "$R/etc/systemd/system/systemd-binfmt.service"

# ---- 4. control-plane images: the base tarball is every image's bottom layer
layer_with() { # out.tar name:path... — one layer holding the given files under usr/local/bin
  local out=$1 d
  shift
  d=$(mktemp -d "$CACHE/work/layer.XXXXXX")
  mkdir -p "$d/usr/local/bin"
  for f in "$@"; do install -m 0755 "${f#*:}" "$d/usr/local/bin/${f%%:*}"; done
  tar -C "$d" --owner=0 --group=0 --numeric-owner --mtime=@0 -cf "$out" .
  rm -rf "$d"
}
PATH_ENV='"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]'
image() { # archive-name ref binary-source entrypoint-json
  local name=$1 ref=$2 src=$3 entry=$4 out=$CACHE/images/$1.tar
  if [[ -f $out && $out -nt $src && $out -nt $BASE ]]; then return 0; fi
  layer_with "$CACHE/work/$name.layer.tar" "$(basename "$src"):$src"
  make_image_archive "$out" "$ref" "{$PATH_ENV,\"Entrypoint\":$entry}" "$BASE" "$CACHE/work/$name.layer.tar"
  rm -f "$CACHE/work/$name.layer.tar"
  log "image $ref → $out"
}
PAUSE_SRC=$CACHE/work/pause
printf '#!/bin/sh\n# Bulkhead needs no infra container; this image only satisfies kubeadm'"'"'s image list.\nexec sleep infinity\n' >"$PAUSE_SRC"
image kube-apiserver "registry.k8s.io/kube-apiserver:$K8S_VERSION" "$K8S_BIN/kube-apiserver" null
image kube-controller-manager "registry.k8s.io/kube-controller-manager:$K8S_VERSION" "$K8S_BIN/kube-controller-manager" null
image kube-scheduler "registry.k8s.io/kube-scheduler:$K8S_VERSION" "$K8S_BIN/kube-scheduler" null
image kube-proxy "registry.k8s.io/kube-proxy:$K8S_VERSION" "$K8S_BIN/kube-proxy" null
image etcd "registry.k8s.io/etcd:$ETCD_TAG" "$K8S_BIN/etcd" null
[[ ${COREDNS:-} == skip ]] || image coredns "registry.k8s.io/coredns/coredns:$COREDNS_VERSION" "$CACHE/bin/coredns" '["/usr/local/bin/coredns"]'
[[ -f $CACHE/images/pause.tar ]] || image pause "registry.k8s.io/pause:$PAUSE_TAG" "$PAUSE_SRC" '["/usr/local/bin/pause"]'

# ---- 5. preload through the import path: a bulkheadd whose root is the node's store
STATE=$(mktemp -d /run/bhkind-build.XXXXXX)
cat >"$STATE/config.toml" <<EOF
root = "$R/var/lib/bulkhead"
state = "$STATE/s"
address = "$STATE/s/bulkhead.sock"
[cni]
conf_dir = "$STATE/cni"
[runtime_handlers.runc]
kind = "oci"
EOF
mkdir -p "$STATE/cni"
node "$REPO/dist/cmd/bulkheadd/main.js" --config "$STATE/config.toml" >"$CACHE/work/preload-daemon.log" 2>&1 &
daemon_pid=$!
stop_daemon() {
  kill -TERM "$daemon_pid" 2>/dev/null || true
  wait "$daemon_pid" 2>/dev/null || true
  rm -rf "$STATE"
}
trap stop_daemon EXIT
for _ in $(seq 1 100); do [[ -S $STATE/s/debug.sock ]] && break; sleep 0.1; done
[[ -S $STATE/s/debug.sock ]] || die "preload daemon did not start (log: $CACHE/work/preload-daemon.log)"
t0=$SECONDS
images=("$CACHE"/images/*.tar)
[[ ${COREDNS:-} == skip ]] && images=("${images[@]/*\/coredns.tar/}")
for a in "${images[@]}"; do
  [[ -n $a ]] || continue
  node "$REPO/dist/cmd/bulkhead/main.js" --socket "$STATE/s/debug.sock" images import "$a"
done
log "preloaded ${#images[@]} image archives in $((SECONDS - t0))s"
"$CRICTL" --runtime-endpoint "unix://$STATE/s/bulkhead.sock" --image-endpoint "unix://$STATE/s/bulkhead.sock" images
stop_daemon
trap - EXIT

# ---- 6. the image
if [[ $ROOTFS_ONLY == 1 ]] || ! docker info >/dev/null 2>&1; then
  tar -C "$R" --numeric-owner --xattrs -cf "$CACHE/node-rootfs.tar.tmp" . && mv -f "$CACHE/node-rootfs.tar.tmp" "$CACHE/node-rootfs.tar"
  log "rootfs: $CACHE/node-rootfs.tar (no docker import: --rootfs-only or no Docker engine)"
  exit 0
fi
# docker 20.10's import takes no STOPSIGNAL: a one-line build adds it (kind's nodes stop with
# SIGRTMIN+3, systemd's "halt"); kind deletes nodes with a kill anyway, so it is not fatal.
# The image this build replaces (its tag moves to the new one): removed afterwards, or every
# rebuild would leave ~1.5 GB of untagged image behind. Not while a container still uses it.
old_image=$(docker image inspect -f '{{.Id}}' "$NODE_IMAGE" 2>/dev/null || true)
tar -C "$R" --numeric-owner --xattrs -cf - . | docker import \
  --change 'ENV container=docker' \
  --change 'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]' \
  - "$NODE_IMAGE" >/dev/null
printf 'FROM %s\nSTOPSIGNAL SIGRTMIN+3\nLABEL bulkhead.inputs=%s bulkhead.microvm=%s\n' "$NODE_IMAGE" "$STAMP" "$QEMU" | DOCKER_BUILDKIT=0 docker build -q -t "$NODE_IMAGE" - >/dev/null \
  || log "warning: could not set STOPSIGNAL on $NODE_IMAGE"
log "built $NODE_IMAGE ($(docker image inspect -f '{{.Size}}' "$NODE_IMAGE") bytes)"
if [[ -n $old_image && $old_image != $(docker image inspect -f '{{.Id}}' "$NODE_IMAGE") ]]; then
  docker rmi "$old_image" >/dev/null 2>&1 && log "removed the image it replaces (${old_image:7:12})" || true
fi
rm -rf "$R" # 1.3 GB, rebuilt from the cached base every time anyway
