#!/bin/bash
# Builds the Bulkhead micro-VM guest image from Debian packages only, reproducibly.
#   usage: build-guest.sh <root-dir>     (prints the output directory on the last stdout line)
# Output: <root>/guest/<stamp>/{vmlinux,initrd.cpio,rootfs.erofs,stamp,manifest.json}
# <stamp> hashes every input (package versions, this script, init.sh, the agent bundle), so the image
# is rebuilt only when an input changes; an existing <stamp> dir is reused as is.
# Inputs: linux-image-<ver>-cloud-amd64 (downloaded .deb, kernel + modules), busybox-static, crun,
# conmon, catatonit, bsdutils (script), nodejs (installed host packages: binaries + their ldd libraries), the agent bundled by esbuild.
set -euo pipefail
# The daemon stops a build by signalling its process group; exiting through the EXIT traps below
# removes the half-built work dir (an untrapped TERM would skip them).
trap 'exit 143' TERM INT HUP
export LC_ALL=C SOURCE_DATE_EPOCH=0
root=${1:?usage: build-guest.sh <root-dir>}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
guest=$root/guest
cache=$guest/cache
mkdir -p "$cache"
log() { echo "build-guest: $*" >&2; }

# Guest modules, in insmod order (dependencies first; no modules.dep/modprobe in the guest). bridge:
# privileged pods manage their (guest) network, e.g. brctl addbr.
MODULES="virtio_ring virtio virtio_mmio virtio_console virtio_blk crc32c_generic libcrc32c erofs overlay failover net_failover virtio_net fuse virtiofs llc stp bridge"

