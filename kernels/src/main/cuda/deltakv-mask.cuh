// DeltaKV: a causal attention mask from each KV cell's sequence and position (GGML_OP_DELTAKV_MASK) on CUDA.
// Copied into ggml/src/ggml-cuda/ by llamacpp-patch/scripts/build-native.sh; deltakv.cu dispatches to it.
#pragma once

#include "common.cuh"

// see ggml_deltakv_mask
void ggml_cuda_op_deltakv_mask(ggml_backend_cuda_context & ctx, ggml_tensor * dst);
