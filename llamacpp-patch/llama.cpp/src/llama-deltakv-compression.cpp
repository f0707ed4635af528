#include "llama-deltakv-compression.h"

#include "llama-context.h"
#include "llama-deltakv-compressor.h"
#include "llama-hparams.h"
#include "llama-impl.h"

#include "ggml-deltakv.h"

#include <algorithm>

namespace {

// inputs of one compression graph: one tile of a block of one sequence, shared by every DeltaKV layer
class deltakv_compress_input : public llm_graph_input_i {
public:
    ggml_tensor * blk_rows = nullptr; // I32 [n]       exact rows of the tile's tokens
    ggml_tensor * ref_rows = nullptr; // I32 [R]       exact rows of the references (list order)
    ggml_tensor * ref_rowf = nullptr; // F32 [1, R]    the same numbers as values, stored as reference ids
    ggml_tensor * visible  = nullptr; // F32 [1, n]    references each token sees (a prefix of the list)
    ggml_tensor * slots    = nullptr; // I64 [n]       latent slots of the tile's tokens

    std::vector<int32_t> h_blk_rows;
    std::vector<int32_t> h_ref_rows;
    std::vector<float>   h_ref_rowf;
    std::vector<float>   h_visible;
    std::vector<int64_t> h_slots;

    void set_input(const llama_ubatch * ubatch) override {
        GGML_UNUSED(ubatch);
        set(blk_rows, h_blk_rows.data());
        set(ref_rows, h_ref_rows.data());
        set(ref_rowf, h_ref_rowf.data());
        set(visible,  h_visible.data());
        set(slots,    h_slots.data());
    }

private:
    static void set(ggml_tensor * t, const void * data) {
        if (t->buffer != nullptr) { // an input the graph does not use has no memory (a warm-up writes no slots)
            ggml_backend_tensor_set(t, data, 0, ggml_nbytes(t));
        }
    }
};

}

// the exact rows of a sequence's references (sink and centers keep theirs)
static std::vector<int32_t> reference_rows(const llama_deltakv_sequence & s, const std::vector<int32_t> & refs) {
    std::vector<int32_t> rows(refs.size());
    for (size_t r = 0; r < refs.size(); ++r) {
        rows[r] = s.row_of_pos[refs[r]];
        GGML_ASSERT(rows[r] >= 0);
    }
    return rows;
}

// offsets in a block of the tokens that get a latent and reference ids: the block's centers keep their exact rows
// and are served exactly (spec 11.5, the paper-era engine)
static std::vector<int32_t> latent_offsets(const llama_deltakv_seq_plan & after, const llama_deltakv_block & block) {
    std::vector<int32_t> offsets;
    for (int32_t i = 0; i < block.size(); ++i) {
        if (!after.is_center(block.p0 + i)) {
            offsets.push_back(i);
        }
    }
    return offsets;
}

llama_deltakv_compression::llama_deltakv_compression(const llama_deltakv & dkv, const llama_hparams & hparams,
                                                     llama_deltakv_store & store) :
    dkv(dkv), hparams(hparams), store(store) {
}

// as many as keep the graph's widest F32 intermediate (the [n_refs, rows] products, the encoder's [2 ff, rows] gate
// and up) within 256 MiB, from 512 to 8192 rows; fewer, larger graphs cost less host time each (a 32K prompt: 4 graphs
// instead of 15)
int32_t llama_deltakv_compression::tile_rows(int32_t n_refs) const {
    if (dkv.test.compress_tile > 0) {
        return dkv.test.compress_tile;
    }
    const int64_t widest = std::max<int64_t>({ (int64_t) n_refs, 2 * (int64_t) dkv.encoder_ff, (int64_t) dkv.kv_dim });
    const int64_t rows   = (256ll << 20) / (int64_t) sizeof(float) / std::max<int64_t>(widest, 1);
    return (int32_t) std::clamp<int64_t>(rows / 256 * 256, 512, 8192);
}

