#!/usr/bin/env bash
# make-big-image.sh - build the pull benchmark's multi-layer image (~170 MB unpacked, one layer
# per Debian package, from `apt-get download` + `dpkg-deb -x`) and push it to the loopback
# registry as $REG/bench/debian-big:1 (pulled as docker.io/bench/debian-big:1 via the mirrors).
# Layers are made with umoci unpack + copy + repack (umoci 0.4.7 `insert` writes truncated
# layers). Idempotent: skipped when the stamp matches the registry's manifest digest.
set -euo pipefail
REG=${REG:-127.0.0.1:5000}
WORK=${BENCH_IMAGES_DIR:-/var/tmp/bulkhead-bench}
REPO=bench/debian-big
TAG=1
PKGS=(gcc-12 cpp-12 libicu72 perl-modules-5.36 libpython3.11-stdlib python3.11-minimal)
EPOCH=1672531200
CREATED=2023-01-01T00:00:00Z
export SOURCE_DATE_EPOCH=$EPOCH

log() { printf '[make-big-image] %s\n' "$*" >&2; }
for t in umoci skopeo dpkg-deb apt-get curl; do command -v $t >/dev/null || { echo "missing $t" >&2; exit 1; }; done
mkdir -p "$WORK/debs" "$WORK/tmp"
export TMPDIR=$WORK/tmp
STAMP=$WORK/debian-big.stamp
ACCEPT='application/vnd.oci.image.manifest.v1+json,application/vnd.docker.distribution.manifest.v2+json'
current=$(curl -fsSI -H "Accept: $ACCEPT" "http://$REG/v2/$REPO/manifests/$TAG" 2>/dev/null \
  | tr -d '\r' | awk -F': ' 'tolower($1)=="docker-content-digest"{print $2}' || true)
if [ -n "$current" ] && [ -s "$STAMP" ] && [ "$(cat "$STAMP")" = "$current" ]; then
  log "up to date ($REG/$REPO:$TAG $current)"; exit 0
fi

(cd "$WORK/debs" && for p in "${PKGS[@]}"; do ls ${p}_*.deb >/dev/null 2>&1 || apt-get download "$p" >/dev/null; done)
OCI=$WORK/oci
rm -rf "$OCI" "$WORK/bundle" "$WORK/tree"
umoci init --layout "$OCI"
umoci new --image "$OCI:img"
umoci config --image "$OCI:img" --no-history --created "$CREATED" --architecture amd64 --os linux
for p in "${PKGS[@]}"; do
  deb=$(ls "$WORK"/debs/${p}_*.deb | head -n1)
  log "layer: $(basename "$deb")"
  rm -rf "$WORK/tree" && mkdir -p "$WORK/tree" && dpkg-deb -x "$deb" "$WORK/tree"
  umoci unpack --image "$OCI:img" "$WORK/bundle" >/dev/null
  cp -a "$WORK/tree/." "$WORK/bundle/rootfs/"
  find "$WORK/bundle/rootfs" -exec touch -h -d "@$EPOCH" {} +
  umoci repack --image "$OCI:img" --history.created "$CREATED" --history.created_by "dpkg-deb -x $(basename "$deb")" "$WORK/bundle"
  rm -rf "$WORK/bundle"
done
rm -rf "$WORK/tree"
umoci config --image "$OCI:img" --no-history --created "$CREATED" --config.cmd /bin/true
umoci gc --layout "$OCI"
echo '{"default":[{"type":"insecureAcceptAnything"}]}' > "$WORK/policy.json"
skopeo --policy "$WORK/policy.json" copy --quiet --dest-tls-verify=false "oci:$OCI:img" "docker://$REG/$REPO:$TAG"
digest=$(curl -fsSI -H "Accept: $ACCEPT" "http://$REG/v2/$REPO/manifests/$TAG" | tr -d '\r' \
  | awk -F': ' 'tolower($1)=="docker-content-digest"{print $2}')
echo "$digest" > "$STAMP"
log "pushed $REG/$REPO:$TAG $digest"
