#include "llama-deltakv-attention.h"

#include "llama-deltakv-compressor.h"
#include "llama-kv-cache-deltakv.h"
#include "llama-model.h"

#include "ggml-deltakv.h"

#include <cstring>

llm_graph_input_attn_kv_deltakv * llama_deltakv_build_inp_attn(const llm_graph_context & g) {
    const auto * mctx = static_cast<const llama_kv_cache_deltakv_context *>(g.mctx);
    const auto * full = mctx->get_full();

    auto inp = std::make_unique<llm_graph_input_attn_kv_deltakv>(g.hparams, g.cparams, mctx);

    // the full layers' inputs, as build_attn_inp_kv makes them
    inp->self_k_idxs = full->build_input_k_idxs(g.ctx0, g.ubatch);
    inp->self_v_idxs = full->build_input_v_idxs(g.ctx0, g.ubatch);
    inp->self_kq_mask = ggml_new_tensor_4d(g.ctx0, g.cparams.flash_attn ? GGML_TYPE_F16 : GGML_TYPE_F32,
                                           full->get_n_kv(), g.ubatch.n_tokens, 1, 1);
    ggml_set_input(inp->self_kq_mask);
    ggml_set_name(inp->self_kq_mask, "attn_inp_kq_mask");
    inp->self_kq_mask_cnv = inp->self_kq_mask;
    inp->self_k_rot = full->build_input_k_rot(g.ctx0);
    inp->self_v_rot = full->build_input_v_rot(g.ctx0);

    inp->sched = g.sched;
    inp->plan(g.ubatch);
    inp->build_inputs(g.ctx0);

    return (llm_graph_input_attn_kv_deltakv *) g.res->add_input(std::move(inp));
}

// K (RoPE at pos) and V of [K_pre | V] rows: F32 [kv_dim, n] -> [head_dim, n_head_kv, n] each
static void split_rows(const llm_graph_context & g, ggml_tensor * x, ggml_tensor * pos, ggml_tensor * rope_factors,
                       ggml_tensor ** k, ggml_tensor ** v) {
    ggml_context * ctx = g.ctx0;
    const int64_t n = x->ne[1];
    ggml_tensor * kp = ggml_cont(ctx, ggml_view_2d(ctx, x, g.n_embd_k_gqa, n, x->nb[1], 0));
    ggml_tensor * vp = ggml_cont(ctx, ggml_view_2d(ctx, x, g.n_embd_v_gqa, n, x->nb[1],
                                                  g.n_embd_k_gqa * ggml_element_size(x)));
    kp = ggml_reshape_3d(ctx, kp, g.n_embd_head_k, g.n_head_kv, n);
    *k = ggml_rope_ext(ctx, kp, pos, rope_factors, g.n_rot, g.rope_type, g.n_ctx_orig, g.freq_base, g.freq_scale,
                       g.ext_factor, g.attn_factor, g.beta_fast, g.beta_slow);
    *v = ggml_reshape_3d(ctx, vp, g.n_embd_head_v, g.n_head_kv, n);
}

// K (RoPE at pos) and V of n consecutive exact rows from row r0, read in place: F16 [head_dim, n_head_kv, n] each
static void view_rows(const llm_graph_context & g, ggml_tensor * exact, int32_t r0, int32_t n, ggml_tensor * pos,
                      ggml_tensor * rope_factors, ggml_tensor ** k, ggml_tensor ** v) {
    ggml_context * ctx = g.ctx0;
    const size_t es  = ggml_element_size(exact);
    const size_t off = (size_t) r0 * exact->nb[1];
    ggml_tensor * kp = ggml_view_3d(ctx, exact, g.n_embd_head_k, g.n_head_kv, n, g.n_embd_head_k * es, exact->nb[1], off);
    *k = ggml_rope_ext(ctx, kp, pos, rope_factors, g.n_rot, g.rope_type, g.n_ctx_orig, g.freq_base, g.freq_scale,
                       g.ext_factor, g.attn_factor, g.beta_fast, g.beta_slow);
    *v = ggml_view_3d(ctx, exact, g.n_embd_head_v, g.n_head_kv, n, g.n_embd_head_v * es, exact->nb[1],
                      off + g.n_embd_k_gqa * es);
}

