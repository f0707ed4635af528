#!/usr/bin/env bash
# On the GPU machine (no Java, no network): speed of stock llama.cpp (F16, Q8_0, Q4_0 KV) against DeltaKV on a
# random-weight model of Llama-3.1-8B's full shape (F16 weights; speed does not depend on weight values), all
# in one run on the same GPU. One phase a call, so that each stays inside the device's 10-minute limit; the
# machine keeps the build, the model and earlier results between calls while it is held.
#
# usage (from the repo root):
#   gpu-speed-bench.sh build OUT_DIR            build the CUDA variant; make the model and the compressor;
#                                                OUT_DIR/cuda-backend: libggml-cuda.so (xz, in parts) + BUILD-INFO
#   gpu-speed-bench.sh model OUT_DIR            after a build: make the model and compressor of DELTAKV_BENCH_MODEL
#   gpu-speed-bench.sh kernels OUT_DIR          the DeltaKV graph test (fused reconstruction op included) and the
#                                                memory test with every layer on the GPU, on kvtiny
#   gpu-speed-bench.sh single OUT_DIR DEPTH      time to first token + 512 decode steps, batch 1, each config
#   gpu-speed-bench.sh profile OUT_DIR DEPTH     CUPTI traces of the prompt and 40 decode steps per config, with
#                                                results/profile-h200/analyze.py's summaries (all steps, and steps 1
#                                                and 9: the prompt's and a block's compression), in OUT_DIR/profile
#                                                (DELTAKV_PROFILE_SEQS sequences, default 1: a batch's steps;
#                                                DELTAKV_PROFILE_STEPS decode steps, DELTAKV_PROFILE_STEP_LIST the
#                                                steps summarised on their own, default "1 9")
#   gpu-speed-bench.sh batch OUT_DIR DEPTH GIB   decode throughput at the largest batch of DEPTH-token
#                                                sequences whose KV fits in GIB GiB (per-sequence bytes from the
#                                                single run)
# Every measure lands in OUT_DIR/speed-<phase>-<depth>-<config>.txt as key=value lines.
# Configurations: f16 q8_0 q4_0 deltakv (DELTAKV_BENCH_CONFIGS to choose; deltakv-noreuse is DeltaKV with
# llama.cpp's graph reuse off, LLAMA_GRAPH_REUSE_DISABLE=1); DELTAKV_BENCH_STEPS decode steps for single (default 512).
#   needs DELTAKV_LLAMA_BUNDLE (the verified git bundle) and DELTAKV_CMAKE_ARGS=-DJNI_INCLUDE_DIR=<jdk>/include
# DELTAKV_BENCH_MODEL: llama31-8b (default) or qwen25-7b, the random model's shape and the paper's compressor for it
# (DeltaKV spec, table of checkpoints): Llama-3.1-8B: full layers 0,1,2,8,18, latent 512; Qwen2.5-7B: full layers
# 0,1,2,4,7,14, latent 256; both int4 latents, a SwiGLU encoder of width 3072 and a linear decoder, random weights in
# bf16 as the paper's engine runs them. Keep each model's results in a folder of its own.
set -euo pipefail
phase=${1:?usage: gpu-speed-bench.sh build|single|batch OUT_DIR ...}
out=${2:?usage: gpu-speed-bench.sh build|single|batch OUT_DIR ...}
mkdir -p "$out"
work=${DELTAKV_BENCH_WORK:-/tmp/dkv-speed}
mkdir -p "$work"
export DELTAKV_CACHE=${DELTAKV_CACHE:-/tmp/dkv} DELTAKV_JOBS=${DELTAKV_JOBS:-$(nproc)}
read -r -a configs <<<"${DELTAKV_BENCH_CONFIGS:-f16 q8_0 q4_0 deltakv}"
bench_model=${DELTAKV_BENCH_MODEL:-llama31-8b}
case "$bench_model" in
  llama31-8b) compressor=(--latent-dim 512 --full-layers 0,1,2,8,18) vocab=ggml-vocab-llama-bpe.gguf ;;
  qwen25-7b)  compressor=(--latent-dim 256 --full-layers 0,1,2,4,7,14) vocab=ggml-vocab-qwen2.gguf ;;
  *) echo "DELTAKV_BENCH_MODEL: llama31-8b or qwen25-7b, not $bench_model" >&2; exit 2 ;;
