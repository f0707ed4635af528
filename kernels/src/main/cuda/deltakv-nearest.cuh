// DeltaKV: each block token's k nearest references (GGML_OP_DELTAKV_NEAREST) on CUDA.
// Copied into ggml/src/ggml-cuda/ by llamacpp-patch/scripts/build-native.sh; deltakv.cu dispatches to it.
#pragma once

#include "common.cuh"

// see ggml_deltakv_nearest
void ggml_cuda_op_deltakv_nearest(ggml_backend_cuda_context & ctx, ggml_tensor * dst);
