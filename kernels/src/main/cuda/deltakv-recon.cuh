// DeltaKV: the fused reconstruction of compressed tokens (GGML_OP_DELTAKV_RECON) on CUDA.
// Copied into ggml/src/ggml-cuda/ by llamacpp-patch/scripts/build-native.sh; deltakv.cu dispatches to it.
#pragma once

#include "common.cuh"

// out[:, i] = center[i] != 0 ? refs[:, rows[i]] : d[:, i] + mean_j refs[:, ids[j, i]]   (see ggml_deltakv_recon)
void ggml_cuda_op_deltakv_recon(ggml_backend_cuda_context & ctx, ggml_tensor * dst);
