#include "llama-deltakv-attention-input.h"

#include "llama-deltakv-compressor.h"
#include "llama-kv-cache-deltakv.h"
#include "llama-model.h"

#include "ggml-deltakv.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>

llm_graph_input_attn_kv_deltakv::llm_graph_input_attn_kv_deltakv(
        const llama_hparams & hparams,
        const llama_cparams & cparams,
        const llama_kv_cache_deltakv_context * mctx_dkv) :
    llm_graph_input_attn_kv(hparams, cparams, mctx_dkv->get_full()),
    mctx_dkv(mctx_dkv) {
}

bool llm_graph_input_attn_kv_deltakv::is_full_layer(int32_t il) const {
    return mctx_dkv->get_mem()->get_dkv().is_full[il];
}

bool llm_graph_input_attn_kv_deltakv::can_reuse(const llm_graph_params & params) {
    const auto * next = static_cast<const llama_kv_cache_deltakv_context *>(params.mctx);
    // not mctx_dkv->is_reserve(): the context this graph was planned with is gone by now (the ubatch it placed is done)
    if (next->is_reserve() || planned_for_reserve) {
        return false;
    }
    // plan the new ubatch against the memory as it is now; the graph fits when every shape is the same
    const recon_mode mode0 = mode;
    const int32_t    att0 = n_att, sel0 = n_sel, top0 = n_top, kv0 = n_kv, cand0 = n_cand, tok0 = n_tok;
    const int32_t    first0 = att_first;
    const bool       prefix0 = att_prefix, cell_mask0 = cell_mask, gather0 = cand_gather;
    mctx_dkv = next;
    mctx     = next->get_full();
    plan(params.ubatch);

    bool res = mode == mode0 && n_att == att0 && n_sel == sel0 && n_top == top0 && n_kv == kv0 && n_cand == cand0 &&
               n_tok == tok0 && att_first == first0 && att_prefix == prefix0 && // att_first: the offset of the views
               cell_mask == cell_mask0 && cand_gather == gather0;
    res &= self_k_idxs->ne[0] == params.ubatch.n_tokens;
    res &= self_kq_mask->ne[0] == mctx->get_n_kv() && self_kq_mask->ne[1] == params.ubatch.n_tokens;
    return res;
}

// exact rows a DeltaKV layer attends are padded to a multiple of 256 with masked copies of a row, so that decode
// keeps the graph's shapes for many steps and reuses it (ggml-cuda's CUDA graphs need unchanged shapes too); at
// most the pool's size, which the compute buffer was reserved for
static int32_t padded_rows(int32_t n_real, int32_t n_exact) {
    return std::min<int32_t>(GGML_PAD(n_real, 256), std::max<int32_t>(n_real, n_exact));
}

void llm_graph_input_attn_kv_deltakv::plan_rows(const std::vector<llama_seq_id> & seq_list) {
    // all tokens attend one list: sink and raw buffer of each sequence (this ubatch's tokens included), masked by
    // sequence and position; with RECON_ALL also the centers of the compressed history, which are served exactly
    // (spec 11.5), and every compressed token, rebuilt
    const auto * mem = mctx_dkv->get_mem();
    for (llama_seq_id sid : seq_list) {
        const auto * s = mem->get_seq(sid);
        const int32_t sink  = s->plan.n_sink();
        const int32_t c_end = sink + s->plan.n_compressed();
        for (int32_t p = 0; p < s->plan.n_tokens(); ++p) {
            const bool compressed = p >= sink && p < c_end;
            if (compressed && s->slot_of_pos[p] >= 0) {
                if (mode == RECON_ALL) {
                    h_all_slots.push_back(s->slot_of_pos[p]);
                    h_all_pos.push_back(p);
                    all_seq.push_back(sid);
                }
                continue;
            }
            if (compressed && mode != RECON_ALL) {
                continue; // a center: attended only when chosen
            }
            h_att_rows.push_back(s->row_of_pos[p]);
            h_att_pos.push_back(p);
            att_seq.push_back(sid);
        }
    }
    const int32_t n_real = (int32_t) h_att_rows.size();
    n_att = padded_rows(n_real, (int32_t) mem->get_n_exact());

    // a prompt on rows handed out in order (the free list gives a fresh sequence consecutive rows) is attended
    // in place, padding included (the padding is masked): no gather, no F32 copy of every row per ubatch
    bool run = mode == RECON_NONE && n_real > 0 && h_att_rows[0] + n_att <= (int32_t) mem->get_n_exact();
    for (int32_t j = 1; run && j < n_real; ++j) {
        run = h_att_rows[j] == h_att_rows[0] + j;
    }
    att_first = run ? h_att_rows[0] : -1;

    h_att_rows.resize(n_att, n_real > 0 ? h_att_rows[0] : 0);
    h_att_pos.resize(n_att, 0);
    att_seq.resize(n_att, -1); // no sequence: masked for every token
}