# 1. Resolve the versioned kernel package behind the linux-image-cloud-amd64 metapackage.
kpkg=$(apt-cache depends linux-image-cloud-amd64 | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
[ -n "$kpkg" ] || { log "cannot resolve linux-image-cloud-amd64"; exit 1; }
kver=$(apt-cache policy "$kpkg" | awk '/Candidate:/{print $2}')
pkgver() { dpkg-query -W -f='${Version}' "$1"; }

# 2. Bundle the agent (one ESM file; Node runs it in the guest). From a checkout: esbuild from the
#    sources (same flags as `npm run build:agent`); from an installed copy (no sources, no dev deps):
#    the bundle `npm run build` put in dist/agent/.
#    Each run bundles into a file of its own: several runs at once (one per VM handler of a daemon,
#    or daemons of different checkouts sharing the cache) shared one agent.mjs.tmp, and a run's mv
#    found it gone ("cannot stat") or, worse, hashed and installed another checkout's agent.
bundle=$(mktemp --suffix=.mjs "$cache/agent.XXXXXX")
trap 'rm -f "$bundle"' EXIT
if [ -x "$repo/node_modules/.bin/esbuild" ] && [ -f "$repo/cmd/bulkhead-agent/main.ts" ]; then
  "$repo/node_modules/.bin/esbuild" "$repo/cmd/bulkhead-agent/main.ts" --bundle --platform=node --format=esm \
    --target=node20 --log-level=warning \
    --banner:js="import { createRequire as __bhCreateRequire } from 'node:module'; const require = __bhCreateRequire(import.meta.url);" \
    --outfile="$bundle"
elif [ -f "$repo/dist/agent/agent.mjs" ]; then
  cp "$repo/dist/agent/agent.mjs" "$bundle"
else
  log "no agent bundle: run npm run build (needs esbuild) first"; exit 1
fi

inputs=$(printf '%s\n' \
  "kernel=$kpkg=$kver" "busybox-static=$(pkgver busybox-static)" "crun=$(pkgver crun)" "conmon=$(pkgver conmon)" "catatonit=$(pkgver catatonit)" "bsdutils=$(pkgver bsdutils)" \
  "nodejs=$(pkgver nodejs)" "modules=$MODULES" \
  "script=$(sha256sum < "$0" | cut -c1-64)" "init=$(sha256sum < "$here/init.sh" | cut -c1-64)" "mkcpio=$(sha256sum < "$here/mkcpio.mjs" | cut -c1-64)" \
  "clone-fixup=$(sha256sum < "$here/clone-fixup.c" | cut -c1-64)" \
  "agent=$(sha256sum < "$bundle" | cut -c1-64)")
stamp=$(printf '%s' "$inputs" | sha256sum | cut -c1-16)
out=$guest/$stamp
if [ -f "$out/stamp" ]; then log "up to date: $out"; touch "$out/last-used"; echo "$out"; exit 0; fi
log "building $stamp"
work=$(mktemp -d "$guest/.build-$stamp.XXXXXX")
trap 'rm -rf "$work" "$bundle"' EXIT

# 3. Kernel: download + extract the .deb, pull the PVH vmlinux out of the LZ4 bzImage.
deb=$(ls "$cache"/"${kpkg}"_*.deb 2>/dev/null | head -1 || true)
if [ -z "$deb" ] || ! dpkg-deb -f "$deb" Version | grep -qx "$kver"; then
  rm -f "$cache"/"${kpkg}"_*.deb
  (cd "$cache" && apt-get download "$kpkg=$kver" >&2)
  deb=$(ls "$cache"/"${kpkg}"_*.deb | head -1)
fi
dpkg-deb -x "$deb" "$work/k"
vmlinuz=$(ls "$work"/k/boot/vmlinuz-* | head -1)
kernel_release=${vmlinuz##*/vmlinuz-}
# Kernel LZ4 (legacy frame) magic 02 21 4c 18; try each occurrence until readelf accepts the result.
for off in $(grep -obUaP '\x02\x21\x4c\x18' "$vmlinuz" | cut -d: -f1); do
  tail -c +$((off + 1)) "$vmlinuz" | unlz4 -c > "$work/vmlinux" 2>/dev/null || true
  readelf -h "$work/vmlinux" >/dev/null 2>&1 && break
  rm -f "$work/vmlinux"
done
[ -f "$work/vmlinux" ] || { log "no LZ4 vmlinux found in $vmlinuz"; exit 1; }
readelf -n "$work/vmlinux" | grep -q 'Xen' || log "warning: vmlinux has no Xen/PVH note"

# 4. initramfs: busybox-static + modules + /init.
I=$work/initrd
mkdir -p "$I"/{bin,sbin,usr/bin,dev,proc,sys,mnt,etc,lib/modules}
cp /bin/busybox "$I/bin/busybox"
for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -s busybox "$I/bin/$a"; done
: > "$I/etc/modules"
for m in $MODULES; do
  f=$(find "$work/k/lib/modules/$kernel_release/kernel" -name "$m.ko" | head -1)
  if [ -z "$f" ]; then log "module $m not in $kpkg (built in?)"; continue; fi
  cp "$f" "$I/lib/modules/$m.ko"; echo "$m" >> "$I/etc/modules"
done
install -m 0755 "$here/init.sh" "$I/init"
# newc cpio with fixed owners/mtimes so the same inputs give the same bytes.
find "$I" -exec touch -h -d @0 {} +
node "$here/mkcpio.mjs" "$I" > "$work/initrd.cpio"
# (no device nodes in the archive: /init mounts devtmpfs itself)

# 5. rootfs (erofs): node, agent, crun, conmon, busybox, their libraries.
R=$work/rootfs
mkdir -p "$R"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,run,tmp,var/lib,var/log,root,opt/bulkhead,lib64,lib/x86_64-linux-gnu,mnt}
copy_with_libs() { # <binary> <dest path in rootfs>
  install -D -m 0755 "$1" "$R$2"
  ldd "$1" | awk '/=> \//{print $3} /^\t\/lib64/{print $1}' | while read -r lib; do
    real=$(readlink -f "$lib"); dest=$R$lib
    [ -e "$dest" ] || install -D -m 0755 "$real" "$dest"  # ld.so must be executable
  done
}
copy_with_libs /usr/bin/node /usr/bin/node
strip --strip-all "$R/usr/bin/node" 2>/dev/null || true
copy_with_libs /usr/bin/crun /usr/bin/crun
copy_with_libs /usr/bin/conmon /usr/bin/conmon
# catatonit: PID 1 of the guest (the agent runs as its child) and of pod PID namespaces; reaps orphans.
install -D -m 0755 /usr/bin/catatonit "$R/usr/bin/catatonit"
# util-linux script (bsdutils): a terminal for crun's pty proxy of tty containers/execs.
copy_with_libs /usr/bin/script /usr/bin/script
cp /bin/busybox "$R/bin/busybox"
for a in $(/bin/busybox --list); do [ -e "$R/bin/$a" ] || [ "$a" = busybox ] || ln -s busybox "$R/bin/$a"; done
install -m 0644 "$bundle" "$R/opt/bulkhead/agent.mjs"
# CRNG reseed + clock set after a snapshot restore (clone-fixup.c: ioctls Node can't make).
mkdir -p "$R/usr/libexec"
gcc -static -O2 -o "$R/usr/libexec/bulkhead-clone-fixup" "$here/clone-fixup.c"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$R/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$R/etc/group"
printf '127.0.0.1 localhost\n::1 localhost\n' > "$R/etc/hosts"
: > "$R/etc/resolv.conf"
echo bulkhead-guest > "$R/etc/hostname"
printf '%s\n' "$kernel_release" > "$R/etc/bulkhead-kernel-release"
printf '%s\n' "$stamp" > "$R/etc/bulkhead-guest-stamp"
find "$R" -exec touch -h -d @0 {} +
# Fixed timestamp and a UUID derived from the stamp: same inputs, same image bytes.
uuid="${stamp:0:8}-${stamp:8:4}-${stamp:12:4}-0000-000000000000"
mkfs.erofs --all-root -T0 -U "$uuid" "$work/rootfs.erofs" "$R" >/dev/null

# 6. Publish atomically.
loaded=$(tr '\n' ' ' < "$I/etc/modules" | sed 's/ $//')
rm -rf "$R" "$I" "$work/k"
printf '%s\n' "$inputs" > "$work/inputs.txt"
cat > "$work/manifest.json" <<JSON
{"stamp":"$stamp","kernel_package":"$kpkg","kernel_version":"$kver","kernel_release":"$kernel_release","modules":"$loaded"}
JSON
echo "$stamp" > "$work/stamp"
chmod 0755 "$work"
if ! mv -T "$work" "$out" 2>/dev/null; then log "raced with another build: using $out"; rm -rf "$work"; fi
trap 'rm -f "$bundle"' EXIT
log "built $out ($(du -sh "$out" | cut -f1))"
touch "$out/last-used"
# Keep the 3 most recently used images; older ones go once unused for a day. A daemon touches
# <image>/last-used whenever it boots a VM: another daemon sharing this root (e.g. an older version,
# or tests) must not lose the image its VMs boot from.
ls -1t "$guest"/[0-9a-f]*/last-used "$guest"/[0-9a-f]*/stamp 2>/dev/null | xargs -r -n1 dirname | awk '!seen[$0]++' | tail -n +4 |
  while read -r old; do
    if [ -z "$(find "$old/last-used" "$old/stamp" -maxdepth 0 -mmin -1440 2>/dev/null)" ]; then rm -rf "$old"; fi
  done
echo "$out"
