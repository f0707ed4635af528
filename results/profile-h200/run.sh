#!/usr/bin/env bash
# On the GPU machine, one call: build the patched llama.cpp (CUDA; only the speed-bench tools), make the random
# Llama-3.1-8B-shape model and compressors, then time and trace (CUPTI injection, cupti_trace.cpp) batch-1
# decode at depth 32K for stock F16 KV and DeltaKV. Everything small lands in $OUT.
#   env: DELTAKV_LLAMA_BUNDLE (verified llama.cpp git bundle), JNI_INC (a JDK include dir, for configuring)
set -uo pipefail
T0=$(date +%s)
el() { echo $(($(date +%s) - T0)); }
O=${OUT:-/tmp/out}
mkdir -p "$O"
exec > >(tee -a "$O/log.txt") 2>&1
P=$PWD/results/profile-h200
S=$P/snap # snapshot of llamacpp-patch (CMakeLists, jni, tools, patches, scripts)
LIMIT=${LIMIT:-535}

echo "== tools"
which nsys ncu nvcc c++filt ninja
ls /usr/local/cuda*/bin 2>/dev/null | tr '\n' ' '
echo
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,memory.used --format=csv
nproc

# --- CUPTI tracer ---------------------------------------------------------------------------------
CH=$(find /usr/local -name cupti.h 2>/dev/null | head -1)
CL=$(find /usr/local -name 'libcupti.so' 2>/dev/null | head -1)
echo "cupti: $CH $CL"
CUDA_INC=$(ls -d /usr/local/cuda/include /usr/local/cuda-*/include 2>/dev/null | head -1)
g++ -O2 -shared -fPIC "$P/cupti_trace.cpp" -I"$(dirname "$CH")" -I"$CUDA_INC" -L"$(dirname "$CL")" -lcupti \
  -Wl,-rpath,"$(dirname "$CL")" -o /tmp/libcupti_trace.so && echo "tracer built" || echo "TRACER BUILD FAILED"
cp "$(dirname "$CH")/cupti_runtime_cbid.h" /tmp/cbid.h 2>/dev/null