// [head_dim, n_head, n_tokens] as [head_dim * n_head, n_tokens]: a view where the heads of a token are adjacent, else a
// copy
static ggml_tensor * token_rows(ggml_context * ctx, ggml_tensor * t) {
    if (t->nb[1] == (size_t) t->ne[0] * ggml_element_size(t)) {
        return ggml_view_2d(ctx, t, t->ne[0] * t->ne[1], t->ne[2], t->nb[2], 0);
    }
    return ggml_cont_2d(ctx, t, t->ne[0] * t->ne[1], t->ne[2]);
}

// the input of k, when k is the output of a RoPE with this layer's parameters (not in place), as the models' graphs
// rotate K before attention; else null
static ggml_tensor * model_rope_input(const llm_graph_context & g, ggml_tensor * k, ggml_tensor * rope_factors) {
    if (k->op != GGML_OP_ROPE || k->view_src != nullptr || k->src[2] != rope_factors ||
        k->src[0]->type != k->type || !ggml_are_same_shape(k, k->src[0])) {
        return nullptr;
    }
    const int32_t * p = k->op_params;
    const float     f[6] = { g.freq_base, g.freq_scale, g.ext_factor, g.attn_factor, g.beta_fast, g.beta_slow };
    const bool same = p[1] == g.n_rot && p[2] == g.rope_type && p[4] == g.n_ctx_orig && memcmp(p + 5, f, sizeof(f)) == 0;
    return same ? k->src[0] : nullptr;
}