void llm_graph_input_attn_kv_deltakv::plan_rows_per_token() {
    // decode (one token per sequence): each token attends its own sequence only, as a stream of its own in
    // build_attn_mha: its sink and raw buffer (itself included), padded to the longest, then its chosen tokens.
    // Attention per token is then its own history, not every sequence's exact rows and choices.
    const auto * mem = mctx_dkv->get_mem();
    std::vector<std::vector<int32_t>> rows(n_tok);
    std::vector<std::vector<int32_t>> poss(n_tok);
    int32_t n_real = 0;
    for (int32_t t = 0; t < n_tok; ++t) {
        const auto * s = mem->get_seq(tok_seq[t]);
        const int32_t sink  = s->plan.n_sink();
        const int32_t c_end = sink + s->plan.n_compressed();
        // the sink and the raw buffer; compressed tokens and centers are attended only when chosen
        auto attend = [&](int32_t p0, int32_t p1) {
            for (int32_t p = p0; p < p1; ++p) {
                rows[t].push_back(s->row_of_pos[p]);
                poss[t].push_back(p);
            }
        };
        const int32_t n = s->plan.n_tokens();
        attend(0, std::min(sink, n));
        attend(std::max(c_end, sink), n);
        n_real = std::max(n_real, (int32_t) rows[t].size());
    }
    // padded to what a sequence can hold between compressions (sink, a raw buffer of up to 2 n_recent, this token):
    // the shape then holds across compressions, which every 128 tokens would otherwise move it across a multiple
    // of 256 and back, each time a new graph (and a new CUDA graph)
    const auto & dkv = mem->get_dkv();
    n_att = padded_rows(std::max<int32_t>(n_real, (int32_t) (dkv.n_sink + 2 * dkv.n_recent + 1)),
                        (int32_t) mem->get_n_exact());
    for (int32_t t = 0; t < n_tok; ++t) {
        const int32_t n_own = (int32_t) rows[t].size();
        for (int32_t j = 0; j < n_att; ++j) {
            const bool own = j < n_own;
            h_att_rows.push_back(own ? rows[t][j] : (n_own > 0 ? rows[t][0] : 0));
            h_att_pos.push_back(own ? poss[t][j] : 0);
            att_seq.push_back(own ? tok_seq[t] : -1);
        }
    }
}

void llm_graph_input_attn_kv_deltakv::plan_prefix() {
    // one list of one sequence's rows in position order, the padding after them (a prompt's batches): each token
    // sees a prefix of the list, its length is all the mask needs
    h_att_seen.clear();
    int32_t n_real = 0;
    att_prefix = n_att > 0 && att_seq[0] >= 0;
    for (int32_t j = 0; att_prefix && j < n_att && att_seq[j] >= 0; ++j, ++n_real) {
        att_prefix = att_seq[j] == att_seq[0] && (j == 0 || h_att_pos[j] > h_att_pos[j - 1]);
    }
    for (int32_t j = n_real; att_prefix && j < n_att; ++j) {
        att_prefix = att_seq[j] < 0;
    }
    for (int32_t t = 0; att_prefix && t < n_tok; ++t) {
        h_att_seen.push_back(tok_seq[t] != att_seq[0] ? 0.0f : (float)
            (std::upper_bound(h_att_pos.begin(), h_att_pos.begin() + n_real, tok_pos[t]) - h_att_pos.begin()));
    }
}

