#!/usr/bin/env bash
# deploy/vm-tools.sh - what snapshot start of micro-VM pods needs (handler start_from, docs/microvm-pods.md):
#   1. the Rust virtiofsd (QEMU >= 8 ships no C one), pinned, built from crates.io with cargo into
#      /var/cache/bulkhead-tools/virtiofsd (where Bulkhead looks for it: pkg/vm/virtiofsd.ts).
#   2. QEMU >= 9.0: on Debian 12 the bookworm-backports qemu-system-x86 (10.0.2; runs Bulkhead's
#      command line unchanged). Debian 12's 7.2 cannot migrate vhost-user-fs nor migrate to a file.
# Idempotent; each step is skipped when its result is there. BULKHEAD_VM_TOOLS=0 skips it all (pods
# then boot; the Rust virtiofsd is still required once QEMU is >= 8). Run as root.
set -euo pipefail
VIRTIOFSD_VERSION=${VIRTIOFSD_VERSION:-1.14.0}
TOOLS=${BULKHEAD_TOOLS_DIR:-/var/cache/bulkhead-tools}
VIRTIOFSD_ROOT=$TOOLS/virtiofsd
BACKPORTS_LIST=/etc/apt/sources.list.d/bookworm-backports.list
log() { printf '[vm-tools] %s\n' "$*"; }

[ "${BULKHEAD_VM_TOOLS:-1}" = 0 ] && { log "BULKHEAD_VM_TOOLS=0: skipped"; exit 0; }
export DEBIAN_FRONTEND=noninteractive

qemu_major() { qemu-system-x86_64 --version 2>/dev/null | sed -n 's/^QEMU emulator version \([0-9]*\)\..*/\1/p'; }

# 1. the Rust virtiofsd, pinned (first: QEMU >= 8 without it would leave micro-VM pods no virtiofsd at all)
if [ -x "$VIRTIOFSD_ROOT/bin/virtiofsd" ] && [ "$("$VIRTIOFSD_ROOT/bin/virtiofsd" --version 2>/dev/null)" = "virtiofsd $VIRTIOFSD_VERSION" ]; then
  log "virtiofsd $VIRTIOFSD_VERSION cached in $VIRTIOFSD_ROOT"
else
  missing=()
  for p in libseccomp-dev libcap-ng-dev pkg-config; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then apt-get update -qq; apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; fi
  CARGO=$(command -v cargo || echo "${HOME:-/root}/.cargo/bin/cargo")
  if [ -x "$CARGO" ]; then
    # ~6 min on 2 cores: niced, it shares the machine.
    log "cargo install virtiofsd $VIRTIOFSD_VERSION -> $VIRTIOFSD_ROOT"
    mkdir -p "$VIRTIOFSD_ROOT"
    nice -n 10 "$CARGO" install --quiet --locked virtiofsd --version "=$VIRTIOFSD_VERSION" --root "$VIRTIOFSD_ROOT" \
      || log "building virtiofsd $VIRTIOFSD_VERSION failed: QEMU stays as it is"
  else
    log "no cargo: the Rust virtiofsd is not built (QEMU >= 8 micro-VM pods need it; install Rust and re-run)"
  fi
fi

# 2. QEMU from bookworm-backports (Debian 12 only; newer releases ship >= 9 already), only with a
#    Rust virtiofsd to serve it
major=$(qemu_major)
if [ -n "$major" ] && [ "$major" -ge 9 ]; then
  log "QEMU $(qemu-system-x86_64 --version | head -1 | awk '{print $4}') already >= 9.0"
elif [ ! -x "$VIRTIOFSD_ROOT/bin/virtiofsd" ] && [ ! -x /usr/libexec/virtiofsd ]; then
  log "no Rust virtiofsd: keeping QEMU ${major:-missing} (pods boot; snapshot start unavailable)"
elif grep -q '^VERSION_CODENAME=bookworm' /etc/os-release 2>/dev/null; then
  if [ ! -f "$BACKPORTS_LIST" ] && ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    echo 'deb http://deb.debian.org/debian bookworm-backports main' > "$BACKPORTS_LIST"
  fi
  # A plain update (not one limited to the new list: that drops the other lists' indexes).
  apt-get update -qq
  log "apt-get install -t bookworm-backports qemu-system-x86"
  apt-get install -y -qq --no-install-recommends -t bookworm-backports qemu-system-x86 >/dev/null
else
  log "QEMU ${major:-missing} < 9.0 and not Debian 12: snapshot start will fall back to booting"
fi