esac
model=$work/$bench_model.gguf

make_model() { # make_model BIN_DIR VOCAB_DIR OUT_DIR: the random model and its compressor
  local start
  start=$(date +%s)
  "$1/deltakv-random-model" "$2/$vocab" "$model" --preset "$bench_model"
  "$1/deltakv-sidefile" write "$model" "${model%.gguf}.deltakv.gguf" --kind random --encoder swiglu --ff 3072 \
    --bits 4 "${compressor[@]}" --weight-type bf16 >/dev/null
  echo "$bench_model model + compressor: $(( $(date +%s) - start )) s, $(du -h "$model" | cut -f1)" | tee -a "$3/gpu.txt"
}

run_config() { # run_config CONFIG ARGS... : the speed bench for one configuration
  local config=$1
  shift
  local bin
  bin=$(cat "$work/bin-dir")
  local variant=() # DeltaKV with llama.cpp's graph reuse off: its own switch in the environment
  case "$config" in
    deltakv)           ;;
    deltakv-noreuse)   variant=(LLAMA_GRAPH_REUSE_DISABLE=1) ;;
    *)                 "$bin/deltakv-speed-bench" "$model" --kv "$config" "$@"; return ;;
  esac
  env "${variant[@]}" "$bin/deltakv-speed-bench" "$model" --deltakv "${model%.gguf}.deltakv.gguf" "$@"
}

