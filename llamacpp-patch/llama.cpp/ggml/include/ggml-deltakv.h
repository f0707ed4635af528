#pragma once

// DeltaKV's ggml ops (KV-cache compression, arXiv 2602.08005): the fused steps of a DeltaKV layer's attention
// and compression, and two variants of existing ops that it needs. Each op has a CPU reference implementation
// (ggml-cpu/deltakv.cpp) and a CUDA kernel (ggml-cuda/deltakv-*.cu); the ops are GGML_OP_DELTAKV_* in ggml.h.

#include "ggml.h"

#ifdef  __cplusplus
extern "C" {
#endif

    // ggml_get_rows with the rows written as type: F32, or F16 / BF16 from a quantized a (DeltaKV: latents gathered
    // in the type of the matrix that multiplies them, which would otherwise convert an F32 copy)
    GGML_API struct ggml_tensor * ggml_get_rows_as(
            struct ggml_context * ctx,
            struct ggml_tensor  * a,
            struct ggml_tensor  * b,
            enum   ggml_type      type);

    // ggml_top_k for a caller that takes the indices in any order but wants the same result from run to run: ggml-cuda
    // selects long rows (more than 1024) by a radix select, its indices in ascending order, instead of a full sort
    GGML_API struct ggml_tensor * ggml_top_k_deterministic(
            struct ggml_context * ctx,
            struct ggml_tensor  * a,
            int                   k);

    // DeltaKV: the compressed tokens chosen at decode, rebuilt from their decoded residuals and exact rows
    //   d [n_embd, n] F32: the decoder's output; refs [n_embd, n_refs] F16 or F32: the exact rows;
    //   ids [k, n] I32 (k <= 8): each token's reference rows; rows [n] I32 and center [n] F32, or both NULL:
    //   the exact row of the tokens that are centers (center != 0)
    //   -> [n_embd, n] F32
    //   result[:, i] = center[i] != 0 ? refs[:, rows[i]] : d[:, i] + (sum_j refs[:, ids[j, i]]) / k
    //
    GGML_API struct ggml_tensor * ggml_deltakv_recon(
            struct ggml_context * ctx,
            struct ggml_tensor  * d,
            struct ggml_tensor  * refs,
            struct ggml_tensor  * ids,
            struct ggml_tensor  * rows,
            struct ggml_tensor  * center);

    // DeltaKV: the rows a DeltaKV layer attends, in the layout flash attention reads, in one pass: for each of
    // n_tok tokens, n_att exact rows then n_rec rebuilt ones, with RoPE applied to their K part
    //   exact [kv_dim, n_exact] F16 or F32: pre-RoPE [K | V] rows; att_rows, att_pos [n_att * n_tok] I32: the
    //   exact rows each token attends and their positions; rec [kv_dim, n_rec * n_tok] F32 and rec_pos
    //   [n_rec * n_tok] I32, or both NULL: rebuilt pre-RoPE rows (ggml_deltakv_recon) and their positions;
    //   freq_factors: as ggml_rope_ext's c (or NULL); K is the first n_head_kv * head_dim values of a row, rotated
    //   per head like ggml_rope_ext (mode GGML_ROPE_TYPE_NORMAL or GGML_ROPE_TYPE_NEOX; n_dims <= 512), V the
    //   rest, copied
    //   -> [kv_dim, (n_att + n_rec) * n_tok] F16: token t's rows at t * (n_att + n_rec)
    //
    GGML_API struct ggml_tensor * ggml_deltakv_rows(
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
            float                 beta_slow);

    // ggml_deltakv_rows with the reconstruction in the same pass (no F32 rows in between): the rebuilt rows are
    // dec[:, i] + the mean of exact[:, ids[:, i]], or exact[:, center_rows[i]] where center[i] != 0, as
    // ggml_deltakv_recon(dec, exact, ids, center_rows, center) makes them
    //   dec [kv_dim, n_rec * n_tok] F32; ids [k, n_rec * n_tok] I32 (k <= 8, contiguous); center_rows
    //   [n_rec * n_tok] I32 and center [1, n_rec * n_tok] F32, or both NULL; the rest as ggml_deltakv_rows
    //
    GGML_API struct ggml_tensor * ggml_deltakv_rows_recon(
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
            float                 beta_slow);

    // ggml_deltakv_rows_recon with the reference ids read in place from their store: token i's ids are column
    // slots[i] of ids_store (F32 [k, n_slots], each id an integer held in a float, k <= 8), so no gathered copy of
    // them is made first
    //   slots [n_rec * n_tok] I32; the rest as ggml_deltakv_rows_recon
    //
    GGML_API struct ggml_tensor * ggml_deltakv_rows_recon_slots(
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
            float                 beta_slow);

    // DeltaKV: the observation layer's score of each candidate token for the top-k choice (DeltaKV spec 6.3), without
    // a score matrix per head: for each token t and head h, the softmax over t's candidates of
    // scale * q[h, t] . k[cand_cell[c, t], h / (n_head / n_head_kv)] + cand_mask[c, t]; then the maximum over heads,
    // plus cand_mask[c, t]
    //   q [head_dim, n_head, n_tok] F32; k [head_dim, n_head_kv, n_cells] F16 (a cache view, strided);
    //   cand_cell [n_cand * n_tok] I32; cand_mask [n_cand, n_tok] F32 (0, or -INFINITY for no candidate)
    //   -> [n_cand, n_tok] F32 (-INFINITY where cand_mask is)
    //
    GGML_API struct ggml_tensor * ggml_deltakv_score(
            struct ggml_context * ctx,
            struct ggml_tensor  * q,
            struct ggml_tensor  * k,
            struct ggml_tensor  * cand_cell,
            struct ggml_tensor  * cand_mask,
            float                 scale);

    // DeltaKV: the k nearest references of each token of a block being compressed (DeltaKV spec 4.1), from the
    // references' products with the token: the k largest 2 x.c - |c|^2 (the smallest |x - c|^2), references at or
    // after the token's visible count scored 1e30 lower (the causal rule), in descending order
    //   dot [n_ref, n] F32: c . x; norms [n_ref] F32: |c|^2; visible [n] F32: each token's visible count
    //   -> [k, n] I32 (k <= 8)
    //
    GGML_API struct ggml_tensor * ggml_deltakv_nearest(
            struct ggml_context * ctx,
            struct ggml_tensor  * dot,
            struct ggml_tensor  * norms,
            struct ggml_tensor  * visible,
            int                   k);

    // DeltaKV: a causal attention mask from each KV cell's sequence and position, made on the backend instead of
    // filled on the host: 0 where cell c holds a token of token t's sequence at a position up to t's, -INFINITY
    // elsewhere (an empty cell has sequence -1)
    //   cell_seq, cell_pos [n_kv] F32; tok_seq, tok_pos [n] F32 (positions exact below 2^24)
    //   -> [n_kv, n] of type (F16, as flash attention reads it, or F32)
    //
    GGML_API struct ggml_tensor * ggml_deltakv_mask(
            struct ggml_context * ctx,
            struct ggml_tensor  * cell_seq,
            struct ggml_tensor  * cell_pos,
            struct ggml_tensor  * tok_seq,
            struct ggml_tensor  * tok_pos,
            enum ggml_type        type);

#ifdef  __cplusplus
}
#endif
