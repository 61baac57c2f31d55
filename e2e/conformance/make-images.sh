#!/usr/bin/env bash
# e2e/conformance/make-images.sh: the 6 images upstream's [NodeConformance] specs (e2e.test
# v1.36.3, test/utils/image/manifest.go) run, built offline as an OCI layout (umoci), like
# e2e/images/make-test-images.sh builds critest's stand-ins:
#   e2e-test-images/agnhost:2.63.0 (and 2.55)  the agnhost binary (e2e/conformance/build.sh) on a
#        Debian bookworm minbase with bash, curl, netcat-openbsd (-u), iproute2, dig, iperf; the
#        module's porter TLS cert/key at /localhost.{crt,key}, /uploads, /agnhost-2, the
#        user-defined-in-image(1000)/group-defined-in-image(50000) accounts; ENTRYPOINT /agnhost, CMD pause
#   e2e-test-images/busybox:1.37.0-1  Debian's dynamic busybox + glibc (the applets are looked up in
#        PATH), with bash as /bin/sh (see below)
#   pause:3.10.2                       e2e/images/helpers/pause.c, static, USER 65535
#   e2e-test-images/nonroot:1.5        busybox + USER 1234
#   e2e-test-images/nonewprivs:1.4     busybox + setuid-root /usr/local/bin/nnp (helpers/nnp.c), CMD nnp
#   e2e-test-images/glibc-dns-testing:2.0.0  Debian bookworm minbase + dnsutils (the same base as agnhost's)
# With REGISTRY=host:port it also pushes them there (skopeo; plain http), under the repository
# paths e2e.test asks for once KUBE_TEST_REPO_LIST points its registries at REGISTRY.
# Cached: the Debian base by package list, the layout by a stamp of its inputs.
# Usage: [REGISTRY=172.18.0.1:5001] e2e/conformance/make-images.sh
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
CACHE=${BULKHEAD_CONFORMANCE_CACHE:-/var/cache/bulkhead-tools/conformance}
K8S_BIN=$(bash "$REPO/e2e/conformance/build.sh" --print-dir)
K8S_VERSION=${K8S_VERSION:-v1.36.3}
OCI=$CACHE/oci
BUILD=$CACHE/build
EPOCH=1672531200
CREATED=2023-01-01T00:00:00Z
log() { printf '[conf-images %4ss] %s\n' "$SECONDS" "$*"; }
die() { printf '[conf-images] ERROR: %s\n' "$*" >&2; exit 1; }
for t in umoci skopeo gcc debootstrap dpkg-deb; do command -v $t >/dev/null || die "missing $t"; done
mkdir -p "$CACHE" "$BUILD"

# name -> repository:tag in the registry (paths as e2e.test asks for them after the rename)
PUSHES=(
  "agnhost e2e-test-images/agnhost:2.63.0"
  "agnhost e2e-test-images/agnhost:2.55"
  "busybox e2e-test-images/busybox:1.37.0-1"
  "pause pause:3.10.2"
  "nonroot e2e-test-images/nonroot:1.5"
  "nonewprivs e2e-test-images/nonewprivs:1.4"
  "glibc-dns-testing e2e-test-images/glibc-dns-testing:2.0.0"
)

