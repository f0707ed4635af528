#!/usr/bin/env bash
# Build the patched llama.cpp and our JNI library, cached outside the clone.
#
# usage: build-native.sh cpu|cuda OUT_DIR
#
#   1. fetch-llama.sh: the pinned, verified llama.cpp source
#   2. apply patches/*.patch with git am into a tree keyed by commit + patch-series hash (+ our CUDA kernels,
#      ../kernels/src/main/cuda, copied into its ggml/src/ggml-cuda/)
#   3. configure and build (CMake) in a folder keyed by that tree + variant + flags;
#      our JNI and superbuild sources are synced in, so a JNI change rebuilds only the JNI
#   4. copy the shared libraries, natives.list (load order) and BUILD-INFO into OUT_DIR
#
# Environment: DELTAKV_CACHE (cache root), DELTAKV_JOBS (parallel jobs, default nproc),
# DELTAKV_CUDA_ARCHS (default 90), DELTAKV_CMAKE_ARGS (extra configure flags, part of the key),
# DELTAKV_LLAMA_BUNDLE (use this git bundle instead of npm, for machines without the registry),
# DELTAKV_PATCHES_DIR (default patches/; an empty folder builds stock llama.cpp, the bit-identity reference).
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

# --- patched tree, keyed by commit + patch series ---------------------------------------------
patches_dir=${DELTAKV_PATCHES_DIR:-$here/patches}
patches=("$patches_dir"/*.patch)
[ -e "${patches[0]}" ] || patches=()
# our CUDA kernels (kernels/src/main/cuda) go into the tree's ggml-cuda, next to the ops the patches wire them to
kernels_dir=${DELTAKV_KERNELS_DIR:-$here/../kernels/src/main/cuda}
kernels=("$kernels_dir"/*.cu "$kernels_dir"/*.cuh)
[ -e "${kernels[0]}" ] && [ ${#patches[@]} -gt 0 ] || kernels=() # stock llama.cpp (no patches) gets none
patch_hash=$(cat /dev/null "${patches[@]}" "${kernels[@]}" | sha256sum | cut -c1-16)
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
  grep -qx "llama.commit=$LLAMA_COMMIT" "$cuda_backend/BUILD-INFO" && grep -qx "patch.series=$patch_hash" "$cuda_backend/BUILD-INFO" \
    || die "the CUDA backend in $cuda_backend was built from other sources (its BUILD-INFO: $(grep -E '^(llama.commit|patch.series)=' "$cuda_backend/BUILD-INFO" | tr '\n' ' '); here: $LLAMA_COMMIT $patch_hash)"
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
  [ ${#kernels[@]} -eq 0 ] || cp "${kernels[@]}" "$tmp/llama.cpp/ggml/src/ggml-cuda/"
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
flags_hash=$(printf '%s\n' "$variant" "${flags[@]}" "${generator[@]}" | sha256sum | cut -c1-12)
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
  echo "patch.series=$patch_hash"
  if [ -n "$cuda_backend" ]; then echo "variant=cuda"; else echo "variant=$variant"; fi
  echo "flags=${flags[*]}"
  [ -z "$cuda_backend" ] || sed -n 's/^flags=/cuda.backend.flags=/p' "$cuda_backend/BUILD-INFO"
  echo "build.dir=$build"
  (cd "$out" && sha256sum lib*.so | sed 's/^\([0-9a-f]*\)  \(.*\)/sha256.\2=\1/')
} >"$out/BUILD-INFO"
log "staged $(ls "$out"/*.so | wc -l) libraries in $out"
