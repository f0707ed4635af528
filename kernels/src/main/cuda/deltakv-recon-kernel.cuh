// DeltaKV: the kernel of the fused reconstruction (GGML_OP_DELTAKV_RECON), plain CUDA with no ggml types, so that
// ggml-cuda (deltakv-recon.cu) and the JCuda tests (deltakv-recon-jcuda.cu) launch the same code.
//
// For each of the n tokens chosen at decode, the reference path of ggml ops gathers its k exact reference rows
// into F32, adds them up in k-1 full-size adds, scales, adds the decoder's output, then blends in the exact row of
// the tokens that are centers with a gather, a sub, a mul and an add: about ten passes over [n_embd, n] F32
// buffers. Here one block per token reads its k reference rows (or its exact row) and its decoded residual once
// and writes the result once:
//   out[:, i] = center[i] != 0 ? refs[:, rows[i]] : d[:, i] + (sum_j refs[:, ids[j, i]]) / k
#pragma once

#include <cuda_fp16.h>
#include <cstddef>
#include <cstdint>

#define DELTAKV_RECON_MAX_K 8

template <typename T>
static __device__ __forceinline__ float deltakv_to_float(T x) {
    return (float) x;
}

template <>
__device__ __forceinline__ float deltakv_to_float<half>(half x) {
    return __half2float(x);
}

// token i of the reconstruction, by the threads of one block striding over the row. d may be null (the mean alone);
// rows and center may be null (no token is a center). Strides in bytes.
template <typename T>
static __device__ __forceinline__ void deltakv_recon_token(
        const int64_t i, const float * d, const T * refs, const int32_t * ids, const int32_t * rows,
        const float * center, float * dst, const int64_t ne0, const int k, const size_t nb_d1, const size_t nb_refs1,
        const size_t nb_ids0, const size_t nb_ids1, const size_t nb_dst1) {
    float * out = (float *) ((char *) dst + i*nb_dst1);

    if (center != nullptr && center[i] != 0.0f) {
        const T * src = (const T *) ((const char *) refs + (int64_t) rows[i]*nb_refs1);
        for (int64_t e = threadIdx.x; e < ne0; e += blockDim.x) {
            out[e] = deltakv_to_float(src[e]);
        }
        return;
    }

    const T * ref[DELTAKV_RECON_MAX_K];
    for (int j = 0; j < k; ++j) {
        const int32_t r = *(const int32_t *) ((const char *) ids + j*nb_ids0 + i*nb_ids1);
        ref[j] = (const T *) ((const char *) refs + (int64_t) r*nb_refs1);
    }
    const float   scale = 1.0f / (float) k;
    const float * di    = d != nullptr ? (const float *) ((const char *) d + i*nb_d1) : nullptr;
    for (int64_t e = threadIdx.x; e < ne0; e += blockDim.x) {
        float sum = deltakv_to_float(ref[0][e]);
        for (int j = 1; j < k; ++j) {
            sum += deltakv_to_float(ref[j][e]);
        }
        // the same order of operations as the reference path: mean, then + d
        out[e] = di != nullptr ? di[e] + sum*scale : sum*scale;
    }
}

// one block per token
template <typename T>
static __global__ void deltakv_recon_kernel(
        const float * d, const T * refs, const int32_t * ids, const int32_t * rows, const float * center,
        float * dst, const int64_t ne0, const int k, const size_t nb_d1, const size_t nb_refs1,
        const size_t nb_ids0, const size_t nb_ids1, const size_t nb_dst1) {
    deltakv_recon_token<T>(blockIdx.x, d, refs, ids, rows, center, dst, ne0, k, nb_d1, nb_refs1, nb_ids0, nb_ids1,
                           nb_dst1);
}

// threads per block for rows of ne0 elements
static inline int deltakv_recon_threads(int64_t ne0) {
    const int64_t warps = (ne0 + 31) / 32;
    return (int) (warps >= 8 ? 256 : warps * 32);
}
