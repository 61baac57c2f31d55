#!/usr/bin/env bash
# make-test-images.sh - build offline stand-ins for every image critest v1.36.0 (and the e2e
# specs) use, and push them to the loopback registry at $REGISTRY (127.0.0.1:5000), which this
# script starts (see start-registry.sh). Repository paths are the originals minus the registry
# host, so the daemon's mirrors (e2e/certs.d/<host>/hosts.toml) for registry.k8s.io, k8s.gcr.io,
# gcr.io, docker.io, public.ecr.aws and quay.io resolve to them.
#
# Fast on re-runs: when the stamp (hash of this script, its helpers and the registry config)
# matches the last successful run and the registry serves every tag, nothing is rebuilt.
# Otherwise the OCI layout is rebuilt from scratch (fixed timestamps: same bytes every time)
# and every tag is (re)pushed with skopeo.
# Inputs: Debian busybox (dynamic, fetched once with `apt-get download busybox`; busybox-static
# is NOT usable as the base because its shell runs applets without a PATH lookup, which defeats
# the MaskedPaths test), glibc + util-linux ipcs from the host, and three tiny static C helpers
# (pause, nnp, nginx wrapper) built with gcc.
set -euo pipefail
LOG_TAG=make-test-images
. "$(dirname "$0")/../lib/common.sh"
HERE=$E2E/images
LAB=$TESTIMAGES_DIR
IMG=$LAB/images
BUILD=$IMG/build
OCI=$IMG/oci
REG=$REGISTRY
STAMP=$IMG/stamp
EPOCH=1672531200                      # 2023-01-01T00:00:00Z, fixed for reproducible layers
CREATED=2023-01-01T00:00:00Z
mkdir -p "$LAB"

# ---------------------------------------------------------------- what is pushed
# OCI_TAG (built below) -> REPO:TAG in the registry. critest v1.36.0 sources:
#   pkg/framework (busybox:1.29-2), pkg/validate (consts.go, security_context, multi_container,
#   image*.go), pkg/benchmark (public.ecr.aws busybox list).
PUSHES=(
  "busybox e2e-test-images/busybox:1.29-2"           # registry.k8s.io default test container image
  "busybox library/busybox:latest"                   # docker.io/library/busybox (crictl smoke specs)
  "busybox library/busybox:1.36"
  "busybox library/busybox:1.37.0"
  "busybox docker/library/busybox:1.35.0-glibc"      # critest -benchmark image list (public.ecr.aws)
  "busybox docker/library/busybox:1-uclibc"
  "busybox docker/library/busybox:1"
  "busybox docker/library/busybox:1-glibc"
  "busybox docker/library/busybox:1-musl"
  "pause pause:3.6"                                  # sandbox images: registry.k8s.io/pause
  "pause pause:3.9"                                  # (3.9 also via k8s.gcr.io: multi-registry specs)
  "pause pause:3.10"
  "pause pause:3.10.1"
  "nginx e2e-test-images/nginx:1.14-2"
  "httpd e2e-test-images/httpd:2.4.39-4"
  "nonewprivs e2e-test-images/nonewprivs:1.3"
  "hostnet-nginx k8s-staging-cri-tools/hostnet-nginx-amd64:latest"   # gcr.io/k8s-staging-cri-tools/...
  "test-image-user-uid k8s-staging-cri-tools/test-image-user-uid:latest"
  "test-image-user-username k8s-staging-cri-tools/test-image-user-username:latest"
  "test-image-user-uid-group k8s-staging-cri-tools/test-image-user-uid-group:latest"
  "test-image-user-username-group k8s-staging-cri-tools/test-image-user-username-group:latest"
  "test-image-predefined-group k8s-staging-cri-tools/test-image-predefined-group:latest"
  "marker-test-image-1 k8s-staging-cri-tools/test-image-1:latest"
  "marker-test-image-2 k8s-staging-cri-tools/test-image-2:latest"
  "marker-test-image-3 k8s-staging-cri-tools/test-image-3:latest"
  "marker-test-image-latest k8s-staging-cri-tools/test-image-latest:latest"
  # Pushed for completeness only: critest pulls it by an upstream digest that no offline build
  # can reproduce ("public image with digest" is on critest.sh's skip list).
  "marker-test-image-digest k8s-staging-cri-tools/test-image-digest:latest"
  "marker-same-image k8s-staging-cri-tools/test-image-tags:1"
  "marker-same-image k8s-staging-cri-tools/test-image-tags:2"
  "marker-same-image k8s-staging-cri-tools/test-image-tags:3"
  "marker-test k8s-staging-cri-tools/test-image-tag:test"
  "marker-all k8s-staging-cri-tools/test-image-tag:all"
)

