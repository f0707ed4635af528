// DeltaKV's ggml ops: the graph constructors (see ggml-deltakv.h). The CPU reference implementations are in
// ggml-cpu/deltakv.cpp, the CUDA kernels in ggml-cuda/deltakv-*.cu.

#include "ggml-deltakv.h"

#include "ggml-impl.h"

// ggml_get_rows_as

struct ggml_tensor * ggml_get_rows_as(
        struct ggml_context * ctx,
        struct ggml_tensor  * a,
        struct ggml_tensor  * b,
        enum   ggml_type      type) {
    GGML_ASSERT(type == GGML_TYPE_F32 || (ggml_is_quantized(a->type) && (type == GGML_TYPE_F16 || type == GGML_TYPE_BF16)));
    GGML_ASSERT(a->ne[2] == b->ne[1]);
    GGML_ASSERT(a->ne[3] == b->ne[2]);
    GGML_ASSERT(b->ne[3] == 1);
    GGML_ASSERT(b->type == GGML_TYPE_I32);

    struct ggml_tensor * result = ggml_new_tensor_4d(ctx, type, a->ne[0], b->ne[0], b->ne[1], b->ne[2]);

    result->op     = GGML_OP_GET_ROWS;
    result->src[0] = a;
    result->src[1] = b;

    return result;
}

// ggml_top_k_deterministic

struct ggml_tensor * ggml_top_k_deterministic(
        struct ggml_context * ctx,
        struct ggml_tensor  * a,
        int                   k) {
    struct ggml_tensor * result = ggml_top_k(ctx, a, k);
    ggml_set_op_params_i32(result, 0, 1); // a hint: any order, the same every run

    return result;
}

// ggml_deltakv_recon

struct ggml_tensor * ggml_deltakv_recon(
        struct ggml_context * ctx,
        struct ggml_tensor  * d,
        struct ggml_tensor  * refs,
        struct ggml_tensor  * ids,
        struct ggml_tensor  * rows,
        struct ggml_tensor  * center) {
    GGML_ASSERT(d->type == GGML_TYPE_F32);
    GGML_ASSERT(d->nb[0] == sizeof(float));
    GGML_ASSERT(d->ne[2] == 1 && d->ne[3] == 1);
    GGML_ASSERT(refs->type == GGML_TYPE_F16 || refs->type == GGML_TYPE_F32);
    GGML_ASSERT(refs->nb[0] == ggml_type_size(refs->type));
    GGML_ASSERT(refs->ne[0] == d->ne[0]);
    GGML_ASSERT(ids->type == GGML_TYPE_I32);
    GGML_ASSERT(ids->ne[0] >= 1 && ids->ne[0] <= 8);
    GGML_ASSERT(ids->ne[1] == d->ne[1]);
    GGML_ASSERT((rows == NULL) == (center == NULL));
    if (rows != NULL) {
        GGML_ASSERT(rows->type == GGML_TYPE_I32 && ggml_is_contiguous(rows) && ggml_nelements(rows) == d->ne[1]);
        GGML_ASSERT(center->type == GGML_TYPE_F32 && ggml_is_contiguous(center) && ggml_nelements(center) == d->ne[1]);
    }

    struct ggml_tensor * result = ggml_new_tensor_2d(ctx, GGML_TYPE_F32, d->ne[0], d->ne[1]);

    result->op     = GGML_OP_DELTAKV_RECON;
    result->src[0] = d;
    result->src[1] = refs;
    result->src[2] = ids;
    result->src[3] = rows;
    result->src[4] = center;

    return result;
}

// ggml_deltakv_rows