MOD_DIR=$(cd /tmp && go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
PORTER=$MOD_DIR/test/images/agnhost/porter
[[ -f $PORTER/localhost.crt ]] || die "no porter cert in $PORTER"

# ---- Debian base for agnhost and glibc-dns-testing, cached by package list
DEB_PACKAGES=bash,curl,netcat-openbsd,iproute2,bind9-dnsutils,iperf,procps,ca-certificates
DEB_BASE=$CACHE/debian-base-$(sha256sum <<<"$DEB_PACKAGES" | cut -c1-12)
if [[ ! -f $DEB_BASE/.done ]]; then
  t0=$SECONDS
  log "debootstrap minbase bookworm (+ $DEB_PACKAGES)"
  rm -rf "$DEB_BASE"
  debootstrap --variant=minbase --include="$DEB_PACKAGES" bookworm "$DEB_BASE" http://deb.debian.org/debian \
    >"$CACHE/debootstrap.log" 2>&1 || { tail -20 "$CACHE/debootstrap.log" >&2; die "debootstrap failed"; }
  chroot "$DEB_BASE" apt-get clean
  rm -rf "$DEB_BASE"/var/lib/apt/lists/* "$DEB_BASE"/var/cache/apt/*.bin "$DEB_BASE"/var/log/*.log \
    "$DEB_BASE"/usr/share/doc/* "$DEB_BASE"/usr/share/man/* "$DEB_BASE"/usr/share/locale/*
  : >"$DEB_BASE/etc/resolv.conf"; : >"$DEB_BASE/etc/hostname"
  touch "$DEB_BASE/.done"
  log "debian base in $((SECONDS - t0))s"
fi

[[ -x $K8S_BIN/agnhost ]] || die "agnhost not built (e2e/conformance/build.sh)"
want=$( { cat "$0" "$REPO"/e2e/images/helpers/{pause,nnp}.c; ls -l --time-style=+%s "$K8S_BIN/agnhost" "$DEB_BASE/.done"; } | sha256sum | cut -c1-16)
if [[ -f $CACHE/stamp && $(cat "$CACHE/stamp") == "$want" ]]; then
  log "OCI layout up to date ($OCI)"
else
  rm -f "$CACHE/stamp"
  t0=$SECONDS
  normalise() { find "$1" -exec touch -h -d "@$EPOCH" {} +; }
  mkroot() { rm -rf "$1"; mkdir -p "$1"; }
  mkdir -p "$BUILD/helpers"
  for h in pause nnp; do gcc -static -Os -s -Wall -o "$BUILD/helpers/$h" "$REPO/e2e/images/helpers/$h.c"; done

  # busybox rootfs: Debian's dynamic busybox (apt-get download, cached) + its glibc
  BB_DEB=$(ls "$CACHE"/busybox_*_amd64.deb 2>/dev/null | head -n1 || true)
  if [[ -z $BB_DEB ]]; then
    (cd "$CACHE" && { apt-get download busybox >/dev/null 2>&1 || { apt-get update -qq && apt-get download busybox >/dev/null; }; })
    BB_DEB=$(ls "$CACHE"/busybox_*_amd64.deb | head -n1)
  fi
  rm -rf "$BUILD/bbdeb" && dpkg-deb -x "$BB_DEB" "$BUILD/bbdeb"
  BB=$BUILD/bbdeb/bin/busybox
  R=$BUILD/rootfs-busybox; mkroot "$R"
  mkdir -p "$R"/{bin,dev,etc,home,proc,root,sys,tmp,usr/bin,usr/sbin,usr/local/bin,var/run,var/www,lib64,lib/x86_64-linux-gnu}
  chmod 1777 "$R/tmp"; chmod 700 "$R/root"
  install -m 0755 "$BB" "$R/bin/busybox"
  for a in $("$BB" --list); do [[ $a == busybox ]] || ln "$R/bin/busybox" "$R/bin/$a"; done
  # /bin/sh is bash, not busybox ash: Debian's busybox 1.35 ash drops environment variables whose
  # names are not shell identifiers ("data-1", from envFrom) before `sh -c env` runs env; upstream's
  # busybox 1.37 passes them through (Secrets/ConfigMap "should be consumable via the environment").
  rm -f "$R/bin/sh"; install -m 0755 /bin/bash "$R/bin/bash"; ln -s bash "$R/bin/sh"
  for lib in $(ldd "$BB" /bin/bash | awk '/=>/ {print $3} /ld-linux/ && !/=>/ {print $1}' | sort -u); do
    mkdir -p "$R$(dirname "$lib")"; cp -L "$lib" "$R$lib"
  done
  # nss: getent/id of numeric users must not need more than files
  for lib in /lib/x86_64-linux-gnu/libnss_files.so.2 /lib/x86_64-linux-gnu/libnss_dns.so.2 /lib/x86_64-linux-gnu/libresolv.so.2; do
    [[ -e $lib ]] && { mkdir -p "$R$(dirname "$lib")"; cp -L "$lib" "$R$lib"; }
  done
  printf 'root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1:daemon:/usr/sbin:/bin/false\nwww-data:x:33:33:www-data:/var/www:/bin/false\nnobody:x:65534:65534:nobody:/home:/bin/false\n' >"$R/etc/passwd"
  printf 'root:x:0:\ndaemon:x:1:\nwheel:x:10:root\nwww-data:x:33:\nusers:x:100:\nnogroup:x:65534:\n' >"$R/etc/group"
  printf 'passwd: files\ngroup: files\nhosts: files dns\n' >"$R/etc/nsswitch.conf"
  : >"$R/etc/hosts"; : >"$R/etc/resolv.conf"; : >"$R/etc/hostname"
  normalise "$R"

  O=$BUILD/overlay-nonewprivs; mkroot "$O"; mkdir -p "$O/usr/local/bin"
  install -m 4755 -o 0 -g 0 "$BUILD/helpers/nnp" "$O/usr/local/bin/nnp"; normalise "$O"
  P=$BUILD/rootfs-pause; mkroot "$P"; install -m 0755 "$BUILD/helpers/pause" "$P/pause"; normalise "$P"
  A=$BUILD/overlay-agnhost; mkroot "$A"
  mkdir -p "$A/uploads" "$A/usr/local/bin" "$A/etc"
  install -m 0755 "$K8S_BIN/agnhost" "$A/agnhost"
  ln -s agnhost "$A/agnhost-2"
  install -m 0644 "$PORTER/localhost.crt" "$PORTER/localhost.key" "$A/"
  ln -s /usr/bin/iperf "$A/usr/local/bin/iperf"
  cp "$DEB_BASE/etc/passwd" "$DEB_BASE/etc/group" "$DEB_BASE/etc/shadow" "$A/etc/"
  echo 'user-defined-in-image:x:1000:1000::/home/user-defined-in-image:/bin/sh' >>"$A/etc/passwd"
  echo 'user-defined-in-image:!:19358:0:99999:7:::' >>"$A/etc/shadow"
  printf 'user-defined-in-image:x:1000:\ngroup-defined-in-image:x:50000:user-defined-in-image\n' >>"$A/etc/group"
  mkdir -p "$A/home/user-defined-in-image"; chown 1000:1000 "$A/home/user-defined-in-image"
  normalise "$A"

  log "building the OCI layout at $OCI"
  rm -rf "$OCI" "$BUILD/bundles"; mkdir -p "$BUILD/bundles"
  umoci init --layout "$OCI"
  H=(--history.created "$CREATED" --history.author "bulkhead e2e/conformance/make-images.sh")
  PATHENV=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
  umoci new --image "$OCI:scratch"
  umoci config --image "$OCI:scratch" --no-history --created "$CREATED" --architecture amd64 --os linux
  layer() { # FROM_TAG NEW_TAG SRC_DIR CREATED_BY
    local b=$BUILD/bundles/$2
    rm -rf "$b"
    umoci unpack --image "$OCI:$1" "$b" >/dev/null
    cp -a "$3/." "$b/rootfs/"
    umoci repack --image "$OCI:$2" "${H[@]}" --history.created_by "$4" "$b"
    rm -rf "$b"
  }
  cfg() { local t=$1; shift; umoci config --image "$OCI:$t" --no-history --created "$CREATED" "$@"; }
  layer scratch busybox "$R" "busybox rootfs (Debian busybox, glibc)"
  cfg busybox --config.env "$PATHENV" --config.cmd sh
  layer scratch pause "$P" "ADD pause /pause"
  cfg pause --config.user 65535:65535 --config.entrypoint /pause
  umoci config --image "$OCI:busybox" --tag nonroot "${H[@]}" --history.created_by "USER 1234" --created "$CREATED" --config.user 1234
  layer busybox nonewprivs "$O" "COPY nnp /usr/local/bin/nnp; chmod +s"
  cfg nonewprivs --clear config.cmd --config.cmd nnp
  D=$BUILD/rootfs-debian; rm -rf "$D"; cp -a "$DEB_BASE" "$D"; rm -f "$D/.done"; normalise "$D"
  layer scratch glibc-dns-testing "$D" "debian bookworm minbase + $DEB_PACKAGES"
  cfg glibc-dns-testing --config.env "$PATHENV" --config.cmd bash
  rm -rf "$D"
  layer glibc-dns-testing agnhost "$A" "agnhost $(basename "$K8S_BIN") + porter cert/key + accounts"
  cfg agnhost --config.entrypoint /agnhost --clear config.cmd --config.cmd pause \
    --config.exposedports 80/tcp --config.exposedports 8080/tcp --config.exposedports 8081/tcp \
    --config.exposedports 9376/tcp --config.exposedports 5000/tcp
  umoci rm --image "$OCI:scratch"
  umoci gc --layout "$OCI"
  echo "$want" >"$CACHE/stamp"
  log "OCI layout built in $((SECONDS - t0))s"
fi

if [[ -n ${REGISTRY:-} ]]; then
  POLICY=$CACHE/policy.json
  echo '{"default":[{"type":"insecureAcceptAnything"}]}' >"$POLICY"
  t0=$SECONDS
  for p in "${PUSHES[@]}"; do
    skopeo --policy "$POLICY" copy --quiet --dest-tls-verify=false "oci:$OCI:${p%% *}" "docker://$REGISTRY/${p#* }"
  done
  log "pushed ${#PUSHES[@]} tags to $REGISTRY in $((SECONDS - t0))s"
fi
