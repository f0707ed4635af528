#!/usr/bin/env bash
# The Java checks on the GPU machine (it has no Java and no Maven), one device call after
# `llamacpp-patch/scripts/gpu-speed-bench.sh build` on the same held machine (CUDA natives in /tmp/dkv-speed/natives):
#   1. the kernels module's JCuda tests (DeltaKvReconKernelTest, DeltaKvRowsKernelTest, DeltaKvScoreKernelTest,
#      DeltaKvNearestKernelTest, DeltaKvMaskKernelTest, tagged gpu)
#   2. eval.Reliability: 200 load/chat/close cycles with every layer on the GPU, then the out-of-memory probe
#   3. integration tests on the GPU (GpuReliabilityIT, ConcurrentChatsIT, BadInputIT, StreamingIT, PrefixCacheIT,
#      ToolCallingIT, DeltaKvMemoryIT)
#
# usage (repo root there): integration-tests/scripts/gpu-java-checks.sh CARRY OUT
#   DELTAKV_GPU_JAVA_STEPS: which of "kernels reliability its" to run (default all three)
# CARRY, made here and carried (it must stay under the device's 64 MiB with the repo):
#   jre.tar.xz      a JRE 17 for x86-64 Linux, packed (../shared/tools/device-jre.sh makes a small one)
#   cp/             langchain4j-deltakv-<version>.jar, langchain4j-core and langchain4j (AiServices) 1.19.0, jackson
#                   core/databind/annotations, slf4j-api and slf4j-simple, jspecify, jetbrains annotations, picocli;
#                   bench-classes/ (bench/target/classes: Reliability)
#   kcp/            junit-platform-console-standalone 1.14.4, assertj-core, jcuda 12.6.0 and its linux natives jar (only
#                   libJCudaDriver needed); test-classes/ (kernels/target/test-classes, with the PTX) and it-test-classes/
#                   (integration-tests/target/test-classes)
set -uo pipefail
carry=$(cd "${1:?usage: gpu-java-checks.sh CARRY OUT}" && pwd) # absolute: the tests run from the module folder
out=${2:?usage: gpu-java-checks.sh CARRY OUT}
mkdir -p "$out" && out=$(cd "$out" && pwd)
natives=${DELTAKV_GPU_NATIVES:-/tmp/dkv-speed/natives}
root=$PWD
mkdir -p /tmp/deltakv-jre && tar -xJf "$carry/jre.tar.xz" -C /tmp/deltakv-jre
java=$(ls -d /tmp/deltakv-jre/*/bin/java | head -1)
kcp=$carry/kcp
launcher=$(ls "$kcp"/junit-platform-console-standalone-*.jar)
jars() { ls "$1"/*.jar | tr '\n' ':'; }
steps=" ${DELTAKV_GPU_JAVA_STEPS:-kernels reliability its} "
t0=$(date +%s)
if [[ $steps == *" kernels "* ]]; then
echo "== JCuda kernel tests"
timeout 120 "$java" -jar "$launcher" execute --details=tree --disable-banner --disable-ansi-colors \
  -cp "$kcp/test-classes:$(jars "$kcp")" --select-class io.github.deltakv.kernels.DeltaKvReconKernelTest \
  --select-class io.github.deltakv.kernels.DeltaKvRowsKernelTest \
  --select-class io.github.deltakv.kernels.DeltaKvScoreKernelTest \
  --select-class io.github.deltakv.kernels.DeltaKvNearestKernelTest \
  --select-class io.github.deltakv.kernels.DeltaKvMaskKernelTest 2>&1 \
  | tee "$out/jcuda-kernel-tests.txt" | tail -15
fi
if [[ $steps == *" reliability "* ]]; then
echo "== Reliability, 200 cycles on the GPU ($(($(date +%s) - t0)) s)"
timeout 300 "$java" -Xmx4g -Ddeltakv.native.path="$natives" -cp "$carry/cp/bench-classes:$(jars "$carry/cp")" \
  io.github.deltakv.eval.Reliability --model "$root/models/kvtiny-retrieval-q8_0.gguf" --cycles 200 --gpu-layers -1 \
  --out "$out/gpu-200-cycles.txt" 2>&1 | grep -v -e "control-looking" -e "loaded kvtiny" -e "closed kvtiny" | tail -15
fi
if [[ $steps == *" its "* ]]; then
echo "== integration tests on the GPU ($(($(date +%s) - t0)) s)"
cd "$root/integration-tests" # the tests read their resources relative to the module
timeout 300 "$java" -Xmx6g -Ddeltakv.native.path="$natives" -Ddeltakv.models.dir="$root/models" -jar "$launcher" execute \
  --details=tree --disable-banner --disable-ansi-colors \
  -cp "$kcp/it-test-classes:$carry/cp/bench-classes:$(jars "$carry/cp")$(jars "$kcp")" \
  --select-class io.github.deltakv.it.GpuReliabilityIT --select-class io.github.deltakv.it.ConcurrentChatsIT \
  --select-class io.github.deltakv.it.BadInputIT --select-class io.github.deltakv.it.StreamingIT \
  --select-class io.github.deltakv.it.PrefixCacheIT --select-class io.github.deltakv.it.ToolCallingIT \
  --select-class io.github.deltakv.it.DeltaKvMemoryIT 2>&1 \
  | grep -v -e "control-looking" -e "^\[main\]" -e "^\[pool" -e "^\[ForkJoin" | tee "$out/gpu-integration-tests.txt" | tail -50
fi
echo "== done ($(($(date +%s) - t0)) s)"
