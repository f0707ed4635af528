#!/usr/bin/env bash
# Build stock llama.cpp (the pinned commit, no patches) with our tools, as the reference of the
# bit-identity test: with DeltaKV off, the patched build must compute exactly what this one does.
# usage: build-stock-reference.sh OUT_DIR [SKIP]   (SKIP "true": do nothing, e.g. -DskipTests)
set -euo pipefail
if [ "${2:-false}" = "true" ]; then
  echo "[deltakv-native] stock reference build skipped (tests skipped)" >&2
  exit 0
fi
here=$(cd "$(dirname "$0")/.." && pwd)
none=$(mktemp -d)
trap 'rmdir "$none"' EXIT
DELTAKV_PATCHES_DIR=$none exec "$here/scripts/build-native.sh" cpu "${1:?usage: build-stock-reference.sh OUT_DIR}"
