#!/usr/bin/env bash
# make-huge-image.sh - build the ~1 GiB pull benchmark image (issue #18) offline and push it to the
# loopback registry as $REG/bench/huge:1 (pulled as docker.io/bench/huge:1 via the mirrors).
# 8 layers, ~1.07 GB compressed / ~1.3 GB unpacked, the shapes real images have:
#   1    Debian packages (dpkg-deb -x of PKGS below): ~5k real files, compressible (~70 MB gz)
#   2-7  160 MiB each of incompressible files of 1-16 MiB (weights, binaries, media): AES-128-CTR
#        keystream of a fixed key per layer (openssl enc over /dev/zero), so the same bytes every run
#   8    10,000 small text files of 1-14 KiB (sources, node_modules), compressible ~5x
# Layers are tarred by hand (GNU tar, sorted names, fixed mtime and owners) and gzipped with -n,
# the OCI layout's JSON written here: no umoci unpack/repack of a 1 GiB rootfs per layer.
# Cached under $BENCH_IMAGES_DIR/huge (the layout is rebuilt only when this script or the package
# files change: stamp); the push is skipped when the registry already serves the same manifest.
set -euo pipefail
umask 022 # modes of the generated files and dirs are part of the layers' bytes
REG=${REG:-127.0.0.1:5000}
ROOT=${BENCH_IMAGES_DIR:-/var/tmp/bulkhead-bench}
WORK=$ROOT/huge
REPO=bench/huge
TAG=1
PKGS=(gcc-12 cpp-12 libicu72 perl-modules-5.36 libpython3.11-stdlib python3.11-minimal libstdc++-12-dev libgcc-12-dev)
RANDOM_LAYERS=6
RANDOM_LAYER_MIB=160
SMALL_FILES=10000
EPOCH=1672531200
CREATED=2023-01-01T00:00:00Z

log() { printf '[make-huge-image] %s\n' "$*" >&2; }
for t in tar gzip openssl sha256sum skopeo dpkg-deb apt-get curl awk; do command -v $t >/dev/null || { echo "missing $t" >&2; exit 1; }; done
mkdir -p "$ROOT/debs" "$WORK"
(cd "$ROOT/debs" && for p in "${PKGS[@]}"; do ls ${p}_*.deb >/dev/null 2>&1 || apt-get download "$p" >/dev/null; done)
debs=()
for p in "${PKGS[@]}"; do debs+=("$(ls "$ROOT"/debs/${p}_*.deb | head -n1)"); done

OCI=$WORK/oci
STAMP=$WORK/build.stamp
want=$( { cat "$0"; printf '%s\n' "${debs[@]##*/}"; } | sha256sum | cut -d' ' -f1)
manifest_digest() { sed -E 's/.*"digest":"(sha256:[0-9a-f]+)".*/\1/' "$OCI/index.json"; }