ggml_tensor * llama_deltakv_build_attn(
        const llm_graph_context & g,
        llm_graph_input_attn_kv_deltakv * inp,
        ggml_tensor * wo,
        ggml_tensor * wo_b,
        ggml_tensor * wo_s,
        ggml_tensor * q_cur,
        ggml_tensor * k_cur,
        ggml_tensor * v_cur,
        ggml_tensor * kq_b,
        ggml_tensor * sinks,
              float   kq_scale,
                int   il) {
    ggml_context * ctx = g.ctx0;
    const auto * mem = inp->mctx_dkv->get_mem();
    const auto & dkv = mem->get_dkv();
    const auto * st  = mem->get_layer(il);
    GGML_ASSERT(st != nullptr);

    ggml_tensor * rope_factors = mem->get_model().get_rope_factors(g.cparams, il);

    ggml_build_forward_expand(g.gf, q_cur);
    ggml_build_forward_expand(g.gf, v_cur);

    const bool rope_pairs = g.rope_type == LLAMA_ROPE_TYPE_NORM || g.rope_type == LLAMA_ROPE_TYPE_NEOX;
    // pre-RoPE K of the new tokens: with normal or NeoX pairs, the input of the model's RoPE when k_cur is its output
    // (the RoPE itself is then not computed: what is attended is rotated again below), else the model's rotation
    // undone (exact up to rounding without YaRN)
    ggml_tensor * k_pre = rope_pairs ? model_rope_input(g, k_cur, rope_factors) : nullptr;
    if (k_pre == nullptr) {
        ggml_build_forward_expand(g.gf, k_cur);
        k_pre = ggml_rope_ext(ctx, k_cur, inp->neg_pos, rope_factors, g.n_rot, g.rope_type, g.n_ctx_orig, g.freq_base,
                              g.freq_scale, g.ext_factor, 1.0f / g.attn_factor, g.beta_fast, g.beta_slow);
    }
    // the new tokens' exact rows, written in place: K (pre-RoPE) into the first n_embd_k_gqa elements of each row, V
    // after it (the ops below read the store after these in the graph's order, as llama.cpp's KV cache does)
    ggml_tensor * exact = st->exact;
    const size_t es = ggml_element_size(exact);
    ggml_build_forward_expand(g.gf, ggml_set_rows(ctx,
            ggml_view_2d(ctx, exact, g.n_embd_k_gqa, exact->ne[1], exact->nb[1], 0),
            token_rows(ctx, k_pre), inp->write_rows));
    ggml_build_forward_expand(g.gf, ggml_set_rows(ctx,
            ggml_view_2d(ctx, exact, g.n_embd_v_gqa, exact->ne[1], exact->nb[1], g.n_embd_k_gqa * es),
            token_rows(ctx, v_cur), inp->write_rows));

    // compressed tokens, reconstructed: dec(z) + mean of the references (RoPE at their own positions below)
    ggml_tensor * slots = nullptr;
    ggml_tensor * pos   = nullptr;
    ggml_tensor * rmask = nullptr;
    if (inp->mode == llm_graph_input_attn_kv_deltakv::RECON_ALL) {
        slots = inp->all_slots; // centers are among the exact rows
        pos   = inp->all_pos;
        rmask = inp->all_mask;
    } else if (inp->mode == llm_graph_input_attn_kv_deltakv::RECON_TOPK) {
        GGML_ASSERT(inp->sel_slots != nullptr && "a DeltaKV layer needs an observation layer before it");
        slots = inp->sel_slots;
        pos   = inp->sel_pos;
        rmask = inp->sel_valid;
    }
    const bool topk = inp->mode == llm_graph_input_attn_kv_deltakv::RECON_TOPK;
    const bool fused = !dkv.test.reference_ops;
    const bool rows_op = fused && g.cparams.flash_attn && rope_pairs; // DELTAKV_ROWS builds what is attended
    ggml_tensor * xr  = nullptr; // [kv_dim, n] pre-RoPE
    ggml_tensor * dec = nullptr; // rows_op: dec(z) [kv_dim, n], rebuilt by the rows op
    if (slots != nullptr) {
        // quantized latents gathered as the decoder's F16 / BF16, which its product takes as they are (an F32 gather
        // would be converted to it there: the same values, one more pass over them)
        const ggml_type dec_t = dkv.layers[il].dec->type;
        ggml_tensor * z = ggml_is_quantized(st->latent->type) && (dec_t == GGML_TYPE_F16 || dec_t == GGML_TYPE_BF16)
            ? ggml_get_rows_as(ctx, st->latent, slots, dec_t)
            : ggml_get_rows(ctx, st->latent, slots);                                                // [d, n]
        // the rows op reads the reference ids in place, through the slots; the others take a gathered copy
        ggml_tensor * ids = rows_op ? nullptr : ggml_cast(ctx, ggml_get_rows(ctx, st->ids, slots), GGML_TYPE_I32);
        if (rows_op) {
            dec = llama_deltakv_decode(ctx, dkv.layers[il], z);
        } else if (fused) {
            // one op: dec(z) + the mean of the references, or the exact row of a chosen center
            xr = ggml_deltakv_recon(ctx, llama_deltakv_decode(ctx, dkv.layers[il], z), exact, ids,
                                    topk ? inp->sel_rows : nullptr, topk ? inp->sel_exact : nullptr);
        } else {
            xr = llama_deltakv_rebuild(ctx, dkv.layers[il], exact, z, ids);
            if (topk) {
                // chosen centers are served exactly: x = xr + (exact - xr) * is_center
                ggml_tensor * xe = ggml_get_rows(ctx, exact, inp->sel_rows);
                xr = ggml_add(ctx, xr, ggml_mul(ctx, ggml_sub(ctx, xe, xr), inp->sel_exact));
            }
        }
    }

    ggml_tensor * k    = nullptr;
    ggml_tensor * v    = nullptr;
    ggml_tensor * mask = inp->attn_mask(ctx, rmask, g.cparams.flash_attn);
    if (inp->att_first >= 0 && slots == nullptr) {
        // a fresh prompt's rows, read in place
        view_rows(g, exact, inp->att_first, inp->n_att, inp->att_pos, rope_factors, &k, &v);
    } else if (rows_op) {
        // one op: each token's exact rows (sink and raw buffer, this ubatch's tokens included) and its compressed
        // tokens rebuilt in the same pass (decoded residual + mean of the references, or a chosen center's exact
        // row), RoPE applied, F16, in the layout flash attention reads (K and V strided views of its rows)
        ggml_tensor * rows = dec == nullptr
            ? ggml_deltakv_rows(ctx, exact, inp->att_rows, inp->att_pos, nullptr, nullptr, rope_factors, inp->n_att,
                                (int) g.n_head_kv, (int) g.n_embd_head_k, g.n_rot, g.rope_type, g.n_ctx_orig,
                                g.freq_base, g.freq_scale, g.ext_factor, g.attn_factor, g.beta_fast, g.beta_slow)
            : ggml_deltakv_rows_recon_slots(ctx, exact, inp->att_rows, inp->att_pos, dec, st->ids, slots,
                                      topk ? inp->sel_rows : nullptr, topk ? inp->sel_exact : nullptr, pos,
                                      rope_factors, inp->n_att, (int) g.n_head_kv, (int) g.n_embd_head_k, g.n_rot,
                                      g.rope_type, g.n_ctx_orig, g.freq_base, g.freq_scale, g.ext_factor,
                                      g.attn_factor, g.beta_fast, g.beta_slow);
        const int64_t n_str = topk ? inp->n_tok : 1;       // streams: a token each at decode, else one list
        const int64_t n_per = rows->ne[1] / n_str;
        const size_t  es    = ggml_element_size(rows);
        k = ggml_view_4d(ctx, rows, g.n_embd_head_k, g.n_head_kv, n_per, n_str, g.n_embd_head_k * es, rows->nb[1],
                         rows->nb[1] * n_per, 0);
        v = ggml_view_4d(ctx, rows, g.n_embd_head_v, g.n_head_kv, n_per, n_str, g.n_embd_head_v * es, rows->nb[1],
                         rows->nb[1] * n_per, g.n_embd_k_gqa * es);
    } else {
        // the composition of ggml ops: exact rows gathered, then the rebuilt ones after them
        split_rows(g, ggml_get_rows(ctx, exact, inp->att_rows), inp->att_pos, rope_factors, &k, &v);
        if (xr != nullptr) {
            ggml_tensor * kr = nullptr;
            ggml_tensor * vr = nullptr;
            split_rows(g, xr, pos, rope_factors, &kr, &vr);
            if (topk) {
                // one stream per token (build_attn_mha splits q by k's 4th dimension): its exact rows, its choices
                const int64_t n_tok = inp->n_tok;
                k = ggml_concat(ctx, ggml_reshape_4d(ctx, k,  k->ne[0],  k->ne[1],  inp->n_att, n_tok),
                                     ggml_reshape_4d(ctx, kr, kr->ne[0], kr->ne[1], inp->n_top, n_tok), 2);
                v = ggml_concat(ctx, ggml_reshape_4d(ctx, v,  v->ne[0],  v->ne[1],  inp->n_att, n_tok),
                                     ggml_reshape_4d(ctx, vr, vr->ne[0], vr->ne[1], inp->n_top, n_tok), 2);
            } else {
                k = ggml_concat(ctx, k, kr, 2);
                v = ggml_concat(ctx, v, vr, 2);
            }
        }
        if (g.cparams.flash_attn) {
            // flash attention reads F16 K and V: cast here, where they are contiguous (after build_attn_mha's
            // permute the cast is a strided copy, several times slower)
            k = ggml_cast(ctx, k, GGML_TYPE_F16);
            v = ggml_cast(ctx, v, GGML_TYPE_F16);
        }
    }

    ggml_tensor * cur = g.build_attn_mha(q_cur, k, v, kq_b, mask, sinks, nullptr, 0, kq_scale, il);
    g.cb(cur, "kqv_out", il);

    if (wo) {
        cur = g.build_lora_mm(wo, cur, wo_s);
    }
    if (wo_b) {
        cur = ggml_add(ctx, cur, wo_b);
    }
    return cur;
}