case "$phase" in
build)
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv | tee "$out/gpu.txt"
  start=$(date +%s)
  bash llamacpp-patch/scripts/build-native.sh cuda "$work/natives"
  echo "cuda build: $(( $(date +%s) - start )) s" | tee -a "$out/gpu.txt"
  cp "$work/natives/BUILD-INFO" "$out/"
  # the newest C library version each library needs (compat/glibc-compat.c keeps the CUDA backend loadable on older
  # ones)
  for lib in "$work"/natives/*.so; do
    echo "$(basename "$lib") needs $(objdump -T "$lib" | grep -oE 'GLIBC_[0-9.]+' | sort -uV | tail -1)"
  done | tee -a "$out/gpu.txt"
  # the CUDA backend alone, compressed in parts, for the linux-x86_64-cuda13 natives jar
  # (build-native.sh cuda with DELTAKV_CUDA_BACKEND pairs it with a CPU build of the same sources)
  mkdir -p "$out/cuda-backend"
  cp "$work/natives/BUILD-INFO" "$out/cuda-backend/"
  xz -T0 -6 -c "$work/natives/libggml-cuda.so" | split -b 15M - "$out/cuda-backend/libggml-cuda.so.xz.part-"
  build=$(sed -n 's/^build.dir=//p' "$work/natives/BUILD-INFO")
  echo "$build/bin" > "$work/bin-dir"
  echo "$build/../llama.cpp/models" > "$work/vocab-dir"
  make_model "$build/bin" "$(cat "$work/vocab-dir")" "$out"
  ;;
model)
  make_model "$(cat "$work/bin-dir")" "$(cat "$work/vocab-dir")" "$out"
  ;;
kernels)
  bin=$(cat "$work/bin-dir")
  tiny=models/kvtiny-retrieval-q8_0.gguf # not $model, the benchmark's
  "$bin/deltakv-sidefile" write "$tiny" "$work/identity.gguf" >/dev/null
  "$bin/deltakv-sidefile" write "$tiny" "$work/random.gguf" --kind random --latent-dim 64 --bits 4 >/dev/null
  "$bin/deltakv-sidefile" write "$tiny" "$work/swiglu.gguf" --kind random --encoder swiglu --latent-dim 64 --ff 96 \
    >/dev/null
  # the graph test and the memory test on the GPU, into kernels.txt
  echo "== deltakv-graph-test on CUDA0" | tee "$out/kernels.txt"
  "$bin/deltakv-graph-test" "$tiny" "$work/identity.gguf" "$work/swiglu.gguf" gpu 2>&1 \
    | tee -a "$out/kernels.txt" | tail -3 || true
  echo "== deltakv-memory-test, all layers on the GPU" | tee -a "$out/kernels.txt"
  "$bin/deltakv-memory-test" "$tiny" integration-tests/src/test/resources/moby-dick-excerpt.txt \
    "$work/identity.gguf" "$work/random.gguf" --gpu 99 2>&1 | grep -v 'control-looking' | tee -a "$out/kernels.txt" \
    | tail -4 || true
  ;;
single)
  depth=${3:?DEPTH}
  for c in "${configs[@]}"; do
    echo "== $c, depth $depth, batch 1"
    run_config "$c" --depth "$depth" --steps "${DELTAKV_BENCH_STEPS:-512}" --seqs 1 2>&1 | tee "$out/speed-single-$depth-$c.txt" | grep -v step_ms_all
  done
  ;;
batch)
  depth=${3:?DEPTH}
  gib=${4:?GIB}
  for c in "${configs[@]}"; do
    # a sequence's bytes: the stock cache's allocation; DeltaKV's used bytes after the single run (its exact-row
    # pool for one call's new tokens is shared by all sequences and comes on top: see kv_alloc_bytes)
    key=kv_alloc_bytes
    [[ $c == deltakv* ]] && key=kv_used_bytes
    bytes=$(sed -n "s/^$key=//p" "$out/speed-single-$depth-$c.txt")
    seqs=$(( gib * 1024 * 1024 * 1024 / bytes ))
    echo "== $c, depth $depth, $seqs sequences in $gib GiB ($bytes bytes each)"
    run_config "$c" --depth "$depth" --steps 64 --seqs "$seqs" 2>&1 | tee "$out/speed-batch-$depth-$c.txt" | grep -v step_ms_all
    echo "budget_gib=$gib" >>"$out/speed-batch-$depth-$c.txt"
  done
  ;;
profile)
  # where the time goes, after a build on this machine: CUPTI traces (results/profile-h200/cupti_trace.cpp) of the
  # prompt and 40 decode steps at DEPTH, batch 1, for each configuration; analyze.py's per-step summary of each
  depth=${3:?DEPTH}
  prof=results/profile-h200
  cupti_h=$(find /usr/local -name cupti.h 2>/dev/null | head -1)
  cupti_so=$(find /usr/local -name libcupti.so 2>/dev/null | head -1)
  cuda_inc=$(ls -d /usr/local/cuda/include /usr/local/cuda-*/include 2>/dev/null | head -1)
  g++ -O2 -shared -fPIC "$prof/cupti_trace.cpp" -I"$(dirname "$cupti_h")" -I"$cuda_inc" -L"$(dirname "$cupti_so")" \
    -lcupti -Wl,-rpath,"$(dirname "$cupti_so")" -o "$work/libcupti_trace.so"
  cp "$(dirname "$cupti_h")/cupti_runtime_cbid.h" "$work/cbid.h"
  mkdir -p "$out/profile"
  for c in "${configs[@]}"; do
    echo "== trace of $c, depth $depth"
    CUDA_INJECTION64_PATH="$work/libcupti_trace.so" CUPTI_TRACE_OUT="$work/trace-$c.csv" \
      run_config "$c" --depth "$depth" --steps "${DELTAKV_PROFILE_STEPS:-40}" --seqs "${DELTAKV_PROFILE_SEQS:-1}" 2>&1 \
      | tee "$out/profile/bench-$depth-$c.txt"
    python3 "$prof/analyze.py" "$work/trace-$c.csv" "$work/cbid.h" "$out/profile/$depth-$c" --skip 2 | tail -20
    # DeltaKV's slow steps on their own: step 1 compresses the prompt, step 9 begins a block (the raw buffer of a
    # prompt whose length is a multiple of 128 fills again after 8 steps; since 0036 its 27 layers are encoded in steps
    # 9-35 and it is committed in step 35), small enough to keep when the traces are not. DELTAKV_PROFILE_STEP_LIST
    # chooses others (with DELTAKV_PROFILE_STEPS=170: 137 begins the second block, 163 commits it)
    for step in ${DELTAKV_PROFILE_STEP_LIST:-1 9}; do
      python3 "$prof/analyze.py" "$work/trace-$c.csv" "$work/cbid.h" "$out/profile/$depth-$c-step$step" --step $step \
        >/dev/null
    done
    gzip -1 -c "$work/trace-$c.csv" >"$out/profile/trace-$depth-$c.csv.gz"
  done
  ;;
*)
  echo "unknown phase $phase" >&2
  exit 2
  ;;
esac
