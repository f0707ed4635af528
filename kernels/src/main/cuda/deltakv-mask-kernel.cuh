// DeltaKV: the kernel of GGML_OP_DELTAKV_MASK, plain CUDA with no ggml types (like deltakv-recon-kernel.cuh).
//
// A causal attention mask from each KV cell's sequence and position: stock llama.cpp fills it on the host,
// [cells x tokens] for every ubatch (at a 128K prompt and 1024-token batches 256 MiB a batch, filled, copied and
// uploaded while the GPU waits), where the cells' sequences and positions change by a few cells a step. Here the
// memory keeps them on the device and this writes the mask: 0 where cell c holds a token of token t's sequence at a
// position up to t's, -INFINITY elsewhere (an empty cell has sequence -1).
#pragma once

#include <cuda_fp16.h>
#include <cstddef>
#include <cstdint>

#define DELTAKV_MASK_THREADS 256

// grid (x blocks over the cells, one y block per token), DELTAKV_MASK_THREADS threads; row t of dst at dst + t*row
template <typename T>
static __device__ __forceinline__ void deltakv_mask_row(const float * cell_seq, const float * cell_pos,
                                                        const float * tok_seq, const float * tok_pos, T * dst,
                                                        const int n_kv, const size_t row) {
    const int   t = blockIdx.y;
    const float s = tok_seq[t], p = tok_pos[t];
    T * out = dst + (size_t) t*row;
    for (int c = blockIdx.x*blockDim.x + threadIdx.x; c < n_kv; c += gridDim.x*blockDim.x) {
        const bool see = cell_seq[c] == s && cell_pos[c] <= p;
        out[c] = (T) (see ? 0.0f : -INFINITY);
    }
}
