// DeltaKV: the fused reconstruction of compressed tokens on CUDA (GGML_OP_DELTAKV_RECON): the ggml-cuda side.
// The kernel itself is in deltakv-recon-kernel.cuh.
#include "deltakv-recon.cuh"
#include "deltakv-recon-kernel.cuh"

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
    GGML_ASSERT(ids->ne[0] >= 1 && ids->ne[0] <= DELTAKV_RECON_MAX_K);
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
    const int    threads = deltakv_recon_threads(ne0);
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