// the composition of ggml ops that ggml_deltakv_score replaces: a score matrix per head, its softmax, the maximum over
// heads (the reference, and K types other than F16)
static ggml_tensor * selection_scores(const llm_graph_context & g, llm_graph_input_attn_kv_deltakv * inp,
                                      ggml_tensor * q_cur, ggml_tensor * k, float kq_scale) {
    ggml_context * ctx = g.ctx0;
    const int64_t n_tok  = inp->n_tok;
    const int64_t n_kv   = inp->n_kv;
    const int64_t n_cand = inp->n_cand;
    const int64_t n_head = q_cur->ne[1];

    ggml_tensor * p = nullptr;
    if (n_tok == 1) {
        // in place: every cell, the others masked
        ggml_tensor * q  = ggml_permute(ctx, q_cur, 0, 2, 1, 3);                     // [D, 1, n_head]
        ggml_tensor * kk = ggml_permute(ctx, k, 0, 2, 1, 3);                         // [D, n_kv, n_head_kv]
        ggml_tensor * kq = ggml_mul_mat(ctx, kk, q);                                 // [n_kv, 1, n_head]
        ggml_mul_mat_set_prec(kq, GGML_PREC_F32);
        p = ggml_soft_max_ext(ctx, kq, inp->cand_mask, kq_scale, 0.0f);
        p = ggml_cont(ctx, ggml_permute(ctx, p, 1, 2, 0, 3));                        // [n_head, n_cand, 1]
    } else {
        // a batch: each token its own sequence's candidates, gathered
        const int64_t d = k->ne[0], n_head_kv = k->ne[1];
        ggml_tensor * rows = ggml_view_2d(ctx, k, d * n_head_kv, n_kv, k->nb[2], 0);
        ggml_tensor * kc   = ggml_get_rows(ctx, rows, inp->cand_cell);               // [D*n_head_kv, n_cand*n_tok]
        kc = ggml_permute(ctx, ggml_reshape_4d(ctx, kc, d, n_head_kv, n_cand, n_tok), 0, 2, 1, 3); // [D, n_cand, h, t]
        ggml_tensor * q  = ggml_view_4d(ctx, q_cur, d, n_head, 1, n_tok, q_cur->nb[1], q_cur->nb[2], q_cur->nb[2], 0);
        q = ggml_permute(ctx, q, 0, 2, 1, 3);                                        // [D, 1, n_head, n_tok]
        ggml_tensor * kq = ggml_mul_mat(ctx, kc, q);                                 // [n_cand, 1, n_head, n_tok]
        ggml_mul_mat_set_prec(kq, GGML_PREC_F32);
        kq = ggml_add(ctx, ggml_scale(ctx, ggml_reshape_3d(ctx, kq, n_cand, n_head, n_tok), kq_scale),
                      ggml_reshape_3d(ctx, inp->cand_mask, n_cand, 1, n_tok));
        p = ggml_soft_max(ctx, kq);
        p = ggml_cont(ctx, ggml_permute(ctx, p, 1, 0, 2, 3));                        // [n_head, n_cand, n_tok]
    }

    // max over heads
    p = ggml_reshape_2d(ctx, p, n_head, n_cand * n_tok);
    p = ggml_pool_1d(ctx, p, GGML_OP_POOL_MAX, (int) n_head, (int) n_head, 0);        // [1, n_cand * n_tok]
    ggml_tensor * score = ggml_add(ctx, ggml_reshape_2d(ctx, p, n_cand, n_tok), inp->cand_mask);

    return score;
}

