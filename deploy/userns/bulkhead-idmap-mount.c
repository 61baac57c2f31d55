// bulkhead-idmap-mount USERNS_FILE SOURCE TARGET
//
// Bind-mounts SOURCE on TARGET as an idmapped mount (Linux >= 5.12; overlayfs lower layers
// >= 5.19, tmpfs >= 6.3) whose mapping is the user namespace USERNS_FILE (a pinned
// /proc/PID/ns/user). bulkheadd uses it for the lower layers of a user-namespace pod's rootfs:
// runc idmaps bind mounts itself (mounts[].uidMappings, runc >= 1.2), but the OCI spec has no
// mapping for root.path, and util-linux learned X-mount.idmap only in 2.39 (Debian 12: 2.38).
// Non-recursive on purpose: a layer directory has no submounts.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s USERNS_FILE SOURCE TARGET\n", argv[0]);
    return 2;
  }
  int userns = open(argv[1], O_RDONLY | O_CLOEXEC);
  if (userns < 0) {
    fprintf(stderr, "open %s: %s\n", argv[1], strerror(errno));
    return 1;
  }
  int tree = (int)syscall(SYS_open_tree, AT_FDCWD, argv[2], OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
  if (tree < 0) {
    fprintf(stderr, "open_tree %s: %s\n", argv[2], strerror(errno));
    return 1;
  }
  struct mount_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.attr_set = MOUNT_ATTR_IDMAP;
  attr.userns_fd = (uint64_t)userns;
  if (syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH, &attr, sizeof attr) != 0) {
    fprintf(stderr, "mount_setattr(MOUNT_ATTR_IDMAP) %s: %s\n", argv[2], strerror(errno));
    return 1;
  }
  if (syscall(SYS_move_mount, tree, "", AT_FDCWD, argv[3], MOVE_MOUNT_F_EMPTY_PATH) != 0) {
    fprintf(stderr, "move_mount to %s: %s\n", argv[3], strerror(errno));
    return 1;
  }
  return 0;
}
