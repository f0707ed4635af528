#!/usr/bin/env bash
# Build the patched llama.cpp and our JNI library, cached outside the clone.
#
# usage: build-native.sh cpu|cuda OUT_DIR
#
#   1. fetch-llama.sh: the pinned, verified llama.cpp source
#   2. apply the hook patches (patches/*.patch) with git am into a tree keyed by commit + patches hash
#   3. copy the DeltaKV sources into that tree: llama.cpp/ at the same paths (src/, include/, ggml/, common/), the
#      CUDA kernels of ../kernels/src/main/cuda into ggml/src/ggml-cuda/; synced by content, so a change to one of
#      them rebuilds only what depends on it
#   4. configure and build (CMake) in a folder keyed by that tree + variant + flags;
#      our JNI and superbuild sources are synced in the same way
#   5. copy the shared libraries, natives.list (load order) and BUILD-INFO into OUT_DIR
#
# Environment: DELTAKV_CACHE (cache root), DELTAKV_JOBS (parallel jobs, default nproc),
# DELTAKV_CUDA_ARCHS (default 90), DELTAKV_CMAKE_ARGS (extra configure flags, part of the key),
# DELTAKV_LLAMA_BUNDLE (use this git bundle instead of npm, for machines without the registry),
# DELTAKV_PATCHES_DIR (default patches/; an empty folder builds stock llama.cpp, the bit-identity reference: no
# patches, no DeltaKV sources).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=common.sh
. "$here/scripts/common.sh"

variant=${1:?usage: build-native.sh cpu|cuda OUT_DIR}
out=${2:?usage: build-native.sh cpu|cuda OUT_DIR}
jobs=${DELTAKV_JOBS:-$(nproc)}

exec 9>"$DELTAKV_CACHE/build.lock"
flock 9 # one native build at a time per cache

src=$("$here/scripts/fetch-llama.sh")

