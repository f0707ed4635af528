#!/usr/bin/env bash
# Shared settings and helpers for the native build scripts (sourced, not run).
# $here is the llamacpp-patch folder.

# One collation everywhere: globs (the patch series and kernels, hashed in that order into the cache key) sort
# alike on every machine.
export LC_ALL=C

# Native build cache, outside any clone so that a fresh clone (and CI) reuses it.
DELTAKV_CACHE=${DELTAKV_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/langchain4j-deltakv}
mkdir -p "$DELTAKV_CACHE"

log() { echo "[deltakv-native] $*" >&2; }
die() { echo "[deltakv-native] ERROR: $*" >&2; exit 1; }

prop() { # prop KEY: a value of llama-source.properties
  local v
  v=$(sed -n "s/^$1=//p" "$here/llama-source.properties")
  [ -n "$v" ] || die "llama-source.properties has no $1"
  echo "$v"
}

check_sha256() { # check_sha256 FILE EXPECTED WHAT
  local got
  got=$(sha256sum "$1" | cut -d' ' -f1)
  [ "$got" = "$2" ] || die "$3: sha256 is $got, expected $2 (wrong or tampered download)"
}

NPM_PACKAGE=$(prop npm.package)
NPM_TARBALL_SHA256=$(prop npm.tarball.sha256)
BUNDLE_PATH=$(prop bundle.path)
BUNDLE_SHA256=$(prop bundle.sha256)
LLAMA_COMMIT=$(prop llama.commit)
