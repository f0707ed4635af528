// DeltaKV: the observation layer's candidate scores (GGML_OP_DELTAKV_SCORE) on CUDA.
// Copied into ggml/src/ggml-cuda/ by llamacpp-patch/scripts/build-native.sh; deltakv.cu dispatches to it.
#pragma once

#include "common.cuh"

// see ggml_deltakv_score
void ggml_cuda_op_deltakv_score(ggml_backend_cuda_context & ctx, ggml_tensor * dst);

// whether the kernels take these shapes (head size a multiple of 8, at most 128 heads, q in 48 KiB of shared memory)
bool ggml_cuda_deltakv_score_supported(const ggml_tensor * op);
