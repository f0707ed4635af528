// DeltaKV: the rows a DeltaKV layer attends (GGML_OP_DELTAKV_ROWS): the ggml-cuda side.
// The kernel itself is in deltakv-rows-kernel.cuh.
#include "deltakv-rows.cuh"
#include "deltakv-rows-kernel.cuh"

// one block per output row. Launched as ggml-cuda launches its own kernels (programmatic dependent launch where the
// GPU has it): the next kernel may start launching at once and waits for this one's results where it needs them;
// this one waits for its inputs before it reads them.
template <typename T> // held to 48 registers: 5 blocks an SM
static __global__ void __launch_bounds__(256, 5) deltakv_rows_kernel(
        const T * exact, const int32_t * att_rows, const int32_t * att_pos, const float * rec, const int32_t * rec_pos,
        const float * freq, half * dst, const int64_t kv_dim, const int n_att, const int n_rec, const size_t nb_exact1,
        const size_t nb_rec1, const size_t nb_dst1, const deltakv_rope_params rp, const deltakv_rows_recon rc) {
    ggml_cuda_pdl_lc();
    ggml_cuda_pdl_sync();
    deltakv_rows_row<T>(blockIdx.x, exact, att_rows, att_pos, rec, rec_pos, freq, dst, kv_dim, n_att, n_rec, nb_exact1,
                        nb_rec1, nb_dst1, rp, rc);
}

void ggml_cuda_op_deltakv_rows(ggml_backend_cuda_context & ctx, ggml_tensor * dst) {
    const ggml_tensor * exact    = dst->src[0];
    const ggml_tensor * att_rows = dst->src[1];
    const ggml_tensor * att_pos  = dst->src[2];
    const ggml_tensor * rec      = dst->src[3];
    const ggml_tensor * rec_pos  = dst->src[4];
    const ggml_tensor * ff       = dst->src[5];

    GGML_ASSERT(exact->type == GGML_TYPE_F16 || exact->type == GGML_TYPE_F32);
    GGML_ASSERT(dst->type == GGML_TYPE_F16 && ggml_is_contiguous(dst));

    const int32_t * p = (const int32_t *) dst->op_params;
    float freq_base, beta_fast, beta_slow;
    deltakv_rope_params rp;
    rp.n_head_kv = p[1];
    rp.head_dim  = p[2];
    rp.n_dims    = p[3];
    rp.neox      = p[4] == GGML_ROPE_TYPE_NEOX;
    memcpy(&freq_base,      p +  6, sizeof(float));
    memcpy(&rp.freq_scale,  p +  7, sizeof(float));
    memcpy(&rp.ext_factor,  p +  8, sizeof(float));
    memcpy(&rp.attn_factor, p +  9, sizeof(float));
    memcpy(&beta_fast,      p + 10, sizeof(float));
    memcpy(&beta_slow,      p + 11, sizeof(float));
    float corr_dims[2];
    ggml_rope_yarn_corr_dims(rp.n_dims, p[5], freq_base, beta_fast, beta_slow, corr_dims);
    rp.corr0       = corr_dims[0];
    rp.corr1       = corr_dims[1];
    rp.theta_scale = powf(freq_base, -2.0f/rp.n_dims);
    const int n_att = p[0];
    const int n_rec = p[12];

    const int64_t n_out = dst->ne[1];
    if (n_out == 0) {
        return;
    }
    const int64_t kv_dim  = exact->ne[0];
    // the kernel moves elements in pairs (RoPE's pairs, then V): even row sizes, rows aligned to a pair
    GGML_ASSERT(kv_dim % 2 == 0 && rp.head_dim % 2 == 0 && exact->nb[1] % (2*ggml_element_size(exact)) == 0 &&
                dst->nb[1] % 4 == 0 && (rec == nullptr || rec->nb[1] % 8 == 0));
    const float * rec_d   = rec ? (const float *) rec->data : nullptr;
    const int32_t * rpos  = rec_pos ? (const int32_t *) rec_pos->data : nullptr;
    const float * freq    = ff ? (const float *) ff->data : nullptr;
    const size_t nb_rec1  = rec ? rec->nb[1] : 0;

    deltakv_rows_recon rc = { nullptr, 0, nullptr, nullptr, nullptr, nullptr, 0 };
    if (dst->src[6] != nullptr) {
        if (dst->src[9] != nullptr) { // ggml_deltakv_rows_recon_slots: the ids read in place from their store
            rc.id_store  = (const float *) dst->src[6]->data;
            rc.id_slots  = (const int32_t *) dst->src[9]->data;
            rc.nb_store1 = dst->src[6]->nb[1];
        } else {
            rc.ids = (const int32_t *) dst->src[6]->data;
        }
        rc.k           = (int) dst->src[6]->ne[0];
        rc.center_rows = dst->src[7] ? (const int32_t *) dst->src[7]->data : nullptr;
        rc.center      = dst->src[8] ? (const float *) dst->src[8]->data : nullptr;
        GGML_ASSERT(rc.k >= 1 && rc.k <= DELTAKV_RECON_MAX_K);
    }

    const ggml_cuda_kernel_launch_params launch(dim3((unsigned) n_out), dim3(deltakv_rows_threads(kv_dim)), 0,
                                                ctx.stream());
    if (exact->type == GGML_TYPE_F16) {
        ggml_cuda_kernel_launch(deltakv_rows_kernel<half>,
            launch, (const half *) exact->data, (const int32_t *) att_rows->data, (const int32_t *) att_pos->data, rec_d,
            rpos, freq, (half *) dst->data, kv_dim, n_att, n_rec, exact->nb[1], nb_rec1, dst->nb[1], rp, rc);
    } else {
        ggml_cuda_kernel_launch(deltakv_rows_kernel<float>,
            launch, (const float *) exact->data, (const int32_t *) att_rows->data, (const int32_t *) att_pos->data,
            rec_d, rpos, freq, (half *) dst->data, kv_dim, n_att, n_rec, exact->nb[1], nb_rec1, dst->nb[1], rp, rc);
    }
}
