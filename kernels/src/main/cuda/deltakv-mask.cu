// DeltaKV: a causal attention mask from each KV cell's sequence and position (GGML_OP_DELTAKV_MASK): the ggml-cuda
// side. The kernel itself is in deltakv-mask-kernel.cuh.
#include "deltakv-mask.cuh"
#include "deltakv-mask-kernel.cuh"

template <typename T>
static __global__ void deltakv_mask_kernel(const float * cell_seq, const float * cell_pos, const float * tok_seq,
                                           const float * tok_pos, T * dst, const int n_kv, const size_t row) {
    deltakv_mask_row(cell_seq, cell_pos, tok_seq, tok_pos, dst, n_kv, row);
}

void ggml_cuda_op_deltakv_mask(ggml_backend_cuda_context & ctx, ggml_tensor * dst) {
    const int64_t n_kv = dst->ne[0];
    const int64_t n    = dst->ne[1];
    const float * cs = (const float *) dst->src[0]->data;
    const float * cp = (const float *) dst->src[1]->data;
    const float * ts = (const float *) dst->src[2]->data;
    const float * tp = (const float *) dst->src[3]->data;
    const int64_t blocks = std::min<int64_t>((n_kv + DELTAKV_MASK_THREADS - 1) / DELTAKV_MASK_THREADS, 64);
    // one y block per token, at most 65535 tokens a launch
    for (int64_t t0 = 0; t0 < n && n_kv > 0; t0 += 65535) {
        const dim3 grid((unsigned) blocks, (unsigned) std::min<int64_t>(n - t0, 65535));
        char * out = (char *) dst->data + t0*dst->nb[1];
        if (dst->type == GGML_TYPE_F16) {
            deltakv_mask_kernel<half><<<grid, DELTAKV_MASK_THREADS, 0, ctx.stream()>>>(
                cs, cp, ts + t0, tp + t0, (half *) out, (int) n_kv, dst->nb[1] / sizeof(half));
        } else {
            GGML_ASSERT(dst->type == GGML_TYPE_F32);
            deltakv_mask_kernel<float><<<grid, DELTAKV_MASK_THREADS, 0, ctx.stream()>>>(
                cs, cp, ts + t0, tp + t0, (float *) out, (int) n_kv, dst->nb[1] / sizeof(float));
        }
    }
    CUDA_CHECK(cudaGetLastError());
}