struct ggml_tensor * ggml_deltakv_rows(
        struct ggml_context * ctx,
        struct ggml_tensor  * exact,
        struct ggml_tensor  * att_rows,
        struct ggml_tensor  * att_pos,
        struct ggml_tensor  * rec,
        struct ggml_tensor  * rec_pos,
        struct ggml_tensor  * freq_factors,
        int                   n_att,
        int                   n_head_kv,
        int                   head_dim,
        int                   n_dims,
        int                   mode,
        int                   n_ctx_orig,
        float                 freq_base,
        float                 freq_scale,
        float                 ext_factor,
        float                 attn_factor,
        float                 beta_fast,
        float                 beta_slow) {
    GGML_ASSERT(exact->type == GGML_TYPE_F16 || exact->type == GGML_TYPE_F32);
    GGML_ASSERT(exact->nb[0] == ggml_type_size(exact->type));
    GGML_ASSERT(att_rows->type == GGML_TYPE_I32 && ggml_is_contiguous(att_rows));
    GGML_ASSERT(att_pos->type == GGML_TYPE_I32 && ggml_is_contiguous(att_pos));
    GGML_ASSERT(n_att > 0 && ggml_nelements(att_rows) % n_att == 0 && ggml_nelements(att_pos) == ggml_nelements(att_rows));
    GGML_ASSERT((rec == NULL) == (rec_pos == NULL));
    GGML_ASSERT(mode == GGML_ROPE_TYPE_NORMAL || mode == GGML_ROPE_TYPE_NEOX);
    GGML_ASSERT(head_dim % 2 == 0 && n_dims % 2 == 0 && n_dims <= head_dim && n_dims <= 512);
    GGML_ASSERT((int64_t) n_head_kv * head_dim < exact->ne[0]);
    const int64_t n_tok = ggml_nelements(att_rows) / n_att;
    int64_t n_rec = 0;
    if (rec != NULL) {
        GGML_ASSERT(rec->type == GGML_TYPE_F32 && rec->nb[0] == sizeof(float) && rec->ne[0] == exact->ne[0]);
        GGML_ASSERT(rec->ne[1] % n_tok == 0 && rec->ne[2] == 1 && rec->ne[3] == 1);
        GGML_ASSERT(rec_pos->type == GGML_TYPE_I32 && ggml_is_contiguous(rec_pos) && ggml_nelements(rec_pos) == rec->ne[1]);
        n_rec = rec->ne[1] / n_tok;
    }
    if (freq_factors != NULL) {
        GGML_ASSERT(freq_factors->type == GGML_TYPE_F32 && freq_factors->ne[0] >= n_dims / 2);
    }

    struct ggml_tensor * result = ggml_new_tensor_2d(ctx, GGML_TYPE_F16, exact->ne[0], (n_att + n_rec) * n_tok);

    int32_t params[13] = { n_att, n_head_kv, head_dim, n_dims, mode, n_ctx_orig };
    memcpy(params +  6, &freq_base,   sizeof(float));
    memcpy(params +  7, &freq_scale,  sizeof(float));
    memcpy(params +  8, &ext_factor,  sizeof(float));
    memcpy(params +  9, &attn_factor, sizeof(float));
    memcpy(params + 10, &beta_fast,   sizeof(float));
    memcpy(params + 11, &beta_slow,   sizeof(float));
    params[12] = (int32_t) n_rec;
    ggml_set_op_params(result, params, sizeof(params));

    result->op     = GGML_OP_DELTAKV_ROWS;
    result->src[0] = exact;
    result->src[1] = att_rows;
    result->src[2] = att_pos;
    result->src[3] = rec;
    result->src[4] = rec_pos;
    result->src[5] = freq_factors;

    return result;
}

// ggml_deltakv_rows_recon

// the rows op rebuilding its compressed tokens, with their ids given (slots NULL) or read through slots from the store
static struct ggml_tensor * ggml_deltakv_rows_recon_impl(
        struct ggml_context * ctx,
        struct ggml_tensor  * exact,
        struct ggml_tensor  * att_rows,
        struct ggml_tensor  * att_pos,
        struct ggml_tensor  * dec,
        struct ggml_tensor  * ids,
        struct ggml_tensor  * slots,
        struct ggml_tensor  * center_rows,
        struct ggml_tensor  * center,
        struct ggml_tensor  * rec_pos,
        struct ggml_tensor  * freq_factors,
        int                   n_att,
        int                   n_head_kv,
        int                   head_dim,
        int                   n_dims,
        int                   mode,
        int                   n_ctx_orig,
        float                 freq_base,
        float                 freq_scale,
        float                 ext_factor,
        float                 attn_factor,
        float                 beta_fast,
        float                 beta_slow) {
    GGML_ASSERT(dec != NULL && rec_pos != NULL);
    GGML_ASSERT((center_rows == NULL) == (center == NULL));
    if (center != NULL) {
        GGML_ASSERT(center_rows->type == GGML_TYPE_I32 && ggml_is_contiguous(center_rows));
        GGML_ASSERT(center->type == GGML_TYPE_F32 && ggml_is_contiguous(center));
        GGML_ASSERT(ggml_nelements(center_rows) == dec->ne[1] && ggml_nelements(center) == dec->ne[1]);
    }
    struct ggml_tensor * result = ggml_deltakv_rows(ctx, exact, att_rows, att_pos, dec, rec_pos, freq_factors, n_att,
                                                    n_head_kv, head_dim, n_dims, mode, n_ctx_orig, freq_base,
                                                    freq_scale, ext_factor, attn_factor, beta_fast, beta_slow);
    result->src[6] = ids;
    result->src[7] = center_rows;
    result->src[8] = center;
    result->src[9] = slots;

    return result;
}