// references of a decode block's graphs padded with copies of the first (never visible to a token: each sees a
// prefix of the real list) to the next power of two, and past 2048 to a multiple of 2048: a block adds a dozen
// references, so consecutive blocks' graphs keep their shapes (the products' GEMM, the gathers, the compute buffer)
// for many blocks instead of changing every block, at most doubling a short list's work
size_t llama_deltakv_compression::padded_refs(size_t n) const {
    const size_t big = (size_t) std::max(dkv.test.ref_pad, 1);
    size_t pad = 1;
    while (pad < n && pad < big) {
        pad *= 2;
    }
    pad = std::min(pad, big);
    return (n + pad - 1) / pad * pad;
}

bool llama_deltakv_compression::is_due(const llama_deltakv_sequence & s) const {
    return s.plan.n_raw() >= 2 * (int32_t) dkv.n_recent;
}

bool llama_deltakv_compression::run(llama_context * lctx, std::map<llama_seq_id, llama_deltakv_sequence> & seqs,
                                    std::vector<committed_block> & done) {
    const size_t per_step = dkv.compress_layers_per_step;
    const size_t n_layers = store.get_layers().size();
    bool ok = true;
    for (auto & [id, s] : seqs) {
        llama_deltakv_seq_plan after = s.plan;
        llama_deltakv_block block;
        if (!after.compress(block)) {
            continue;
        }
        if (s.work.active && (s.work.block.p0 != block.p0 || s.work.block.p1 != block.p1)) {
            store.drop_block(s); // tokens arrived that make the block larger: compressed whole below
        }
        // a block that decode steps filled (a token a call) is spread over steps; one that a prompt's call filled
        // (however small its last chunk) is compressed at once, before the next chunk needs its rows
        const bool of_decode = s.decoding && block.size() <= 2 * (int32_t) dkv.n_recent;
        const bool spread    = per_step > 0 && of_decode;
        if (!s.work.active && !begin_block(s, after, block, of_decode)) {
            ok = false;
            continue;
        }
        // until the commit the plan stays as it was: the block raw, whole or partly encoded
        const bool encoded = encode_block(lctx, s, after, spread ? per_step : n_layers);
        if (encoded && s.work.n_done == n_layers) {
            done.push_back({ id, block.p0, block.p1 });
            commit_block(id, s, after);
            if (!of_decode && !decode_block_warm && dkv.test.warmup) {
                // the first decode block's compression would load kernels and pick GEMM algorithms for its shapes
                // (40 ms at 128K on the H200): done here, in the step that compressed a whole prompt
                warm_decode_block(lctx, s);
                decode_block_warm = true;
            }
        } else if (!encoded) {
            store.drop_block(s);
            ok = false;
        }
    }
    return ok;
}

bool llama_deltakv_compression::begin_block(llama_deltakv_sequence & s, const llama_deltakv_seq_plan & after,
                                            const llama_deltakv_block & block, bool pad_refs) {
    llama_deltakv_block_work w;
    w.block    = block;
    w.ref_rows = reference_rows(s, after.refs()); // the block's centers included
    if (pad_refs && !w.ref_rows.empty()) {
        w.ref_rows.resize(padded_refs(w.ref_rows.size()), w.ref_rows[0]);
    }
    w.offsets = latent_offsets(after, block);
    for (size_t i = 0; i < w.offsets.size(); ++i) {
        const int32_t slot = store.alloc_slot();
        if (slot < 0) {
            for (int32_t sl : w.slots) {
                store.release_slot(sl);
            }
            LLAMA_LOG_ERROR("%s: DeltaKV: out of latent slots\n", __func__);
            return false;
        }
        w.slots.push_back(slot);
    }
    w.active = true;
    s.work   = std::move(w);
    return true;
}

