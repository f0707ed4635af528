#!/usr/bin/env bash
# On the GPU machine (no Java, no network): build the CUDA variant and run the DeltaKV memory on the GPU:
# the native tests of the memory (all layers offloaded), the compressor graphs on CUDA0, and the memory
# benchmark at 128K tokens for random models of Llama-3.1-8B's and Qwen2.5-7B's KV shapes with the
# paper's settings.
#
# usage (from the repo root): gpu-deltakv.sh OUT_DIR TEXT_FILE
#   needs DELTAKV_LLAMA_BUNDLE (the verified git bundle) and DELTAKV_CMAKE_ARGS=-DJNI_INCLUDE_DIR=<jdk>/include
set -euo pipefail
out=${1:?usage: gpu-deltakv.sh OUT_DIR TEXT_FILE}
text=${2:?usage: gpu-deltakv.sh OUT_DIR TEXT_FILE}
export DELTAKV_CACHE=${DELTAKV_CACHE:-/tmp/dkv} DELTAKV_JOBS=${DELTAKV_JOBS:-$(nproc)}
mkdir -p "$out"
nvidia-smi -L | tee "$out/gpu.txt"
start=$(date +%s)
bash llamacpp-patch/scripts/build-native.sh cuda /tmp/natives-cuda
echo "cuda build: $(( $(date +%s) - start )) s" | tee -a "$out/gpu.txt"
cp /tmp/natives-cuda/BUILD-INFO "$out/"
build=$(sed -n 's/^build.dir=//p' /tmp/natives-cuda/BUILD-INFO)
bin=$build/bin
vocab=$build/../llama.cpp/models

model=models/kvtiny-retrieval-q8_0.gguf
w=/tmp/dkv-gpu
mkdir -p "$w"
"$bin/deltakv-sidefile" write "$model" "$w/identity.gguf" >/dev/null
"$bin/deltakv-sidefile" write "$model" "$w/random.gguf" --kind random --latent-dim 64 --bits 4 >/dev/null
"$bin/deltakv-sidefile" write "$model" "$w/swiglu.gguf" --kind random --encoder swiglu --latent-dim 64 --ff 96 >/dev/null

echo "== deltakv-memory-test, all layers on the GPU" | tee "$out/deltakv-memory-test.txt"
"$bin/deltakv-memory-test" "$model" "$text" "$w/identity.gguf" "$w/random.gguf" --gpu 99 2>&1 \
  | grep -v 'control-looking' | tee -a "$out/deltakv-memory-test.txt" || true
echo "== deltakv-graph-test on CUDA0" | tee "$out/deltakv-graph-test.txt"
"$bin/deltakv-graph-test" "$model" "$w/identity.gguf" "$w/swiglu.gguf" gpu 2>&1 | tail -5 | tee -a "$out/deltakv-graph-test.txt" || true

# memory at 128K: models of the real KV shapes (narrow weights: KV bytes depend on layers x KV heads x head dim)
bench() { # bench NAME PRESET VOCAB FULL_LAYERS LATENT FILL
  local name=$1
  "$bin/deltakv-random-model" "$vocab/$3" "$w/$name.gguf" --preset "$2" --n-embd 1024 --n-head 8 --n-ff 256
  "$bin/deltakv-sidefile" write "$w/$name.gguf" "$w/$name.deltakv.gguf" --kind random --latent-dim "$5" --bits 4 \
    --full-layers "$4" >/dev/null
  for batch in 512 2048; do
    echo "== $name, 128K context, batch $batch"
    "$bin/deltakv-memory-bench" "$w/$name.gguf" "$w/$name.deltakv.gguf" --ctx 131072 --batch "$batch" --gpu 99 2>&1
  done
  echo "== $name, 32K context filled with 32K tokens"
  "$bin/deltakv-memory-bench" "$w/$name.gguf" "$w/$name.deltakv.gguf" --ctx 32768 --batch 2048 --gpu 99 --fill "$6" 2>&1
}
{
  bench llama31-8b-kvshape llama31-8b ggml-vocab-llama-bpe.gguf 0,1,2,8,18 512 32000
  bench qwen25-7b-kvshape qwen25-7b ggml-vocab-qwen2.gguf 0,1,2,4,7,14 256 32000
} | tee "$out/deltakv-memory-bench.txt"
