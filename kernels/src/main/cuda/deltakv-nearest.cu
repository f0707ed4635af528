// DeltaKV: each block token's k nearest references (GGML_OP_DELTAKV_NEAREST): the ggml-cuda side.
// The kernel itself is in deltakv-nearest-kernel.cuh.
#include "deltakv-nearest.cuh"
#include "deltakv-nearest-kernel.cuh"

static __global__ void deltakv_nearest_kernel(const float * dot, const float * norms, const float * visible, int32_t * dst,
                                              const int n_ref, const int k, const size_t nb_dot1, const size_t nb_dst1) {
    deltakv_nearest_token(dot, norms, visible, dst, n_ref, k, nb_dot1, nb_dst1);
}

void ggml_cuda_op_deltakv_nearest(ggml_backend_cuda_context & ctx, ggml_tensor * dst) {
    const ggml_tensor * dot     = dst->src[0];
    const ggml_tensor * norms   = dst->src[1];
    const ggml_tensor * visible = dst->src[2];
    GGML_ASSERT(dot->type == GGML_TYPE_F32 && dst->type == GGML_TYPE_I32);

    const int k = dst->op_params[0];
    GGML_ASSERT(k > 0 && k <= DELTAKV_NEAREST_MAX_K);
    const int64_t n = dot->ne[1];
    if (n == 0) {
        return;
    }
    deltakv_nearest_kernel<<<(unsigned) n, DELTAKV_NEAREST_THREADS, 0, ctx.stream()>>>(
        (const float *) dot->data, (const float *) norms->data, (const float *) visible->data, (int32_t *) dst->data,
        (int) dot->ne[0], k, dot->nb[1], dst->nb[1]);
    CUDA_CHECK(cudaGetLastError());
}