build() {
  rm -rf "$OCI" "$WORK/tree" "$WORK/layers"
  mkdir -p "$OCI/blobs/sha256" "$WORK/layers"
  local n=0 diffids=() layers=()
  add_layer() { # tree dir, gzip level: tar it reproducibly, record diff_id and blob
    local tree=$1 level=$2 tarf=$WORK/layers/layer.tar
    n=$((n + 1))
    find "$tree" -exec touch -h -d "@$EPOCH" {} +
    tar --sort=name --format=gnu --mtime="@$EPOCH" --owner=0 --group=0 --numeric-owner -C "$tree" -cf "$tarf" .
    diffids+=("sha256:$(sha256sum "$tarf" | cut -d' ' -f1)")
    gzip -n "-$level" -c "$tarf" > "$tarf.gz"
    local d s
    d=$(sha256sum "$tarf.gz" | cut -d' ' -f1)
    s=$(stat -c %s "$tarf.gz")
    mv "$tarf.gz" "$OCI/blobs/sha256/$d"
    rm -f "$tarf"
    rm -rf "$tree"
    layers+=("{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"sha256:$d\",\"size\":$s}")
    log "layer $n: $((s / 1000000)) MB compressed"
  }

  mkdir -p "$WORK/tree"
  for deb in "${debs[@]}"; do dpkg-deb -x "$deb" "$WORK/tree"; done
  add_layer "$WORK/tree" 6

  for l in $(seq 1 $RANDOM_LAYERS); do
    mkdir -p "$WORK/tree/opt/blobs$l"
    local left=$((RANDOM_LAYER_MIB)) f=0 mib
    while [ $left -gt 0 ]; do
      f=$((f + 1))
      mib=$(( (f * 7 + l * 3) % 16 + 1 )); [ $mib -gt $left ] && mib=$left
      head -c $((mib * 1048576)) /dev/zero \
        | openssl enc -aes-128-ctr -nosalt -K "$(printf '%032x' "$l")" -iv "$(printf '%032x' "$f")" \
        > "$WORK/tree/opt/blobs$l/part-$(printf '%03d' $f).bin"
      left=$((left - mib))
    done
    # Level 1: deflate stores incompressible input anyway, level 6 would only take longer to say so.
    add_layer "$WORK/tree" 1
  done

  mkdir -p "$WORK/tree/srv/app"/m{000..499}
  awk -v n=$SMALL_FILES -v dir="$WORK/tree/srv/app" 'BEGIN {
    for (i = 1; i <= n; i++) {
      f = sprintf("%s/m%03d/file-%05d.js", dir, i % 500, i)
      lines = 20 + (i * 37) % 300
      for (j = 0; j < lines; j++) printf "export const value_%d_%d = %d; // line %d of module %d\n", i, j, (i * 131 + j * 7) % 100003, j, i > f
      close(f)
    }
  }'
  add_layer "$WORK/tree" 6

  local ids lyr cfg cd cs md ms
  ids=$(IFS=,; echo "\"${diffids[*]}\"" | sed 's/,/","/g')
  lyr=$(IFS=,; echo "${layers[*]}")
  cfg="{\"architecture\":\"amd64\",\"os\":\"linux\",\"created\":\"$CREATED\",\"config\":{\"Cmd\":[\"/bin/true\"]},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[$ids]}}"
  printf '%s' "$cfg" > "$WORK/config.json"
  cd=$(sha256sum "$WORK/config.json" | cut -d' ' -f1); cs=$(stat -c %s "$WORK/config.json")
  mv "$WORK/config.json" "$OCI/blobs/sha256/$cd"
  printf '%s' "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"sha256:$cd\",\"size\":$cs},\"layers\":[$lyr]}" > "$WORK/manifest.json"
  md=$(sha256sum "$WORK/manifest.json" | cut -d' ' -f1); ms=$(stat -c %s "$WORK/manifest.json")
  mv "$WORK/manifest.json" "$OCI/blobs/sha256/$md"
  printf '%s' '{"imageLayoutVersion":"1.0.0"}' > "$OCI/oci-layout"
  printf '%s' "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"sha256:$md\",\"size\":$ms,\"annotations\":{\"org.opencontainers.image.ref.name\":\"img\"}}]}" > "$OCI/index.json"
  rm -rf "$WORK/layers"
  echo "$want" > "$STAMP"
  log "built $OCI (manifest sha256:$md)"
}

if [ ! -s "$OCI/index.json" ] || [ ! -s "$STAMP" ] || [ "$(cat "$STAMP")" != "$want" ]; then
  log "building the ~1 GiB image under $WORK (a few minutes)"
  build
fi

ACCEPT='application/vnd.oci.image.manifest.v1+json,application/vnd.docker.distribution.manifest.v2+json'
current=$(curl -fsSI -H "Accept: $ACCEPT" "http://$REG/v2/$REPO/manifests/$TAG" 2>/dev/null \
  | tr -d '\r' | awk -F': ' 'tolower($1)=="docker-content-digest"{print $2}' || true)
if [ "$current" = "$(manifest_digest)" ]; then log "up to date ($REG/$REPO:$TAG $current)"; exit 0; fi
echo '{"default":[{"type":"insecureAcceptAnything"}]}' > "$WORK/policy.json"
# --preserve-digests: the registry must serve the manifest built here (the up-to-date check above).
skopeo --policy "$WORK/policy.json" copy --quiet --preserve-digests --dest-tls-verify=false "oci:$OCI:img" "docker://$REG/$REPO:$TAG"
log "pushed $REG/$REPO:$TAG $(manifest_digest)"