void llm_graph_input_attn_kv_deltakv::plan(const llama_ubatch & ubatch) {
    const auto * mem = mctx_dkv->get_mem();
    const auto & dkv = mem->get_dkv();

    n_tok = (int32_t) ubatch.n_tokens;
    h_att_rows.clear();
    h_att_pos.clear();
    h_all_slots.clear();
    h_all_pos.clear();
    n_sel = 0;
    n_top = 0;
    n_kv  = 0;
    n_cand = 0;
    att_first = -1;
    att_mask_f16 = false;
    att_prefix = false;
    cand_gather = false;

    // the full layers' mask made on the backend from the memory's cell table, not [cells x tokens] on the host
    cell_mask = cparams.causal_attn && !hparams.use_alibi && hparams.n_pos_per_embd() == 1 && !mem->has_shared_cells();

    planned_for_reserve = mctx_dkv->is_reserve();
    if (planned_for_reserve) {
        // worst case for the compute buffer: attention over every exact row, the mask made on the backend
        mode  = RECON_NONE;
        n_att = (int32_t) mem->get_n_exact();
        att_prefix = true;
        h_att_seen.assign(n_tok, 0.0f);
        return;
    }

    h_write_rows = mctx_dkv->get_write_rows();
    h_neg_pos.resize(n_tok);
    tok_seq.resize(n_tok);
    tok_pos.assign(ubatch.pos, ubatch.pos + n_tok);
    std::vector<llama_seq_id> seq_list;
    std::map<llama_seq_id, int32_t> tok_count;
    for (int32_t t = 0; t < n_tok; ++t) {
        h_neg_pos[t] = -ubatch.pos[t];
        tok_seq[t]   = ubatch.seq_id[t][0];
        if (tok_count[tok_seq[t]]++ == 0) {
            seq_list.push_back(tok_seq[t]);
        }
    }
    if (cell_mask) {
        h_tok_seq.assign(tok_seq.begin(), tok_seq.end());
        h_tok_pos.assign(tok_pos.begin(), tok_pos.end());
    }

    int32_t c_max = 0;
    bool    multi = false;
    for (llama_seq_id sid : seq_list) {
        const auto * s = mem->get_seq(sid);
        GGML_ASSERT(s != nullptr);
        c_max = std::max(c_max, s->plan.n_compressed());
        multi = multi || tok_count[sid] > 1;
    }
    mode = c_max == 0 ? RECON_NONE : (dkv.test.reconstruct_all || multi) ? RECON_ALL : RECON_TOPK;
    att_mask_f16 = mode == RECON_NONE && cparams.flash_attn;

    att_seq.clear();
    all_seq.clear();
    if (mode == RECON_TOPK) {
        plan_rows_per_token();
    } else {
        plan_rows(seq_list);
    }

    if (mode == RECON_ALL) {
        n_sel = (int32_t) h_all_slots.size();
    }
    if (mode == RECON_NONE) {
        plan_prefix();
    }
    if (mode != RECON_TOPK) {
        return;
    }

    // decode: each token's top-k among its sequence's compressed tokens, scored on the full-layer cells. One token
    // scores the cells in place (all of them, the others masked: the memory's candidate table); in a batch each token
    // scores a list of its own sequence's compressed cells, gathered (padded to the longest, rounded up to 256 so the
    // graph keeps its shape)
    n_top = std::min<int32_t>(top_k_for(seq_list), c_max);
    n_kv  = (int32_t) mctx_dkv->get_full()->get_n_kv();
    if (n_tok == 1) {
        n_cand = n_kv;
        return;
    }
    plan_batch_candidates();
}

int32_t llm_graph_input_attn_kv_deltakv::top_k_for(const std::vector<llama_seq_id> & seqs) const {
    const auto * mem = mctx_dkv->get_mem();
    const auto & dkv = mem->get_dkv();
    if (dkv.top_k_fraction <= 0.0f) {
        return (int32_t) dkv.top_k;
    }
    // a fraction of the longest sequence's tokens, rounded up to 256 so the graph keeps its shape while it grows
    int32_t n_max = 0;
    for (llama_seq_id sid : seqs) {
        n_max = std::max(n_max, mem->get_seq(sid)->plan.n_tokens());
    }
    const int32_t k = GGML_PAD((int32_t) std::ceil(dkv.top_k_fraction * (float) n_max), 256);
    return std::max<int32_t>((int32_t) dkv.top_k, k);
}