bool llama_deltakv_compression::encode_block(llama_context * lctx, llama_deltakv_sequence & s,
                                             const llama_deltakv_seq_plan & after, size_t n_layers) {
    llama_deltakv_block_work & w = s.work;
    const llama_deltakv_block & block = w.block;
    const int32_t n_enc = (int32_t) w.offsets.size();
    const size_t  from  = w.n_done;
    const size_t  to    = std::min(store.get_layers().size(), w.n_done + n_layers);

    const int32_t rows = tile_rows((int32_t) w.ref_rows.size());
    for (int32_t a = 0; a < n_enc; a += rows) {
        const int32_t n = std::min(rows, n_enc - a);
        tile t;
        t.blk_rows.resize(n);
        t.slots.resize(n);
        t.visible.resize(n);
        for (int32_t i = 0; i < n; ++i) {
            const int32_t off = w.offsets[a + i];
            t.blk_rows[i] = s.row_of_pos[block.p0 + off];
            t.slots[i]    = w.slots[a + i];
            t.visible[i]  = (float) after.n_visible_refs(block, off);
            GGML_ASSERT(t.blk_rows[i] >= 0);
        }
        if (!compute_tile(lctx, t, w.ref_rows, from, to, true)) {
            return false;
        }
    }
    w.n_done = to;
    return true;
}

bool llama_deltakv_compression::compute_tile(llama_context * lctx, const tile & t, const std::vector<int32_t> & ref_rows,
                                             size_t from, size_t to, bool write) {
    if (!sched) {
        auto backends = lctx->get_backends();
        auto bufts    = lctx->get_backend_bufts();
        const size_t max_nodes = 4096 + 64 * (size_t) hparams.n_layer();
        sched.reset(ggml_backend_sched_new(backends.data(), bufts.data(), (int) backends.size(), max_nodes, false,
                                           true));
        res = std::make_unique<llm_graph_result>((int64_t) max_nodes);
    }
    const int32_t n     = (int32_t) t.blk_rows.size();
    const int32_t n_ref = (int32_t) ref_rows.size();

    ggml_backend_sched_reset(sched.get());
    res->reset();
    ggml_context * ctx = res->get_ctx();
    ggml_cgraph  * gf  = res->get_gf();

    auto inp = std::make_unique<deltakv_compress_input>();
    inp->blk_rows = ggml_new_tensor_1d(ctx, GGML_TYPE_I32, n);
    inp->ref_rows = ggml_new_tensor_1d(ctx, GGML_TYPE_I32, n_ref);
    inp->ref_rowf = ggml_new_tensor_2d(ctx, GGML_TYPE_F32, 1, n_ref);
    inp->visible  = ggml_new_tensor_2d(ctx, GGML_TYPE_F32, 1, n);
    inp->slots    = ggml_new_tensor_1d(ctx, GGML_TYPE_I64, n);
    ggml_set_input(inp->blk_rows);
    ggml_set_input(inp->ref_rows);
    ggml_set_input(inp->ref_rowf);
    ggml_set_input(inp->visible);
    ggml_set_input(inp->slots);
    inp->h_blk_rows = t.blk_rows;
    inp->h_slots    = t.slots;
    inp->h_visible  = t.visible;
    inp->h_ref_rows = ref_rows;
    inp->h_ref_rowf.assign(ref_rows.begin(), ref_rows.end());

    const int32_t k     = (int32_t) dkv.n_neighbors;
    const bool    fused = !dkv.test.reference_ops;
    // the reference composition masks a [R, n] score matrix (made once, shared by the layers) and sorts its rows
    ggml_tensor * mask = fused ? nullptr : llama_deltakv_prefix_mask(ctx, n_ref, inp->visible);
    for (size_t si = from; si < to; ++si) {
        const auto & st    = store.get_layers()[si];
        const auto & layer = dkv.layers[st.il];
        ggml_tensor * x    = ggml_get_rows(ctx, st.exact, inp->blk_rows);              // [kv_dim, n]
        ggml_tensor * rr   = ggml_get_rows(ctx, st.exact, inp->ref_rows);              // [kv_dim, R]
        ggml_tensor * ids  = fused ? llama_deltakv_nearest_refs_prefix(ctx, x, rr, inp->visible, k)
                                   : llama_deltakv_nearest_refs(ctx, x, rr, mask, k);  // [k, n] list indices
        ggml_tensor * rows = ggml_get_rows(ctx, inp->ref_rowf, ggml_reshape_1d(ctx, ids, (int64_t) k * n));
        rows = ggml_reshape_2d(ctx, rows, k, n);                                        // exact rows as ids
        // the fused op over the exact rows gives 0 + the mean of each token's references
        ggml_tensor * mean = fused
            ? ggml_deltakv_recon(ctx, ggml_scale(ctx, x, 0.0f), st.exact, ggml_cast(ctx, rows, GGML_TYPE_I32),
                                 nullptr, nullptr)
            : llama_deltakv_ref_mean(ctx, rr, ids);
        ggml_tensor * z    = llama_deltakv_latent(ctx, dkv, layer, x, mean);           // [d, n]
        if (write) {
            ggml_build_forward_expand(gf, ggml_set_rows(ctx, st.latent, z, inp->slots));
            ggml_build_forward_expand(gf, ggml_set_rows(ctx, st.ids, rows, inp->slots));
        } else {
            ggml_build_forward_expand(gf, z);
            ggml_build_forward_expand(gf, rows);
        }
    }
    res->add_input(std::move(inp));

    if (!ggml_backend_sched_alloc_graph(sched.get(), gf)) {
        LLAMA_LOG_ERROR("%s: DeltaKV: failed to allocate the compression graph\n", __func__);
        return false;
    }
    res->set_inputs(nullptr);
    if (ggml_backend_sched_graph_compute(sched.get(), gf) != GGML_STATUS_SUCCESS) {
        LLAMA_LOG_ERROR("%s: DeltaKV: failed to compute the compression graph\n", __func__);
        return false;
    }
    return true;
}