# --- build (targets the bench needs only) ---------------------------------------------------------
export DELTAKV_CACHE=/tmp/dkv
mkdir -p $DELTAKV_CACHE
src=$(bash "$S/scripts/fetch-llama.sh") || { echo "fetch failed"; exit 1; }
W=$DELTAKV_CACHE/work/tree
rm -rf $W && mkdir -p $W/superbuild
git -c advice.detachedHead=false clone -q "$src" $W/llama.cpp
for p in "$S"/patches/*.patch; do
  git -C $W/llama.cpp -c user.name=d -c user.email=d@l -c commit.gpgsign=false am -q "$p" >/dev/null 2>&1 ||
    { echo "patch $p failed"; exit 1; }
done
git -C $W/llama.cpp log --oneline | head -9
cp -r "$S/CMakeLists.txt" "$S/jni" "$S/tools" $W/superbuild/
B=$W/build
cmake -S $W/superbuild -B $B -G Ninja -DCMAKE_BUILD_TYPE=Release -DLLAMA_SRC_DIR=$W/llama.cpp -DGGML_CUDA=ON \
  -DCMAKE_CUDA_ARCHITECTURES=90 -DGGML_CUDA_NCCL=OFF -DJNI_INCLUDE_DIR="$JNI_INC" >/tmp/configure.log 2>&1 ||
  { tail -30 /tmp/configure.log; exit 1; }
echo "configured at $(el) s"
[ -n "${STOP_AFTER_CONFIGURE:-}" ] && exit 0
cmake --build $B -j "$(nproc)" --target deltakv-random-model deltakv-sidefile ggml-cpu >/tmp/build1.log 2>&1 ||
  { grep -i -B2 -A10 "error" /tmp/build1.log | head -60; exit 1; }
echo "tools built at $(el) s"
bin=$B/bin
M=/tmp/dkv-speed
mkdir -p $M
(
  "$bin/deltakv-random-model" $W/llama.cpp/models/ggml-vocab-llama-bpe.gguf $M/llama31-8b.gguf --preset llama31-8b \
    >/tmp/model.log 2>&1
  for k in 2048 256; do
    "$bin/deltakv-sidefile" write $M/llama31-8b.gguf $M/dkv-top$k.gguf --kind random --encoder swiglu --ff 3072 \
      --latent-dim 512 --bits 4 --full-layers 0,1,2,8,18 --top-k $k >/tmp/side$k.log 2>&1
  done
  echo "model + compressors made at $(el) s"
) &
MODEL_PID=$!
cmake --build $B -j "$(nproc)" --target ggml-cuda deltakv-speed-bench >/tmp/build2.log 2>&1 ||
  { grep -i -B2 -A10 "error" /tmp/build2.log | head -60; exit 1; }
echo "cuda build done at $(el) s"
wait $MODEL_PID
ls -la $M
tail -3 /tmp/model.log /tmp/side2048.log

# --- runs -----------------------------------------------------------------------------------------
MODEL=$M/llama31-8b.gguf
run() { # run NAME STEPS ENV... -- ARGS : one bench, skipped when time is short
  local name=$1 steps=$2
  shift 2
  local envs=()
  while [ "$1" != "--" ]; do envs+=("$1"); shift; done
  shift
  if [ "$(el)" -gt "$LIMIT" ]; then
    echo "== SKIPPED $name (time)"
    return
  fi
  echo "== $name [${envs[*]}] $* (start $(el) s)"
  env "${envs[@]}" timeout 60 "$bin/deltakv-speed-bench" $MODEL "$@" --depth 32768 --steps $steps --seqs 1 \
    >"/tmp/res-$name.txt" 2>"/tmp/err-$name.txt"
  echo "rc=$? end $(el) s"
  grep -v step_ms_all "/tmp/res-$name.txt"
  grep step_ms_all "/tmp/res-$name.txt" | cut -c1-400
  grep -i -E "error|fail|cupti" "/tmp/err-$name.txt" | head -5
}
TR="CUDA_INJECTION64_PATH=/tmp/libcupti_trace.so"
run f16 64 X=1 -- --kv f16
run dkv 64 X=1 -- --deltakv $M/dkv-top2048.gguf
run trace-dkv 40 $TR CUPTI_TRACE_OUT=/tmp/trace-dkv.csv -- --deltakv $M/dkv-top2048.gguf
run trace-f16 40 $TR CUPTI_TRACE_OUT=/tmp/trace-f16.csv -- --kv f16
run f16-nographs 64 GGML_CUDA_DISABLE_GRAPHS=1 -- --kv f16
run f16-noreuse 64 LLAMA_GRAPH_REUSE_DISABLE=1 -- --kv f16
run f16-noreuse-nographs 64 LLAMA_GRAPH_REUSE_DISABLE=1 GGML_CUDA_DISABLE_GRAPHS=1 -- --kv f16
run dkv-top256 64 X=1 -- --deltakv $M/dkv-top256.gguf
run trace-f16-noreuse-nographs 40 $TR CUPTI_TRACE_OUT=/tmp/trace-f16nrng.csv LLAMA_GRAPH_REUSE_DISABLE=1 \
  GGML_CUDA_DISABLE_GRAPHS=1 -- --kv f16
run dkv-nographs 64 GGML_CUDA_DISABLE_GRAPHS=1 -- --deltakv $M/dkv-top2048.gguf

for t in dkv f16 f16nrng; do
  [ -f /tmp/trace-$t.csv ] && gzip -1 -c /tmp/trace-$t.csv >"$O/trace-$t.csv.gz"
done
ls -la /tmp/trace-*.csv 2>/dev/null
tar -C /tmp -czf "$O/bench.tar.gz" $(cd /tmp && ls res-*.txt err-*.txt cbid.h model.log side*.log build1.log 2>/dev/null)
echo "all done at $(el) s"