void llama_deltakv_build_selection(
        const llm_graph_context & g,
        llm_graph_input_attn_kv_deltakv * inp,
        ggml_tensor * q_cur,
              float   kq_scale,
                int   il) {
    const auto & dkv = inp->mctx_dkv->get_mem()->get_dkv();
    if (inp->mode != llm_graph_input_attn_kv_deltakv::RECON_TOPK || !dkv.is_observation(il)) {
        return;
    }
    ggml_context * ctx = g.ctx0;
    const int64_t n_tok = inp->n_tok;

    // softmax over the candidates of q . k / sqrt(D), per head, then the maximum over heads (spec 6.3)
    ggml_tensor * k = inp->mctx_dkv->get_full()->get_k(ctx, il);                     // [D, n_head_kv, n_kv, 1]
    ggml_tensor * score = nullptr;
    if (!dkv.test.reference_ops && k->type == GGML_TYPE_F16) {
        // one op, K read in place through each token's candidate cells (one token: every cell, the others masked)
        score = ggml_deltakv_score(ctx, q_cur, k, inp->cand_cell, inp->cand_mask, kq_scale); // [n_cand, n_tok]
    } else {
        score = selection_scores(g, inp, q_cur, k, kq_scale);
    }

    ggml_tensor * top = ggml_top_k_deterministic(ctx, score, inp->n_top);            // I32 [n_top, n_tok]
    const int64_t n_rec = (int64_t) inp->n_top * n_tok;
    // the chosen candidates' entries of the tables: per token from its list's entries, or (cand_gather: the tables
    // whole) at the chosen candidates' cells
    ggml_tensor * cells = nullptr;
    if (inp->cand_gather) {
        cells = ggml_get_rows(ctx, ggml_reshape_3d(ctx, inp->cand_cell, 1, inp->n_cand, n_tok), top);
        cells = ggml_reshape_1d(ctx, cells, n_rec);                                  // I32 [n_rec]
    }
    auto chosen = [&](ggml_tensor * t) {
        return ggml_get_rows(ctx, t, cells != nullptr ? cells : top);
    };
    inp->sel_slots = ggml_reshape_1d(ctx, chosen(inp->cell_slot), n_rec);
    inp->sel_pos   = ggml_reshape_1d(ctx, chosen(inp->cell_pos),  n_rec);
    inp->sel_rows  = ggml_reshape_1d(ctx, chosen(inp->cell_row),  n_rec);
    inp->sel_exact = ggml_reshape_2d(ctx, chosen(inp->cell_exact), 1, n_rec);
    inp->sel_valid = ggml_reshape_2d(ctx, ggml_get_rows(ctx, inp->cand_valid, top), inp->n_top, n_tok);
}
