#!/bin/bash
# e2e/systemd-node/build.sh - the systemd + cgroup v2 test node image: Debian bookworm from
# debootstrap with systemd as init, Debian's cloud kernel (+ initramfs), runc, conmon, catatonit,
# CNI plugins, D-Bus, this host's node binary and crictl, and bulkhead-check.service, which runs
# /opt/bulkhead/e2e/systemd-node/check.sh (the second disk run.sh stages) after boot.
# Cached under $CACHE (default /var/cache/bulkhead-tools/systemd-node) by this script's hash.
# Prints the image directory. Needs root, debootstrap, mkfs.ext4 and Debian's apt mirror.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${CACHE:-/var/cache/bulkhead-tools/systemd-node}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
PACKAGES=systemd,systemd-sysv,dbus,udev,kmod,iproute2,iptables,runc,conmon,catatonit,containernetworking-plugins,ca-certificates,util-linux,mount,e2fsprogs,procps,linux-image-cloud-amd64,initramfs-tools
stamp=$( (cat "$0"; echo "$PACKAGES"; node --version) | sha256sum | cut -c1-16)
OUT=$CACHE/image-$stamp
log() { printf '[systemd-node build] %s\n' "$*" >&2; }
if [ -s "$OUT/node.ext4" ] && [ -s "$OUT/vmlinuz" ] && [ -s "$OUT/initrd.img" ]; then echo "$OUT"; exit 0; fi
mkdir -p "$CACHE"

# 1. the Debian tree (kept: the slow part, ~3-10 min on a busy machine)
ROOT=$CACHE/rootfs
if [ ! -x "$ROOT/lib/systemd/systemd" ] || [ ! -e "$ROOT/.complete" ]; then
  rm -rf "$ROOT.tmp"
  log "debootstrap bookworm ($PACKAGES)"
  debootstrap --variant=minbase --include="$PACKAGES" bookworm "$ROOT.tmp" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 \
    || { tail -20 "$CACHE/debootstrap.log" >&2; exit 1; }
  rm -rf "$ROOT"; mv "$ROOT.tmp" "$ROOT"; touch "$ROOT/.complete"
fi

# 2. a work copy configured as a node
WORK=$CACHE/work-$stamp
rm -rf "$WORK"; cp -a "$ROOT" "$WORK"
# node from this host (Bulkhead needs >= 20.11; bookworm has 18) and the C++ runtime it links
cp "$(command -v node)" "$WORK/usr/local/bin/node"
if [ ! -e "$WORK/usr/lib/x86_64-linux-gnu/libstdc++.so.6" ]; then
  cp -a /usr/lib/x86_64-linux-gnu/libstdc++.so.6* "$WORK/usr/lib/x86_64-linux-gnu/"
fi
crictl=$(command -v crictl) && cp "$crictl" "$WORK/usr/local/bin/crictl"
echo systemd-node > "$WORK/etc/hostname"
printf '127.0.0.1 localhost systemd-node\n' > "$WORK/etc/hosts"
printf '/dev/vda / ext4 rw,relatime 0 1\n' > "$WORK/etc/fstab"
chroot "$WORK" passwd -d root >/dev/null
# QEMU user network: DHCP on the one NIC
mkdir -p "$WORK/etc/systemd/network"
printf '[Match]\nName=en* eth*\n[Network]\nDHCP=yes\n' > "$WORK/etc/systemd/network/10-dhcp.network"
ln -sf /lib/systemd/system/systemd-networkd.service "$WORK/etc/systemd/system/multi-user.target.wants/systemd-networkd.service"
# the check, run once after boot; it powers the node off when done
cat > "$WORK/etc/systemd/system/bulkhead-check.service" <<'UNIT'
[Unit]
Description=Bulkhead systemd-driver check (e2e/systemd-node/check.sh)
After=multi-user.target network-online.target
Wants=network-online.target
[Service]
Type=oneshot
ExecStart=/bin/sh -c 'mkdir -p /opt/stage && mount -o ro /dev/vdb /opt/stage && cp /opt/stage/e2e/systemd-node/check.sh /run/check.sh && umount /opt/stage && exec /bin/bash /run/check.sh'
TimeoutStartSec=infinity
[Install]
WantedBy=multi-user.target
UNIT
ln -sf /etc/systemd/system/bulkhead-check.service "$WORK/etc/systemd/system/multi-user.target.wants/bulkhead-check.service"
# nothing slow or interactive on the way
for u in getty@tty1.service serial-getty@ttyS0.service apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer; do
  ln -sf /dev/null "$WORK/etc/systemd/system/$u"
done

# 3. kernel + initramfs out, the tree into an ext4 image
mkdir -p "$OUT.tmp"
cp "$(ls "$WORK"/boot/vmlinuz-* | sort | tail -1)" "$OUT.tmp/vmlinuz"
cp "$(ls "$WORK"/boot/initrd.img-* | sort | tail -1)" "$OUT.tmp/initrd.img"
log "mkfs.ext4 -d (3 GiB sparse)"
truncate -s 3G "$OUT.tmp/node.ext4"
mkfs.ext4 -q -F -L systemd-node -d "$WORK" "$OUT.tmp/node.ext4"
rm -rf "$WORK" "$OUT"; mv "$OUT.tmp" "$OUT"
log "image: $OUT"
echo "$OUT"
