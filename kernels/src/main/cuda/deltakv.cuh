// DeltaKV's ggml ops on CUDA (GGML_OP_DELTAKV_*, see ggml-deltakv.h): what ggml-cuda calls.
// Copied into ggml/src/ggml-cuda/ by llamacpp-patch/scripts/build-native.sh with the kernels it dispatches to.
#pragma once

#include "common.cuh"

// computes dst, a GGML_OP_DELTAKV_* node
void ggml_cuda_op_deltakv(ggml_backend_cuda_context & ctx, ggml_tensor * dst);

// whether the kernels take op's types and shapes
bool ggml_cuda_deltakv_supports_op(const ggml_tensor * op);
