#!/usr/bin/env bash
# On the GPU machine (no Java, no network): build the CUDA variant, run the native decode path
# (deltakv-smoke) on kvtiny, CPU layers and GPU layers, over the given prompt files, and the native
# DeltaKV tests (planner, int4 quantiser, compressor graphs on the GPU backend).
#
# usage (from the repo root): gpu-smoke.sh OUT_DIR PROMPT_FILE...
#   needs DELTAKV_LLAMA_BUNDLE (the verified git bundle) and DELTAKV_CMAKE_ARGS=-DJNI_INCLUDE_DIR=<jdk>/include
set -euo pipefail
out=${1:?usage: gpu-smoke.sh OUT_DIR PROMPT_FILE...}
shift
export DELTAKV_CACHE=${DELTAKV_CACHE:-/tmp/dkv} DELTAKV_JOBS=${DELTAKV_JOBS:-$(nproc)}
mkdir -p "$out"
nvidia-smi -L | tee "$out/gpu.txt"
start=$(date +%s)
bash llamacpp-patch/scripts/build-native.sh cuda /tmp/natives-cuda
echo "cuda build: $(( $(date +%s) - start )) s" | tee -a "$out/gpu.txt"
cp /tmp/natives-cuda/BUILD-INFO "$out/"
bin=$(sed -n 's/^build.dir=//p' /tmp/natives-cuda/BUILD-INFO)/bin
for prompt in "$@"; do
  for ngl in 0 -1; do
    echo "== $(basename "$prompt") gpu_layers=$ngl"
    /usr/bin/time -f "wall %e s" "$bin/deltakv-smoke" models/kvtiny-retrieval-q8_0.gguf "$ngl" 16 "$prompt" 2>&1 \
      | grep -v 'control-looking'
  done
done | tee "$out/smoke.txt"

model=models/kvtiny-retrieval-q8_0.gguf
{
  "$bin/deltakv-plan-test"
  "$bin/deltakv-sidefile" int4-selftest
  "$bin/deltakv-sidefile" write "$model" /tmp/dkv-identity.gguf
  "$bin/deltakv-sidefile" write "$model" /tmp/dkv-swiglu.gguf --kind random --encoder swiglu --latent-dim 64 --ff 96
  "$bin/deltakv-graph-test" "$model" /tmp/dkv-identity.gguf /tmp/dkv-swiglu.gguf gpu
} 2>&1 | tee "$out/deltakv-tests.txt"