registry_has_all() {
  local p repo tag
  for p in "${PUSHES[@]}"; do
    p=${p#* }; repo=${p%:*}; tag=${p##*:}
    curl -fs -o /dev/null -I \
      -H 'Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' \
      "http://$REG/v2/$repo/manifests/$tag" || return 1
  done
}

# ---------------------------------------------------------------- registry + fast path
rc=0; "$HERE/start-registry.sh" || rc=$?
[ $rc = 0 ] || [ $rc = 3 ] || die "cannot start the registry"
want_stamp=$(cat "$HERE/make-test-images.sh" "$HERE"/helpers/*.c "$HERE/registry-config.yml" | sha256sum | cut -d' ' -f1)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want_stamp" ] && registry_has_all; then
  log "registry $REG already serves all ${#PUSHES[@]} tags (stamp ${want_stamp:0:12}); nothing to do"
  exit 0
fi
rm -f "$STAMP"

export TMPDIR=$LAB/tmp SOURCE_DATE_EPOCH=$EPOCH
mkdir -p "$TMPDIR" "$BUILD" "$LAB/debs"
for t in umoci skopeo gcc curl dpkg-deb; do command -v $t >/dev/null || die "missing $t (run e2e/setup.sh)"; done

# ---------------------------------------------------------------- inputs
BB_DEB=$(ls "$LAB"/debs/busybox_*_amd64.deb 2>/dev/null | head -n1 || true)
if [ -z "$BB_DEB" ]; then
  log "downloading Debian busybox (dynamic) .deb from the Debian mirror"
  (cd "$LAB/debs" && { apt-get download busybox >/dev/null 2>&1 || { apt-get update -qq && apt-get download busybox >/dev/null 2>&1; }; })
  BB_DEB=$(ls "$LAB"/debs/busybox_*_amd64.deb | head -n1)
fi
rm -rf "$BUILD/bbdeb" && mkdir -p "$BUILD/bbdeb" && dpkg-deb -x "$BB_DEB" "$BUILD/bbdeb"
BB=$BUILD/bbdeb/bin/busybox

log "compiling static helpers (pause, nnp, nginx)"
mkdir -p "$BUILD/helpers"
for h in pause nnp nginx; do
  gcc -static -Os -s -Wall -o "$BUILD/helpers/$h" "$HERE/helpers/$h.c"
done

# ---------------------------------------------------------------- rootfs trees
mkroot() { rm -rf "$1"; mkdir -p "$1"; }
normalise() {  # fixed mtimes so umoci produces the same layer bytes every run
  find "$1" -exec touch -h -d "@$EPOCH" {} +
}
copy_lib() {  # copy a shared object (following symlinks) into the rootfs at the same path
  local f=$1 root=$2
  mkdir -p "$root$(dirname "$f")"
  cp -L "$f" "$root$f"
}

R=$BUILD/rootfs-busybox
log "assembling busybox base rootfs"
mkroot "$R"
mkdir -p "$R"/{bin,dev,etc,home,proc,root,sys,tmp,usr/bin,usr/sbin,usr/local/bin,var/run,var/spool/mail,var/www,lib64,lib/x86_64-linux-gnu}
chmod 1777 "$R/tmp"; chmod 700 "$R/root"
install -m 0755 "$BB" "$R/bin/busybox"
for a in $("$BB" --list); do [ "$a" = busybox ] || ln "$R/bin/busybox" "$R/bin/$a"; done   # hard links, like the busybox image
# glibc for the dynamic busybox and util-linux ipcs (busybox has no ipcs applet)
for lib in $(ldd "$BB" /usr/bin/ipcs | awk '/=>/ {print $3} /ld-linux/ && !/=>/ {print $1}' | sort -u); do
  copy_lib "$lib" "$R"
done
install -m 0755 /usr/bin/ipcs "$R/usr/bin/ipcs"
cat > "$R/bin/pgrep" <<'PGREP'
#!/bin/sh
# minimal pgrep stand-in (Debian busybox has no pgrep applet): pgrep PATTERN
[ $# -ge 1 ] || { echo "usage: pgrep PATTERN" >&2; exit 2; }
rc=1
for d in /proc/[0-9]*; do
  c=$(cat "$d/comm" 2>/dev/null) || continue
  if echo "$c" | grep -qE -- "$1"; then echo "${d#/proc/}"; rc=0; fi
done
exit $rc
PGREP
chmod 0755 "$R/bin/pgrep"
cat > "$R/etc/passwd" <<'PW'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
sys:x:3:3:sys:/dev:/bin/false
sync:x:4:100:sync:/bin:/bin/sync
mail:x:8:8:mail:/var/spool/mail:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
operator:x:37:37:Operator:/var:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
PW
cat > "$R/etc/group" <<'GR'
root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
adm:x:4:
tty:x:5:
disk:x:6:
lp:x:7:
mail:x:8:
kmem:x:9:
wheel:x:10:root
cdrom:x:11:
dialout:x:18:
floppy:x:19:
video:x:28:
audio:x:29:
tape:x:32:
www-data:x:33:
operator:x:37:
utmp:x:43:
plugdev:x:46:
staff:x:50:
lock:x:54:
netdev:x:82:
users:x:100:
nogroup:x:65534:
GR
printf 'root:*::0:::::\nnobody:*::0:::::\n' > "$R/etc/shadow"; chmod 600 "$R/etc/shadow"
printf 'passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n' > "$R/etc/nsswitch.conf"
: > "$R/etc/hosts"; : > "$R/etc/resolv.conf"; : > "$R/etc/hostname"
normalise "$R"

# nginx:1.14-2 / hostnet-nginx overlays
mk_nginx_overlay() {  # $1=dir $2=port
  local O=$1
  mkroot "$O"
  mkdir -p "$O/usr/sbin" "$O/etc/nginx/conf.d" "$O/usr/share/nginx/html" "$O/var/log/nginx" "$O/var/cache/nginx"
  install -m 0755 "$BUILD/helpers/nginx" "$O/usr/sbin/nginx"
  printf 'server {\n    listen       %s;\n    server_name  localhost;\n    location / {\n        root   /usr/share/nginx/html;\n        index  index.html index.htm;\n    }\n}\n' "$2" \
    > "$O/etc/nginx/conf.d/default.conf"
  printf '<!DOCTYPE html>\n<html><head><title>Welcome to nginx!</title></head>\n<body><h1>Welcome to nginx!</h1><p>critest bench stand-in (busybox httpd).</p></body></html>\n' \
    > "$O/usr/share/nginx/html/index.html"
  cp "$O/usr/share/nginx/html/index.html" "$O/usr/share/nginx/html/50x.html"
  normalise "$O"
}
mk_nginx_overlay "$BUILD/overlay-nginx" 80
mk_nginx_overlay "$BUILD/overlay-hostnet-nginx" 12003

# httpd:2.4.39-4 overlay (multi-container test wants "httpd -D FOREGROUND" in the log and port 80)
O=$BUILD/overlay-httpd; mkroot "$O"
mkdir -p "$O/usr/local/bin" "$O/usr/local/apache2/htdocs" "$O/usr/local/apache2/logs"
cat > "$O/usr/local/bin/httpd-foreground" <<'HF'
#!/bin/sh
# httpd:2.4 stand-in: print Apache's AH00094 command-line notice, serve htdocs with busybox httpd.
echo "[mpm_event:notice] [pid $$:tid 0] AH00094: Command line: 'httpd -D FOREGROUND'" >&2
trap 'kill "$pid" 2>/dev/null; wait "$pid"; exit 0' TERM INT QUIT WINCH
httpd -f -p 80 -h /usr/local/apache2/htdocs &
pid=$!
wait "$pid"
HF
chmod 0755 "$O/usr/local/bin/httpd-foreground"
printf '<html><body><h1>It works!</h1></body></html>\n' > "$O/usr/local/apache2/htdocs/index.html"
normalise "$O"

# nonewprivs:1.3 overlay: setuid-root nnp
O=$BUILD/overlay-nonewprivs; mkroot "$O"
mkdir -p "$O/usr/local/bin"
install -m 4755 -o 0 -g 0 "$BUILD/helpers/nnp" "$O/usr/local/bin/nnp"
normalise "$O"

# test-image-predefined-group overlay: default-user(1000) in group-defined-in-image(50000)
O=$BUILD/overlay-predefined-group; mkroot "$O"
mkdir -p "$O/etc" "$O/home/default-user"
cp "$R/etc/passwd" "$R/etc/group" "$R/etc/shadow" "$O/etc/"
echo 'default-user:x:1000:1000:Linux User,,,:/home/default-user:/bin/sh' >> "$O/etc/passwd"
echo 'default-user:!:19358:0:99999:7:::' >> "$O/etc/shadow"
printf 'default-user:x:1000:\ngroup-defined-in-image:x:50000:default-user\n' >> "$O/etc/group"
chown 1000:1000 "$O/home/default-user"
normalise "$O"

# pause rootfs (FROM scratch)
P=$BUILD/rootfs-pause; mkroot "$P"
install -m 0755 "$BUILD/helpers/pause" "$P/pause"
normalise "$P"

# marker files for the image-test family (FROM busybox; ADD ${TEST} ${TEST})
MK=$BUILD/markers; mkroot "$MK"
for n in test-image-1 test-image-2 test-image-3 test-image-latest test-image-digest same-image test all; do
  mkdir -p "$MK/$n"; : > "$MK/$n/$n"
done
normalise "$MK"

# ---------------------------------------------------------------- OCI images (umoci)
# Layers are made with `umoci unpack` + copy + `umoci repack` (not `umoci insert`: the
# Debian umoci 0.4.7 insert path never closes its tar writer, leaving truncated layers).
log "building OCI layout with umoci at $OCI"
rm -rf "$OCI" "$BUILD/bundles"; mkdir -p "$BUILD/bundles"
umoci init --layout "$OCI"
H=(--history.created "$CREATED" --history.author "critest-bench")
LBL=(--config.label "org.opencontainers.image.description=critest $CRI_TOOLS_VERSION offline stand-in (bulkhead e2e/images/make-test-images.sh)")
PATHENV=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

umoci new --image "$OCI:scratch"
umoci config --image "$OCI:scratch" --no-history --created "$CREATED" --architecture amd64 --os linux

layer() {  # layer FROM_TAG NEW_TAG SRC_DIR CREATED_BY : NEW_TAG = FROM_TAG + one layer with SRC_DIR's tree
  local b=$BUILD/bundles/$2
  rm -rf "$b"
  umoci unpack --image "$OCI:$1" "$b" >/dev/null
  cp -a "$3/." "$b/rootfs/"
  normalise "$b/rootfs"
  umoci repack --image "$OCI:$2" "${H[@]}" --history.created_by "$4" "$b"
  rm -rf "$b"
}
cfg() { local t=$1; shift; umoci config --image "$OCI:$t" --no-history --created "$CREATED" "$@"; }

# busybox base  (stand-in for registry.k8s.io/e2e-test-images/busybox:1.29-2)
layer scratch busybox "$R" "busybox rootfs (Debian busybox $("$BB" 2>&1 | head -n1 | awk '{print $2}'), glibc, util-linux ipcs, pgrep script)"
cfg busybox --config.env "$PATHENV" --config.cmd sh "${LBL[@]}"

# pause (registry.k8s.io/pause:3.6): FROM scratch, USER 65535:65535, ENTRYPOINT ["/pause"]
layer scratch pause "$P" "ADD pause /pause"
cfg pause --config.user 65535:65535 --config.entrypoint /pause "${LBL[@]}"

layer busybox nginx "$BUILD/overlay-nginx" "nginx stand-in: /usr/sbin/nginx wrapper + busybox httpd on :80"
cfg nginx --config.env NGINX_VERSION=1.14.2 --config.exposedports 80/tcp --config.stopsignal SIGTERM \
  --clear config.cmd --config.cmd nginx --config.cmd -g --config.cmd "daemon off;"
layer busybox hostnet-nginx "$BUILD/overlay-hostnet-nginx" "hostnet-nginx stand-in: busybox httpd on :12003"
cfg hostnet-nginx --config.exposedports 12003/tcp --config.stopsignal SIGTERM \
  --clear config.cmd --config.cmd nginx --config.cmd -g --config.cmd "daemon off;"
layer busybox httpd "$BUILD/overlay-httpd" "httpd stand-in: httpd-foreground script + busybox httpd on :80"
cfg httpd --config.env HTTPD_PREFIX=/usr/local/apache2 --config.workingdir /usr/local/apache2 \
  --config.exposedports 80/tcp --config.stopsignal SIGTERM --clear config.cmd --config.cmd httpd-foreground
layer busybox nonewprivs "$BUILD/overlay-nonewprivs" "COPY nnp /usr/local/bin/nnp; chmod +s"
cfg nonewprivs --clear config.cmd --config.entrypoint /usr/local/bin/nnp
layer busybox test-image-predefined-group "$BUILD/overlay-predefined-group" \
  "adduser -u 1000 default-user; addgroup -g 50000 group-defined-in-image; addgroup default-user group-defined-in-image"
cfg test-image-predefined-group --config.user 1000

# image-user family: FROM busybox; USER ${USER}   (config-only images, no new layer)
for pair in test-image-user-uid=1002 test-image-user-username=www-data \
            test-image-user-uid-group=1003:1004 test-image-user-username-group=www-data:1004; do
  umoci config --image "$OCI:busybox" --tag "${pair%%=*}" "${H[@]}" --history.created_by "USER ${pair#*=}" \
    --created "$CREATED" --config.user "${pair#*=}"
done

# image-test family: FROM busybox; ADD ${TEST} ${TEST}
for n in test-image-1 test-image-2 test-image-3 test-image-latest test-image-digest same-image test all; do
  layer busybox "marker-$n" "$MK/$n" "ADD $n /$n"
done
umoci rm --image "$OCI:scratch"
umoci gc --layout "$OCI"

# sanity: every layer blob must be a complete, readable tar (GNU tar is strict about truncation)
for blob in "$OCI"/blobs/sha256/*; do
  if gzip -t "$blob" 2>/dev/null; then
    tar -tzf "$blob" >/dev/null 2>"$TMPDIR/tar.err" || { echo "broken layer $blob:" >&2; cat "$TMPDIR/tar.err" >&2; exit 1; }
  fi
done

# ---------------------------------------------------------------- push
POLICY=$IMG/policy.json
echo '{"default":[{"type":"insecureAcceptAnything"}]}' > "$POLICY"
log "pushing ${#PUSHES[@]} tags to $REG"
for p in "${PUSHES[@]}"; do
  src=${p%% *}; dst=${p#* }
  skopeo --policy "$POLICY" copy --quiet --dest-tls-verify=false "oci:$OCI:$src" "docker://$REG/$dst"
  printf '  %-32s -> %s/%s\n' "$src" "$REG" "$dst"
done
registry_has_all || die "registry does not serve every tag after the push"
echo "$want_stamp" > "$STAMP"
log "done"
