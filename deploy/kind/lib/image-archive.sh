#!/usr/bin/env bash
# make_image_archive OUT NAME:TAG CONFIG_JSON LAYER.tar...
# Writes OUT in `docker save`'s layout (docker 20.10: <n>/layer.tar, <config-hex>.json,
# manifest.json), with no engine and no registry: the layers are given as uncompressed tars, the
# config's rootfs.diff_ids are their sha256 digests. CONFIG_JSON is the "config" object
# (Entrypoint, Cmd, Env, ...). `bulkhead images import` and `docker load` both read the result.
# Sourced by deploy/kind/build-node-image.sh.

make_image_archive() {
  local out=$1 name=$2 config=$3
  shift 3
  local work diff_ids=() layer_names=() i=0 l hex
  work=$(mktemp -d "${TMPDIR:-/tmp}/bh-image-archive.XXXXXX")
  for l in "$@"; do
    hex=$(sha256sum "$l" | cut -d' ' -f1)
    mkdir -p "$work/$i"
    # Hardlinks, not copies: a base layer is hundreds of MB and the archive is read once.
    ln "$l" "$work/$i/layer.tar" 2>/dev/null || cp "$l" "$work/$i/layer.tar"
    diff_ids+=("\"sha256:$hex\"")
    layer_names+=("\"$i/layer.tar\"")
    i=$((i + 1))
  done
  local ids names
  ids=$(IFS=,; echo "${diff_ids[*]}")
  names=$(IFS=,; echo "${layer_names[*]}")
  printf '{"architecture":"amd64","os":"linux","created":"1970-01-01T00:00:00Z","config":%s,"rootfs":{"type":"layers","diff_ids":[%s]}}' \
    "$config" "$ids" > "$work/config.json"
  hex=$(sha256sum "$work/config.json" | cut -d' ' -f1)
  mv "$work/config.json" "$work/$hex.json"
  printf '[{"Config":"%s.json","RepoTags":["%s"],"Layers":[%s]}]' "$hex" "$name" "$names" > "$work/manifest.json"
  # manifest.json last, as docker writes it: an importer must not depend on the order.
  local dirs=() j
  for ((j = 0; j < i; j++)); do dirs+=("$j"); done
  tar -C "$work" --owner=0 --group=0 --numeric-owner -cf "$out.tmp" "${dirs[@]}" "$hex.json" manifest.json
  mv -f "$out.tmp" "$out"
  rm -rf "$work"
}
