// DeltaKV: the fused reconstruction of compressed tokens on CUDA (GGML_OP_DELTAKV_RECON).
//
// For each of the n tokens chosen at decode, the reference path of ggml ops gathers its k exact reference
// rows into F32, adds them up in k-1 full-size adds, scales, adds the decoder's output, then blends in the
// exact row of the tokens that are centers with a gather, a sub, a mul and an add: about ten passes over
// [n_embd, n] F32 buffers. Here one block per token reads its k F16 reference rows (or its exact row) and its
// decoded residual once and writes the result once.
#include "deltakv-recon.cuh"

template <typename T>
static __device__ __forceinline__ float deltakv_to_float(T x) {
    return (float) x;
}

template <>
__device__ __forceinline__ float deltakv_to_float<half>(half x) {
    return __half2float(x);
}

// one block per token; threads stride over the row
template <typename T>
static __global__ void deltakv_recon_kernel(
        const float * d, const T * refs, const int32_t * ids, const int32_t * rows, const float * center,
        float * dst, const int64_t ne0, const int k, const size_t nb_d1, const size_t nb_refs1,
        const size_t nb_ids0, const size_t nb_ids1, const size_t nb_dst1) {
    const int64_t i = blockIdx.x;
    float * out = (float *) ((char *) dst + i*nb_dst1);

    if (center != nullptr && center[i] != 0.0f) {
        const T * src = (const T *) ((const char *) refs + (int64_t) rows[i]*nb_refs1);
        for (int64_t e = threadIdx.x; e < ne0; e += blockDim.x) {
            out[e] = deltakv_to_float(src[e]);
        }
        return;
    }

    // the k reference rows of this token (k is small: 4 in the paper's settings)
    const T * ref[8];
    for (int j = 0; j < k; ++j) {
        const int32_t r = *(const int32_t *) ((const char *) ids + j*nb_ids0 + i*nb_ids1);
        ref[j] = (const T *) ((const char *) refs + (int64_t) r*nb_refs1);
    }
    const float   scale = 1.0f / (float) k;
    const float * di    = (const float *) ((const char *) d + i*nb_d1);
    for (int64_t e = threadIdx.x; e < ne0; e += blockDim.x) {
        float sum = deltakv_to_float(ref[0][e]);
        for (int j = 1; j < k; ++j) {
            sum += deltakv_to_float(ref[j][e]);
        }
        out[e] = di[e] + sum*scale; // the same order of operations as the reference path: mean, then + d
    }
}

void ggml_cuda_op_deltakv_recon(ggml_backend_cuda_context & ctx, ggml_tensor * dst) {
    const ggml_tensor * d      = dst->src[0];
    const ggml_tensor * refs   = dst->src[1];
    const ggml_tensor * ids    = dst->src[2];
    const ggml_tensor * rows   = dst->src[3];
    const ggml_tensor * center = dst->src[4];

    GGML_ASSERT(d->type == GGML_TYPE_F32 && d->nb[0] == sizeof(float));
    GGML_ASSERT(refs->type == GGML_TYPE_F16 || refs->type == GGML_TYPE_F32);
    GGML_ASSERT(refs->nb[0] == ggml_type_size(refs->type));
    GGML_ASSERT(ids->type == GGML_TYPE_I32);
    GGML_ASSERT(ids->ne[0] >= 1 && ids->ne[0] <= 8);
    GGML_ASSERT(rows == nullptr || ggml_is_contiguous(rows));
    GGML_ASSERT(center == nullptr || ggml_is_contiguous(center));

    const int64_t ne0 = d->ne[0];
    const int64_t n   = d->ne[1];
    if (n == 0) {
        return;
    }
    const int k = (int) ids->ne[0];

    const int32_t * rows_d   = rows   ? (const int32_t *) rows->data : nullptr;
    const float *   center_d = center ? (const float *)   center->data : nullptr;

    cudaStream_t stream  = ctx.stream();
    const int    threads = (int) std::min<int64_t>(256, ((ne0 + 31)/32)*32);
    if (refs->type == GGML_TYPE_F16) {
        deltakv_recon_kernel<half><<<(unsigned) n, threads, 0, stream>>>(
            (const float *) d->data, (const half *) refs->data, (const int32_t *) ids->data, rows_d, center_d,
            (float *) dst->data, ne0, k, d->nb[1], refs->nb[1], ids->nb[0], ids->nb[1], dst->nb[1]);
    } else {
        deltakv_recon_kernel<float><<<(unsigned) n, threads, 0, stream>>>(
            (const float *) d->data, (const float *) refs->data, (const int32_t *) ids->data, rows_d, center_d,
            (float *) dst->data, ne0, k, d->nb[1], refs->nb[1], ids->nb[0], ids->nb[1], dst->nb[1]);
    }
    CUDA_CHECK(cudaGetLastError());
}