void llm_graph_input_attn_kv_deltakv::plan_batch_candidates() {
    const auto * mem = mctx_dkv->get_mem();
    // the lists change with the memory only (a compression, a sequence operation): for the same sequences in the same
    // order they are those of the last plan
    if (!mem->has_shared_cells() && lists_version == mem->get_version() && lists_n_kv == n_kv && lists_seqs == tok_seq) {
        n_cand      = lists_n_cand;
        cand_gather = true;
        return;
    }

    // each token's candidate cells, in one pass over the cells (a batch of B sequences at depth D has B x D cells:
    // a pass per token would be B^2 x D); here every token is a sequence of its own (RECON_TOPK)
    const auto & cells = mem->get_full()->get_cells_deltakv();
    std::vector<std::vector<int32_t>> own(n_tok);
    std::vector<int32_t> tok_of_seq(LLAMA_MAX_SEQ, -1);
    std::vector<int32_t> c_begin(n_tok), c_end(n_tok); // the compressed positions of each token's sequence
    for (int32_t t = 0; t < n_tok; ++t) {
        const auto * s = mem->get_seq(tok_seq[t]);
        tok_of_seq[tok_seq[t]] = t;
        c_begin[t] = s->plan.n_sink();
        c_end[t]   = s->plan.n_sink() + s->plan.n_compressed();
    }
    auto add = [&](int32_t t, int32_t c, llama_pos p) {
        if (t >= 0 && p >= c_begin[t] && p < c_end[t]) {
            own[t].push_back(c);
        }
    };
    for (int32_t c = 0; c < n_kv; ++c) {
        if (cells.is_empty(c)) {
            continue;
        }
        const llama_pos p = cells.pos_get(c);
        if (cells.seq_count(c) == 1) {
            add(tok_of_seq[cells.seq_get(c)], c, p);
        } else {
            for (int32_t t = 0; t < n_tok; ++t) { // a cell shared by sequences (seq_cp)
                if (cells.seq_has(c, tok_seq[t])) {
                    add(t, c, p);
                }
            }
        }
    }
    int32_t n_own_max = 0;
    for (const auto & o : own) {
        n_own_max = std::max(n_own_max, (int32_t) o.size());
    }
    n_cand = std::min<int32_t>(GGML_PAD(std::max(n_own_max, 1), 256), n_kv);

    const size_t n_all = (size_t) n_cand * n_tok;
    h_cand_cell.assign(n_all, 0);
    // without cells shared by sequences the memory's candidate table has every compressed cell's slot, position and
    // row: the lists and their lengths go up, the rest is gathered on the backend (one array of B x D entries for a
    // batch of B sequences at depth D, not seven)
    cand_gather = !mem->has_shared_cells();
    if (cand_gather) {
        h_cand_count.resize(n_tok);
        for (int32_t t = 0; t < n_tok; ++t) {
            std::copy(own[t].begin(), own[t].end(), h_cand_cell.begin() + (size_t) t * n_cand);
            h_cand_count[t] = (float) own[t].size();
        }
        lists_version = mem->get_version();
        lists_n_kv    = n_kv;
        lists_n_cand  = n_cand;
        lists_seqs    = tok_seq;
        return;
    }
    lists_version = 0; // h_cand_cell now holds this plan's lists, not the kept ones
    h_cand_mask.assign(n_all, -INFINITY);
    h_cand_valid.assign(n_all, -INFINITY);
    h_cell_slot.assign(n_all, 0);
    h_cell_pos.assign(n_all, 0);
    h_cell_row.assign(n_all, 0);
    h_cell_exact.assign(n_all, 0.0f);
    for (int32_t t = 0; t < n_tok; ++t) {
        const auto * s = mem->get_seq(tok_seq[t]);
        const size_t row = (size_t) t * n_cand;
        for (int32_t j = 0; j < (int32_t) own[t].size(); ++j) {
            const int32_t   c = own[t][j];
            const size_t    i = row + j;
            const llama_pos p = cells.pos_get(c);
            h_cand_cell [i] = c;
            h_cand_mask [i] = 0.0f;
            h_cand_valid[i] = 0.0f;
            h_cell_pos  [i] = p;
            if (s->slot_of_pos[p] >= 0) {
                h_cell_slot[i] = s->slot_of_pos[p];
            } else {
                h_cell_row  [i] = s->row_of_pos[p]; // a center: served exactly
                h_cell_exact[i] = 1.0f;
            }
        }
        if (own[t].empty()) {
            // nothing to choose: keep the scores finite, the choice is masked by cand_valid
            std::fill(h_cand_mask.begin() + row, h_cand_mask.begin() + row + n_cand, 0.0f);
        }
    }
}