struct ggml_tensor * ggml_deltakv_rows_recon(
        struct ggml_context * ctx,
        struct ggml_tensor  * exact,
        struct ggml_tensor  * att_rows,
        struct ggml_tensor  * att_pos,
        struct ggml_tensor  * dec,
        struct ggml_tensor  * ids,
        struct ggml_tensor  * center_rows,
        struct ggml_tensor  * center,
        struct ggml_tensor  * rec_pos,
        struct ggml_tensor  * freq_factors,
        int                   n_att,
        int                   n_head_kv,
        int                   head_dim,
        int                   n_dims,
        int                   mode,
        int                   n_ctx_orig,
        float                 freq_base,
        float                 freq_scale,
        float                 ext_factor,
        float                 attn_factor,
        float                 beta_fast,
        float                 beta_slow) {
    GGML_ASSERT(dec != NULL);
    GGML_ASSERT(ids->type == GGML_TYPE_I32 && ggml_is_contiguous(ids) && ids->ne[0] >= 1 && ids->ne[0] <= 8);
    GGML_ASSERT(ids->ne[1] == dec->ne[1]);
    return ggml_deltakv_rows_recon_impl(ctx, exact, att_rows, att_pos, dec, ids, NULL, center_rows, center, rec_pos, freq_factors, n_att, n_head_kv,
                                     head_dim, n_dims, mode, n_ctx_orig, freq_base, freq_scale, ext_factor, attn_factor,
                                     beta_fast, beta_slow);
}

// ggml_deltakv_rows_recon_slots

struct ggml_tensor * ggml_deltakv_rows_recon_slots(
        struct ggml_context * ctx,
        struct ggml_tensor  * exact,
        struct ggml_tensor  * att_rows,
        struct ggml_tensor  * att_pos,
        struct ggml_tensor  * dec,
        struct ggml_tensor  * ids_store,
        struct ggml_tensor  * slots,
        struct ggml_tensor  * center_rows,
        struct ggml_tensor  * center,
        struct ggml_tensor  * rec_pos,
        struct ggml_tensor  * freq_factors,
        int                   n_att,
        int                   n_head_kv,
        int                   head_dim,
        int                   n_dims,
        int                   mode,
        int                   n_ctx_orig,
        float                 freq_base,
        float                 freq_scale,
        float                 ext_factor,
        float                 attn_factor,
        float                 beta_fast,
        float                 beta_slow) {
    GGML_ASSERT(dec != NULL);
    GGML_ASSERT(ids_store->type == GGML_TYPE_F32 && ids_store->ne[0] >= 1 && ids_store->ne[0] <= 8);
    GGML_ASSERT(ids_store->nb[0] == sizeof(float));
    GGML_ASSERT(slots->type == GGML_TYPE_I32 && ggml_is_contiguous(slots) && ggml_nelements(slots) == dec->ne[1]);
    return ggml_deltakv_rows_recon_impl(ctx, exact, att_rows, att_pos, dec, ids_store, slots, center_rows, center, rec_pos, freq_factors, n_att, n_head_kv,
                                     head_dim, n_dims, mode, n_ctx_orig, freq_base, freq_scale, ext_factor, attn_factor,
                                     beta_fast, beta_slow);
}

// ggml_deltakv_score