# --- the DeltaKV sources: hook patches, plain files copied into the tree, CUDA kernels ---------------------------
patches_dir=${DELTAKV_PATCHES_DIR:-$here/patches}
patches=("$patches_dir"/*.patch)
[ -e "${patches[0]}" ] || patches=()
# plain files: llama.cpp/ mirrors the tree's layout; the CUDA kernels go into the tree's ggml-cuda
overlay=() # pairs "source destination" relative to the tree
if [ ${#patches[@]} -gt 0 ]; then # stock llama.cpp (no patches) gets none
  [ -d "$here/llama.cpp" ] || die "$here/llama.cpp (the DeltaKV sources) is missing"
  while read -r f; do overlay+=("$here/llama.cpp/$f" "$f"); done < <(cd "$here/llama.cpp" && find . -type f | sed 's|^\./||' | sort)
  kernels_dir=${DELTAKV_KERNELS_DIR:-$here/../kernels/src/main/cuda}
  for f in "$kernels_dir"/*.cu "$kernels_dir"/*.cuh; do
    [ -e "$f" ] && overlay+=("$f" "ggml/src/ggml-cuda/$(basename "$f")")
  done
fi
for ((i = 1; i < ${#overlay[@]}; i += 2)); do
  [ ! -e "$src/${overlay[i]}" ] || die "${overlay[i]} is a llama.cpp file: the DeltaKV sources only add files (hooks go in patches)"
done
patch_hash=$(cat /dev/null "${patches[@]}" | sha256sum | cut -c1-16)
# what the built libraries come from: patches, then each copied file's path and content
sources_hash=$( { cat /dev/null "${patches[@]}"; for ((i = 0; i < ${#overlay[@]}; i += 2)); do
  echo "${overlay[i+1]}"; cat "${overlay[i]}"; done; } | sha256sum | cut -c1-16)
tree_key="${LLAMA_COMMIT:0:12}-$patch_hash"
work="$DELTAKV_CACHE/work/$tree_key"

# --- the CUDA variant where no CUDA toolkit is: this CPU build + a CUDA backend built elsewhere -------
# DELTAKV_CUDA_BACKEND: a folder with libggml-cuda.so and the BUILD-INFO of the CUDA build it came from (on a GPU
# machine, build-native.sh cuda of the same sources). ggml loads backends at run time, so the CPU libraries of
# this build and that backend make the CUDA variant, as long as both come from the same commit and patches.
cuda_backend=
if [ "$variant" = cuda ] && [ -n "${DELTAKV_CUDA_BACKEND:-}" ]; then
  cuda_backend=$DELTAKV_CUDA_BACKEND
  [ -f "$cuda_backend/libggml-cuda.so" ] && [ -f "$cuda_backend/BUILD-INFO" ] \
    || die "DELTAKV_CUDA_BACKEND=$cuda_backend holds no libggml-cuda.so + BUILD-INFO"
  grep -qx "llama.commit=$LLAMA_COMMIT" "$cuda_backend/BUILD-INFO" && grep -qx "deltakv.sources=$sources_hash" "$cuda_backend/BUILD-INFO" \
    || die "the CUDA backend in $cuda_backend was built from other sources (its BUILD-INFO: $(grep -E '^(llama.commit|deltakv.sources)=' "$cuda_backend/BUILD-INFO" | tr '\n' ' '); here: $LLAMA_COMMIT $sources_hash)"
  log "CUDA variant: this machine's CPU build + the CUDA backend from $cuda_backend"
  variant=cpu
fi

if [ ! -f "$work/llama.cpp/.deltakv-patched" ]; then
  log "applying ${#patches[@]} patch(es) onto $LLAMA_COMMIT"
  tmp=$(mktemp -d "$DELTAKV_CACHE/tmp.patch.XXXXXX")
  git -c advice.detachedHead=false clone -q "$src" "$tmp/llama.cpp"
  for p in "${patches[@]}"; do
    if ! git -C "$tmp/llama.cpp" -c user.name=deltakv -c user.email=deltakv@localhost \
         -c commit.gpgsign=false am -q --committer-date-is-author-date "$p" >/dev/null 2>&1; then
      rm -rf "$tmp"
      die "patch $(basename "$p") does not apply to llama.cpp $LLAMA_COMMIT"
    fi
  done
  touch "$tmp/llama.cpp/.deltakv-patched"
  mkdir -p "$work"
  rm -rf "$work/llama.cpp"
  mv "$tmp/llama.cpp" "$work/llama.cpp"
  rm -rf "$tmp"
fi

# trees of other patch series not built for two weeks go (each is ~250 MB); this one is fresh
touch "$work"
find "$DELTAKV_CACHE/work" -mindepth 1 -maxdepth 1 -type d -mtime +14 ! -name "$tree_key" -exec rm -rf {} + 2>/dev/null || true

# --- our sources: synced by content so unchanged files keep their timestamps -----------------
sync_file() { # sync_file SRC DST
  if ! cmp -s "$1" "$2"; then mkdir -p "$(dirname "$2")"; cp "$1" "$2"; fi
}
# the DeltaKV sources into the tree; those copied by an earlier build and gone since are removed
manifest="$work/llama.cpp/.deltakv-sources"
for ((i = 0; i < ${#overlay[@]}; i += 2)); do sync_file "${overlay[i]}" "$work/llama.cpp/${overlay[i+1]}"; done
if [ -f "$manifest" ]; then
  while read -r f; do
    keep=false
    for ((i = 1; i < ${#overlay[@]}; i += 2)); do [ "${overlay[i]}" = "$f" ] && keep=true && break; done
    $keep || rm -f "$work/llama.cpp/$f"
  done <"$manifest"
fi
for ((i = 1; i < ${#overlay[@]}; i += 2)); do echo "${overlay[i]}"; done >"$manifest"
sync_file "$here/CMakeLists.txt" "$work/superbuild/CMakeLists.txt"
(cd "$here" && find jni tools compat -type f) | while read -r f; do sync_file "$here/$f" "$work/superbuild/$f"; done
# drop files that were removed from jni/, tools/ and compat/
(cd "$work/superbuild" && find jni tools compat -type f 2>/dev/null) | while read -r f; do [ -e "$here/$f" ] || rm -f "$work/superbuild/$f"; done

# --- configure and build -----------------------------------------------------------------------
flags=(-DCMAKE_BUILD_TYPE=Release -DLLAMA_SRC_DIR="$work/llama.cpp")
case "$variant" in
  cpu)  flags+=(-DGGML_CUDA=OFF) ;;
  cuda) flags+=(-DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES="${DELTAKV_CUDA_ARCHS:-90}" -DGGML_CUDA_NCCL=OFF) ;;
  *)    die "unknown variant '$variant' (cpu or cuda)" ;;
esac
# shellcheck disable=SC2206
flags+=(${DELTAKV_CMAKE_ARGS:-})
if command -v ccache >/dev/null; then
  export CCACHE_DIR="$DELTAKV_CACHE/ccache" CCACHE_BASEDIR="$work" CCACHE_NOHASHDIR=1 CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-2G}
  launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
else
  launcher=()
fi
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
# the copied files' names are part of the key (CMake finds ggml-cuda's kernels by a glob when it configures), and
# so is the superbuild's CMakeLists.txt (its options configure llama.cpp): two checkouts never share a build folder
# configured differently
flags_hash=$( { printf '%s\n' "$variant" "${flags[@]}" "${generator[@]}"; for ((i = 1; i < ${#overlay[@]}; i += 2)); do
  echo "${overlay[i]}"; done; cat "$here/CMakeLists.txt"; } | sha256sum | cut -c1-12)
build="$work/build-$variant-$flags_hash"

if [ ! -f "$build/CMakeCache.txt" ]; then
  log "configuring $variant build in $build"
  cmake -S "$work/superbuild" -B "$build" "${generator[@]}" "${flags[@]}" "${launcher[@]}" >"$work/configure-$variant.log" 2>&1 \
    || { tail -40 "$work/configure-$variant.log" >&2; die "cmake configure failed (log: $work/configure-$variant.log)"; }
fi
log "building $variant with $jobs job(s) (first build takes a while; later ones are incremental)"
start=$(date +%s)
show_progress() { # one updating line of progress; errors on their own lines
  while IFS= read -r line; do
    case "$line" in
      \[*) printf '\r[deltakv-native] %-100.100s' "$line" >&2 ;;
      *error*|*Error*|*FAILED*) printf '\n%s\n' "$line" >&2 ;;
    esac
  done
  printf '\n' >&2
}
if ! cmake --build "$build" -j "$jobs" --target deltakv_natives 2>&1 | show_progress; then
  die "native build failed (details: cmake --build $build)"
fi
log "native build done in $(( $(date +%s) - start ))s"

# --- stage the libraries ------------------------------------------------------------------------
rm -rf "$out"
mkdir -p "$out"
cp -L "$build"/bin/lib*.so "$out/"
[ -z "$cuda_backend" ] || cp "$cuda_backend/libggml-cuda.so" "$out/"
# load order: dependencies first; backends (libggml-cpu*, libggml-cuda) are loaded by ggml itself
{
  for lib in libggml-base.so libggml.so libllama.so libllama-common.so libdeltakv_jni.so; do
    [ -f "$out/$lib" ] && echo "$lib"
  done
} >"$out/natives.list"
{
  echo "llama.commit=$LLAMA_COMMIT"
  echo "deltakv.sources=$sources_hash"
  if [ -n "$cuda_backend" ]; then echo "variant=cuda"; else echo "variant=$variant"; fi
  echo "flags=${flags[*]}"
  [ -z "$cuda_backend" ] || sed -n 's/^flags=/cuda.backend.flags=/p' "$cuda_backend/BUILD-INFO"
  echo "build.dir=$build"
  (cd "$out" && sha256sum lib*.so | sed 's/^\([0-9a-f]*\)  \(.*\)/sha256.\2=\1/')
} >"$out/BUILD-INFO"
log "staged $(ls "$out"/*.so | wc -l) libraries in $out"