void llm_graph_input_attn_kv_deltakv::build_inputs(ggml_context * ctx) {
    if (mode == RECON_TOPK && n_tok == 1) {
        make_table_views(ctx);
    }
    make_input_tensors(ctx);
    if (cand_gather) {
        make_cand_gathers(ctx);
    }
    if (cell_mask) {
        make_cell_mask(ctx);
    }
}

void llm_graph_input_attn_kv_deltakv::make_input_tensors(ggml_context * ctx) {
    if (mode == RECON_TOPK && sched != nullptr) {
        // the device of the first DeltaKV layer (a layer on another device gets a copy from the scheduler)
        const auto * mem = mctx_dkv->get_mem();
        for (int32_t il = 0; il < (int32_t) mem->get_model().hparams.n_layer(); ++il) {
            const auto * st = mem->get_layer(il);
            if (st != nullptr) {
                if (make_device_inputs(ggml_backend_buffer_get_type(st->exact->buffer))) {
                    return;
                }
                break;
            }
        }
    }
    make_inputs(ctx, true);
}

bool llm_graph_input_attn_kv_deltakv::make_device_inputs(ggml_backend_buffer_type_t buft) {
    const ggml_init_params params = { ggml_tensor_overhead() * 24, nullptr, true };
    dev_ctx.reset(ggml_init(params));
    make_inputs(dev_ctx.get(), false);

    const size_t align = ggml_backend_buft_get_alignment(buft);
    std::vector<std::pair<ggml_tensor *, size_t>> at;
    size_t size = 0;
    for (ggml_tensor * t = ggml_get_first_tensor(dev_ctx.get()); t != nullptr; t = ggml_get_next_tensor(dev_ctx.get(), t)) {
        at.emplace_back(t, size);
        size += GGML_PAD(ggml_backend_buft_get_alloc_size(buft, t), align);
    }
    dev_buf.reset(ggml_backend_buft_alloc_buffer(buft, size));
    if (!dev_buf) {
        // no room on the device: the scheduler's copies, from the compute buffer
        dev_ctx.reset();
        return false;
    }
    char * base = (char *) ggml_backend_buffer_get_base(dev_buf.get());
    for (const auto & [t, off] : at) {
        ggml_backend_tensor_alloc(dev_buf.get(), t, base + off);
    }
    dev_all = ggml_new_tensor_1d(dev_ctx.get(), GGML_TYPE_I8, (int64_t) size);
    ggml_backend_tensor_alloc(dev_buf.get(), dev_all, base);
    dev_host.assign(size, 0);
    return true;
}

