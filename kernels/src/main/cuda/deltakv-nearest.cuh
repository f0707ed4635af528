// DeltaKV: each block token's k nearest references (GGML_OP_DELTAKV_NEAREST) on CUDA.
// Copied into ggml/src/ggml-cuda/ by llamacpp-patch/scripts/build-native.sh; patch 0022 wires it in.
#pragma once

#include "common.cuh"

// see ggml_deltakv_nearest
void ggml_cuda_op_deltakv_nearest(ggml_backend_cuda_context & ctx, ggml_tensor * dst);