void llama_deltakv_compression::warm_decode_block(llama_context * lctx, const llama_deltakv_sequence & s) {
    // the sequence's next decode block, as the plan will see it once its raw buffer is full
    llama_deltakv_seq_plan future = s.plan;
    future.append(2 * (int32_t) dkv.n_recent - future.n_raw());
    llama_deltakv_block block;
    if (!future.compress(block) || s.plan.n_refs() == 0) {
        return;
    }
    // its tokens do not exist yet: the references' own rows stand in for them (outputs computed, not written)
    std::vector<int32_t> ref_rows = reference_rows(s, s.plan.refs());
    const size_t n_now = ref_rows.size();
    ref_rows.resize(padded_refs(future.refs().size()), ref_rows[0]);
    const size_t n_enc = latent_offsets(future, block).size();
    tile t;
    for (size_t i = 0; i < n_enc; ++i) {
        t.blk_rows.push_back(ref_rows[i % n_now]);
        t.slots.push_back(0);
        t.visible.push_back((float) n_now);
    }
    if (!t.blk_rows.empty() && !store.get_layers().empty()) {
        compute_tile(lctx, t, ref_rows, 0, 1, false);
    }
}

void llama_deltakv_compression::commit_block(llama_seq_id seq_id, llama_deltakv_sequence & s,
                                             const llama_deltakv_seq_plan & after) {
    const llama_deltakv_block_work & w = s.work;
    GGML_ASSERT(w.active && w.n_done == store.get_layers().size());
    s.plan = after;
    // the block's other tokens now live as latents; its centers keep their exact rows
    for (size_t i = 0; i < w.offsets.size(); ++i) {
        const int32_t p = w.block.p0 + w.offsets[i];
        s.slot_of_pos[p] = w.slots[i];
        store.release_row(s.row_of_pos[p]);
        s.row_of_pos[p] = -1;
    }
    LLAMA_LOG_DEBUG("%s: DeltaKV: sequence %d compressed [%d, %d), %d references\n", __func__, seq_id, w.block.p0,
                    w.block.p1, s.plan.n_refs());
    s.work = {};
}