struct ggml_tensor * ggml_deltakv_score(
        struct ggml_context * ctx,
        struct ggml_tensor  * q,
        struct ggml_tensor  * k,
        struct ggml_tensor  * cand_cell,
        struct ggml_tensor  * cand_mask,
        float                 scale) {
    GGML_ASSERT(q->type == GGML_TYPE_F32 && q->nb[0] == sizeof(float) && q->ne[3] == 1);
    GGML_ASSERT(k->type == GGML_TYPE_F16 && k->nb[0] == ggml_type_size(k->type) && k->ne[3] == 1);
    GGML_ASSERT(k->ne[0] == q->ne[0] && q->ne[1] % k->ne[1] == 0);
    GGML_ASSERT(cand_mask->type == GGML_TYPE_F32 && ggml_is_contiguous(cand_mask));
    GGML_ASSERT(cand_mask->ne[1] == q->ne[2] && cand_mask->ne[2] == 1 && cand_mask->ne[3] == 1);
    GGML_ASSERT(cand_cell->type == GGML_TYPE_I32 && ggml_is_contiguous(cand_cell));
    GGML_ASSERT(ggml_nelements(cand_cell) == ggml_nelements(cand_mask));

    struct ggml_tensor * result = ggml_new_tensor_2d(ctx, GGML_TYPE_F32, cand_mask->ne[0], cand_mask->ne[1]);

    ggml_set_op_params_f32(result, 0, scale);

    result->op     = GGML_OP_DELTAKV_SCORE;
    result->src[0] = q;
    result->src[1] = k;
    result->src[2] = cand_cell;
    result->src[3] = cand_mask;

    return result;
}

// ggml_deltakv_nearest

struct ggml_tensor * ggml_deltakv_nearest(
        struct ggml_context * ctx,
        struct ggml_tensor  * dot,
        struct ggml_tensor  * norms,
        struct ggml_tensor  * visible,
        int                   k) {
    GGML_ASSERT(dot->type == GGML_TYPE_F32 && ggml_is_contiguous(dot) && dot->ne[2] == 1 && dot->ne[3] == 1);
    GGML_ASSERT(norms->type == GGML_TYPE_F32 && ggml_is_contiguous(norms) && ggml_nelements(norms) == dot->ne[0]);
    GGML_ASSERT(visible->type == GGML_TYPE_F32 && ggml_is_contiguous(visible) && ggml_nelements(visible) == dot->ne[1]);
    GGML_ASSERT(k > 0 && k <= 8 && k <= dot->ne[0]);

    struct ggml_tensor * result = ggml_new_tensor_2d(ctx, GGML_TYPE_I32, k, dot->ne[1]);

    int32_t params[1] = { k };
    ggml_set_op_params(result, params, sizeof(params));

    result->op     = GGML_OP_DELTAKV_NEAREST;
    result->src[0] = dot;
    result->src[1] = norms;
    result->src[2] = visible;

    return result;
}

// ggml_deltakv_mask

struct ggml_tensor * ggml_deltakv_mask(
        struct ggml_context * ctx,
        struct ggml_tensor  * cell_seq,
        struct ggml_tensor  * cell_pos,
        struct ggml_tensor  * tok_seq,
        struct ggml_tensor  * tok_pos,
        enum ggml_type        type) {
    const int64_t n_kv = ggml_nelements(cell_seq);
    const int64_t n    = ggml_nelements(tok_seq);
    GGML_ASSERT(cell_seq->type == GGML_TYPE_F32 && ggml_is_contiguous(cell_seq));
    GGML_ASSERT(cell_pos->type == GGML_TYPE_F32 && ggml_is_contiguous(cell_pos) && ggml_nelements(cell_pos) == n_kv);
    GGML_ASSERT(tok_seq->type == GGML_TYPE_F32 && ggml_is_contiguous(tok_seq));
    GGML_ASSERT(tok_pos->type == GGML_TYPE_F32 && ggml_is_contiguous(tok_pos) && ggml_nelements(tok_pos) == n);
    GGML_ASSERT(type == GGML_TYPE_F16 || type == GGML_TYPE_F32);

    struct ggml_tensor * result = ggml_new_tensor_2d(ctx, type, n_kv, n);

    result->op     = GGML_OP_DELTAKV_MASK;
    result->src[0] = cell_seq;
    result->src[1] = cell_pos;
    result->src[2] = tok_seq;
    result->src[3] = tok_pos;

    return result;
}
