// DeltaKV: the observation layer's candidate scores (GGML_OP_DELTAKV_SCORE): the ggml-cuda side.
// The kernels themselves are in deltakv-score-kernel.cuh. Each is launched as ggml-cuda launches its own kernels
// (programmatic dependent launch where the GPU has it): it lets the next kernel start launching at once and waits
// for its own inputs before it reads them.
#include "deltakv-score.cuh"
#include "deltakv-score-kernel.cuh"

static __global__ void __launch_bounds__(DELTAKV_SCORE_WARPS*32) deltakv_score_stats_kernel(const deltakv_score_args a) {
    ggml_cuda_pdl_lc();
    ggml_cuda_pdl_sync();
    deltakv_score_stats(a);
}

template <int E>
static __global__ void __launch_bounds__(DELTAKV_SCORE_WARPS*32) deltakv_score_stats_rows_kernel(
        const deltakv_score_args a) {
    ggml_cuda_pdl_lc();
    ggml_cuda_pdl_sync();
    deltakv_score_stats_rows<E>(a);
}

static __global__ void deltakv_score_combine_kernel(const deltakv_score_args a) {
    ggml_cuda_pdl_lc();
    ggml_cuda_pdl_sync();
    deltakv_score_combine(a);
}

static __global__ void deltakv_score_out_kernel(const deltakv_score_args a) {
    ggml_cuda_pdl_lc();
    ggml_cuda_pdl_sync();
    deltakv_score_out(a);
}

bool ggml_cuda_deltakv_score_supported(const ggml_tensor * op) {
    const ggml_tensor * q = op->src[0];
    const ggml_tensor * k = op->src[1];
    return q->type == GGML_TYPE_F32 && k->type == GGML_TYPE_F16 && q->ne[0] % 8 == 0 &&
        q->ne[1] <= 32*DELTAKV_SCORE_HEAD_ITERS && k->nb[1] % 16 == 0 && k->nb[2] % 16 == 0 &&
        deltakv_score_smem((int) q->ne[0], (int) q->ne[1]) <= 48*1024;
}

void ggml_cuda_op_deltakv_score(ggml_backend_cuda_context & ctx, ggml_tensor * dst) {
    const ggml_tensor * q    = dst->src[0];
    const ggml_tensor * k    = dst->src[1];
    const ggml_tensor * cell = dst->src[2];
    const ggml_tensor * mask = dst->src[3];
    GGML_ASSERT(ggml_cuda_deltakv_score_supported(dst));
    GGML_ASSERT(((uintptr_t) k->data) % 16 == 0);

    const int n_cand = (int) dst->ne[0];
    const int n_tok  = (int) dst->ne[1];
    if (n_cand == 0 || n_tok == 0) {
        return;
    }
    deltakv_score_args a;
    a.q         = (const float *) q->data;
    a.k         = (const half *) k->data;
    a.cell      = (const int32_t *) cell->data;
    a.mask      = (const float *) mask->data;
    a.dst       = (float *) dst->data;
    a.d         = (int) q->ne[0];
    a.n_head    = (int) q->ne[1];
    a.n_head_kv = (int) k->ne[1];
    a.n_cand    = n_cand;
    a.n_blocks  = (n_cand + DELTAKV_SCORE_PER_BLOCK - 1) / DELTAKV_SCORE_PER_BLOCK;
    a.nb_q1     = q->nb[1];
    a.nb_q2     = q->nb[2];
    a.nb_k1     = k->nb[1];
    a.nb_k2     = k->nb[2];
    memcpy(&a.scale, dst->op_params, sizeof(float));

    ggml_cuda_pool_alloc<float2> part(ctx.pool(), (size_t) n_tok * a.n_blocks * a.n_head);
    ggml_cuda_pool_alloc<float2> tot(ctx.pool(), (size_t) n_tok * a.n_head);
    ggml_cuda_pool_alloc<float>  logit(ctx.pool(), (size_t) n_tok * n_cand * a.n_head);
    a.part  = part.get();
    a.tot   = tot.get();
    a.logit = logit.get();

    cudaStream_t stream  = ctx.stream();
    const dim3   grid(a.n_blocks, n_tok);
    const int    threads = DELTAKV_SCORE_WARPS*32;
    const size_t smem_rows = deltakv_score_rows_smem(a.d, a.n_head);
    const ggml_cuda_kernel_launch_params rows_launch(grid, dim3(threads), smem_rows, stream);
    switch (smem_rows <= 48*1024 ? deltakv_score_rows_elems(a.d, a.n_head, a.n_head_kv, a.nb_k1) : 0) {
        case 32: ggml_cuda_kernel_launch(deltakv_score_stats_rows_kernel<32>, rows_launch, a); break;
        case 16: ggml_cuda_kernel_launch(deltakv_score_stats_rows_kernel<16>, rows_launch, a); break;
        case 8:  ggml_cuda_kernel_launch(deltakv_score_stats_rows_kernel<8>,  rows_launch, a); break;
        default:
            ggml_cuda_kernel_launch(deltakv_score_stats_kernel,
                ggml_cuda_kernel_launch_params(grid, dim3(threads), deltakv_score_smem(a.d, a.n_head), stream), a);
            break;
    }
    ggml_cuda_kernel_launch(deltakv_score_combine_kernel,
        ggml_cuda_kernel_launch_params(dim3(1, n_tok), dim3(threads), 0, stream), a);
    ggml_cuda_kernel_launch(deltakv_score_out_kernel,
        ggml_cuda_kernel_launch_params(grid, dim3(threads), sizeof(float2) * a.n_head, stream), a);
}