void llm_graph_input_attn_kv_deltakv::make_inputs(ggml_context * ctx, bool graph_inputs) {
    auto input = [graph_inputs](ggml_tensor * t, const char * name) {
        if (graph_inputs) {
            ggml_set_input(t);
        }
        ggml_set_name(t, name);
        return t;
    };
    write_rows = input(ggml_new_tensor_1d(ctx, GGML_TYPE_I64, n_tok), "dkv_write_rows");
    neg_pos    = input(ggml_new_tensor_1d(ctx, GGML_TYPE_I32, n_tok), "dkv_neg_pos");
    const int64_t n_rows = (int64_t) n_att * (mode == RECON_TOPK ? n_tok : 1); // per token, or one list
    att_rows   = input(ggml_new_tensor_1d(ctx, GGML_TYPE_I32, n_rows), "dkv_att_rows");
    att_pos    = input(ggml_new_tensor_1d(ctx, GGML_TYPE_I32, n_rows), "dkv_att_pos");
    if (att_prefix) {
        att_seen = input(ggml_new_tensor_2d(ctx, GGML_TYPE_F32, 1, n_tok), "dkv_att_seen");
    } else {
        att_mask = input(ggml_new_tensor_2d(ctx, att_mask_f16 ? GGML_TYPE_F16 : GGML_TYPE_F32, n_att, n_tok),
                         "dkv_att_mask");
    }
    if (mode == RECON_ALL && n_sel > 0) {
        all_slots = input(ggml_new_tensor_1d(ctx, GGML_TYPE_I32, n_sel), "dkv_all_slots");
        all_pos   = input(ggml_new_tensor_1d(ctx, GGML_TYPE_I32, n_sel), "dkv_all_pos");
        all_mask  = input(ggml_new_tensor_2d(ctx, GGML_TYPE_F32, n_sel, n_tok), "dkv_all_mask");
    }
    if (cell_mask) {
        tok_seq_f = input(ggml_new_tensor_2d(ctx, GGML_TYPE_F32, 1, n_tok), "dkv_tok_seq");
        tok_pos_f = input(ggml_new_tensor_2d(ctx, GGML_TYPE_F32, 1, n_tok), "dkv_tok_pos");
    }
    if (mode == RECON_TOPK && n_tok > 1) {
        cand_cell  = input(ggml_new_tensor_1d(ctx, GGML_TYPE_I32, (int64_t) n_cand * n_tok), "dkv_cand_cell");
    }
    if (mode == RECON_TOPK && n_tok > 1 && cand_gather) {
        cand_count = input(ggml_new_tensor_2d(ctx, GGML_TYPE_F32, 1, n_tok), "dkv_cand_count");
    }
    if (mode == RECON_TOPK && n_tok > 1 && !cand_gather) {
        cand_mask  = input(ggml_new_tensor_2d(ctx, GGML_TYPE_F32, n_cand, n_tok), "dkv_cand_mask");
        cand_valid = input(ggml_new_tensor_3d(ctx, GGML_TYPE_F32, 1, n_cand, n_tok), "dkv_cand_valid");
        cell_slot  = input(ggml_new_tensor_3d(ctx, GGML_TYPE_I32, 1, n_cand, n_tok), "dkv_cell_slot");
        cell_pos   = input(ggml_new_tensor_3d(ctx, GGML_TYPE_I32, 1, n_cand, n_tok), "dkv_cell_pos");
        cell_row   = input(ggml_new_tensor_3d(ctx, GGML_TYPE_I32, 1, n_cand, n_tok), "dkv_cell_row");
        cell_exact = input(ggml_new_tensor_3d(ctx, GGML_TYPE_F32, 1, n_cand, n_tok), "dkv_cell_exact");
    }
}

void llm_graph_input_attn_kv_deltakv::make_cell_mask(ggml_context * ctx) {
    // the stock mask input is then left out of the graph: unallocated, the base class does not fill it
    const auto &  tab   = mctx_dkv->get_mem()->get_cell_table();
    const int64_t cells = self_kq_mask->ne[0]; // the full cache's n_kv
    ggml_tensor * seq = ggml_view_1d(ctx, tab.seq, cells, 0);
    ggml_tensor * pos = ggml_view_1d(ctx, tab.pos, cells, 0);
    self_kq_mask_cnv = ggml_deltakv_mask(ctx, seq, pos, tok_seq_f, tok_pos_f, self_kq_mask->type);
}

void llm_graph_input_attn_kv_deltakv::make_cand_gathers(ggml_context * ctx) {
    // each token's first cand_count candidates are its own; the rest of its list is padding
    const auto & tab = mctx_dkv->get_mem()->get_cand_table();
    // the tables whole: the selection reads them at the chosen candidates' cells only (n_top a token, not n_cand)
    auto whole = [ctx](ggml_tensor * t) { // [1, cells]
        return ggml_reshape_2d(ctx, t, 1, t->ne[0]);
    };
    cand_mask  = llama_deltakv_prefix_mask(ctx, n_cand, cand_count);
    cand_valid = ggml_reshape_3d(ctx, cand_mask, 1, n_cand, n_tok);
    cell_slot  = whole(tab.slot);
    cell_pos   = whole(tab.pos);
    cell_row   = whole(tab.row);
    cell_exact = whole(tab.exact);
}

