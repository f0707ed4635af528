// DeltaKV: the rows a DeltaKV layer attends, RoPE applied, as F16 (GGML_OP_DELTAKV_ROWS) on CUDA.
// Copied into ggml/src/ggml-cuda/ by llamacpp-patch/scripts/build-native.sh; deltakv.cu dispatches to it.
#pragma once

#include "common.cuh"

// see ggml_deltakv_rows
void ggml_cuda_op_deltakv_rows(ggml_backend_cuda_context & ctx, ggml_tensor * dst);
