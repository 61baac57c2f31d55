#!/bin/sh
# /init of the Bulkhead guest initramfs (busybox). Loads the modules listed in /etc/modules (in order),
# mounts the read-only erofs root from the virtio-blk disk whose serial is "bulkhead-root", puts a tmpfs
# overlay on top so /run /tmp /var /etc stay writable, then switch_roots into it and execs the agent
# (Node) on the virtio-serial port named "agent". Kernel cmdline k=v words arrive as env vars.
export PATH=/bin:/sbin:/usr/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
while read -r mod; do
  [ -n "$mod" ] && { insmod "/lib/modules/$mod.ko" || echo "bulkhead-init: insmod $mod failed"; }
done < /etc/modules
fail() { echo "bulkhead-init: $*"; sleep 1; poweroff -f; }

# The root disk is found by its virtio-blk serial, not by probe order.
rootdev=""
for i in $(seq 1 100); do
  for s in /sys/block/vd*/serial; do
    [ -r "$s" ] && [ "$(cat "$s")" = bulkhead-root ] && { d=${s%/serial}; rootdev=/dev/${d##*/}; }
  done
  [ -n "$rootdev" ] && [ -b "$rootdev" ] && break
  sleep 0.02
done
[ -n "$rootdev" ] || fail "no disk with serial bulkhead-root"

port=""
for i in $(seq 1 100); do
  for n in /sys/class/virtio-ports/*/name; do
    [ -r "$n" ] && [ "$(cat "$n")" = agent ] && { d=${n%/name}; port=/dev/${d##*/}; }
  done
  [ -n "$port" ] && [ -e "$port" ] && break
  sleep 0.02
done
[ -n "$port" ] || fail "no virtio-serial port named agent"

mkdir -p /mnt/ro /mnt/rw /newroot
mount -t erofs -o ro "$rootdev" /mnt/ro || fail "mount erofs $rootdev"
mount -t tmpfs -o mode=0755 tmpfs /mnt/rw
mkdir -p /mnt/rw/upper /mnt/rw/work
mount -t overlay -o lowerdir=/mnt/ro,upperdir=/mnt/rw/upper,workdir=/mnt/rw/work overlay /newroot || fail "overlay root"
mkdir -p /newroot/proc /newroot/sys /newroot/dev /newroot/run /newroot/tmp
mount --move /proc /newroot/proc
mount --move /sys /newroot/sys
mount --move /dev /newroot/dev
mount -t tmpfs -o mode=0755 tmpfs /newroot/run
mount -t tmpfs -o mode=1777 tmpfs /newroot/tmp
mkdir -p /newroot/dev/pts /newroot/dev/shm
mount -t devpts -o newinstance,ptmxmode=0666 devpts /newroot/dev/pts
mount -t tmpfs -o mode=1777 shm /newroot/dev/shm
mount -t cgroup2 cgroup2 /newroot/sys/fs/cgroup || fail "cgroup2"
# Delegate every controller to children so crun can set limits on container cgroups.
for c in $(cat /newroot/sys/fs/cgroup/cgroup.controllers); do echo "+$c" > /newroot/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null; done

echo "bulkhead-init: root=$rootdev port=$port uptime=$(cut -d' ' -f1 /newroot/proc/uptime)"
# catatonit is PID 1 from here (it reaps orphans re-parented to init, which Node would leave as
# zombies) with the agent as its only child; when the agent dies catatonit exits, the kernel panics
# and (panic=1, -no-reboot) QEMU exits, which the host notices as VM death.
exec switch_root /newroot /usr/bin/catatonit -- /usr/bin/node /opt/bulkhead/agent.mjs --port "$port"