void llm_graph_input_attn_kv_deltakv::make_table_views(ggml_context * ctx) {
    // the table's first n_kv cells, in the inputs' shapes; brought up to date by set_input()
    const auto & tab = mctx_dkv->get_mem()->get_cand_table();
    auto per_cell = [ctx, this](ggml_tensor * t) { // [1, n_kv, 1]
        return ggml_view_3d(ctx, t, 1, n_kv, 1, t->nb[0], t->nb[0] * n_kv, 0);
    };
    cand_cell  = ggml_view_1d(ctx, tab.cell, n_kv, 0);
    cand_mask  = ggml_view_2d(ctx, tab.mask, n_kv, 1, tab.mask->nb[0] * n_kv, 0);
    cand_valid = per_cell(tab.mask);
    cell_slot  = per_cell(tab.slot);
    cell_pos   = per_cell(tab.pos);
    cell_row   = per_cell(tab.row);
    cell_exact = per_cell(tab.exact);
}

template <typename T>
void llm_graph_input_attn_kv_deltakv::set_data(ggml_tensor * t, const std::vector<T> & v) {
    if (t == nullptr || t->buffer == nullptr) {
        return; // not used by the graph
    }
    GGML_ASSERT(ggml_nbytes(t) == v.size() * sizeof(T));
    if (dev_buf && t->buffer == dev_buf.get()) {
        const size_t off = (const char *) t->data - (const char *) ggml_backend_buffer_get_base(dev_buf.get());
        memcpy(dev_host.data() + off, v.data(), ggml_nbytes(t));
        return;
    }
    ggml_backend_tensor_set(t, v.data(), 0, ggml_nbytes(t));
}

void llm_graph_input_attn_kv_deltakv::fill_masks() {
    // [rows x tokens]: the largest host inputs in a prompt's batches, so made once per ubatch, here, and not
    // when can_reuse() plans a batch whose graph it then rejects
    const ggml_fp16_t zero16 = ggml_fp32_to_fp16(0.0f), inf16 = ggml_fp32_to_fp16(-INFINITY);
    const bool host_mask = att_seen == nullptr; // a prefix per token is made on the backend from h_att_seen
    h_att_mask.resize(att_mask_f16 || !host_mask ? 0 : (size_t) n_att * n_tok);
    h_att_mask16.resize(att_mask_f16 && host_mask ? (size_t) n_att * n_tok : 0);
    for (int32_t t = 0; host_mask && t < n_tok; ++t) {
        const llama_seq_id seq = tok_seq[t];
        const llama_pos    pos = tok_pos[t];
        const size_t       own = mode == RECON_TOPK ? (size_t) t * n_att : 0; // a token's own rows, or the one list
        const llama_seq_id * row_seq = att_seq.data() + own;
        const int32_t      * row_pos = h_att_pos.data() + own;
        if (att_mask_f16) {
            ggml_fp16_t * row = h_att_mask16.data() + (size_t) t * n_att;
            for (int32_t j = 0; j < n_att; ++j) {
                row[j] = row_seq[j] == seq && row_pos[j] <= pos ? zero16 : inf16;
            }
        } else {
            float * row = h_att_mask.data() + (size_t) t * n_att;
            for (int32_t j = 0; j < n_att; ++j) {
                row[j] = row_seq[j] == seq && row_pos[j] <= pos ? 0.0f : -INFINITY;
            }
        }
    }
    if (mode == RECON_ALL) {
        h_all_mask.resize((size_t) n_sel * n_tok);
        for (int32_t t = 0; t < n_tok; ++t) {
            float * row = h_all_mask.data() + (size_t) t * n_sel;
            for (int32_t j = 0; j < n_sel; ++j) {
                row[j] = all_seq[j] == tok_seq[t] ? 0.0f : -INFINITY;
            }
        }
    }
}

void llm_graph_input_attn_kv_deltakv::set_input(const llama_ubatch * ubatch) {
    llm_graph_input_attn_kv::set_input(ubatch);
    if (!mctx_dkv->is_reserve() && self_k_idxs != nullptr && self_k_idxs->buffer != nullptr &&
        ggml_backend_buffer_is_host(self_k_idxs->buffer)) {
        mctx_dkv->note_cells(*ubatch, (const int64_t *) self_k_idxs->data); // as the base class just wrote them
    }

    if (!mctx_dkv->is_reserve()) {
        fill_masks();
    }

    set_data(write_rows, h_write_rows);
    set_data(neg_pos,    h_neg_pos);
    set_data(att_rows,   h_att_rows);
    set_data(att_pos,    h_att_pos);
    set_data(att_seen,   h_att_seen);
    set_data(tok_seq_f,  h_tok_seq);
    set_data(tok_pos_f,  h_tok_pos);
    if (att_mask_f16) {
        set_data(att_mask, h_att_mask16);
    } else {
        set_data(att_mask, h_att_mask);
    }
    set_data(all_slots,  h_all_slots);
    set_data(all_pos,    h_all_pos);
    set_data(all_mask,   h_all_mask);
    // decode's candidates: one token's are views of the memory's candidate table; a batch's lists go up, with what
    // the table has for them gathered on the backend (cand_gather) or every array whole
    const bool table = mode == RECON_TOPK && (n_tok == 1 || cand_gather); // never a reserve's plan (RECON_NONE)
    if (mode == RECON_TOPK && n_tok > 1) {
        set_data(cand_cell,  h_cand_cell);
        set_data(cand_count, h_cand_count);
        if (!cand_gather) {
            set_data(cand_mask,  h_cand_mask);
            set_data(cand_valid, h_cand_valid);
            set_data(cell_slot,  h_cell_slot);
            set_data(cell_pos,   h_cell_pos);
            set_data(cell_row,   h_cell_row);
            set_data(cell_exact, h_cell_exact);
        }
    }
    const bool cells = cell_mask && !mctx_dkv->is_reserve();
    if ((dev_buf || table || cells) && sched != nullptr) {
        ggml_backend_sched_synchronize(sched); // the graph before may still be reading them
    }
    if (table) {
        mctx_dkv->sync_cand_table(tok_seq[0]);
    }
    if (cells) {
        // the cells this ubatch's tokens went to, as the base class's set_input() just wrote them
        GGML_ASSERT(self_k_idxs->buffer && ggml_backend_buffer_is_host(self_k_idxs->buffer));
        mctx_dkv->sync_cell_table((const int64_t *) self_k_idxs->data, (int32_t) ggml_nelements(self_k_idxs));
    }
    if (dev_buf) {
        ggml_backend_tensor_set(dev_all, dev_host.data(), 0, dev_host.size());
    }
}

ggml_tensor * llm_graph_input_attn_kv_deltakv::attn_mask(ggml_context * ctx, ggml_tensor * rmask, bool f16) {
    if (attn_mask_cur != nullptr && attn_mask_from == rmask) {
        return attn_mask_cur;
    }
    ggml_tensor * mask = att_mask;
    if (att_seen != nullptr) {
        // 0 for the rows a token sees, -1e30 after (-INFINITY once cast to F16), made here instead of on the host
        mask = llama_deltakv_prefix_mask(ctx, n_att, att_seen);
    }
    if (rmask != nullptr && mode == RECON_TOPK) {
        // per token (a stream each): its exact rows, then its choices
        mask = ggml_concat(ctx, ggml_reshape_4d(ctx, att_mask, n_att, 1, 1, n_tok),
                                ggml_reshape_4d(ctx, rmask,    n_top, 1, 1, n_tok), 0);
    } else if (rmask != nullptr) {
        mask = ggml_concat(ctx, att_mask, rmask, 0);
    }
    if (f16 && mask->type != GGML_TYPE_F16) {
        mask = ggml_cast(ctx, mask, GGML_TYPE_F16);
    }
    attn_mask_cur  = mask;
    attn_mask_from = rmask;
    return mask;
}
