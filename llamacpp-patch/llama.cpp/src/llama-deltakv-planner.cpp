#include "llama-deltakv-planner.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

llama_deltakv_seq_plan::llama_deltakv_seq_plan(const llama_deltakv_plan_params & params) : params(params) {
    if (params.n_sink < 0 || params.n_recent < 1 || params.center_stride < 1 || params.n_neighbors < 1 ||
        params.top_k < 1) {
        throw std::invalid_argument("invalid DeltaKV plan parameters");
    }
}

void llama_deltakv_seq_plan::append(int32_t n) {
    const int32_t sink_before = n_sink();
    n_tok += n;
    // the sink tokens are the first references of every DeltaKV layer
    for (int32_t p = sink_before; p < n_sink(); ++p) {
        ref_pos.push_back(p);
    }
}

bool llama_deltakv_seq_plan::compress(llama_deltakv_block & block) {
    const int32_t buf = n_raw();
    const int32_t e   = (buf - params.n_recent) / params.n_recent * params.n_recent;
    if (e <= 0) {
        return false;
    }
    block.p0            = n_sink() + n_comp;
    block.p1            = block.p0 + e;
    block.n_refs_before = n_refs();
    for (int32_t p = block.p0; p < block.p1; p += params.center_stride) {
        ref_pos.push_back(p);
    }
    n_comp += e;
    return true;
}

int32_t llama_deltakv_seq_plan::n_visible_refs(const llama_deltakv_block & block, int32_t i) const {
    // a center is visible to itself and to the block tokens after it
    return block.n_refs_before + i / params.center_stride + 1;
}

int32_t llama_deltakv_seq_plan::n_neighbors_for(int32_t n_visible) const {
    // fewer references than k: average over those there are (the Hugging Face reference, spec 11.13)
    return std::min(params.n_neighbors, n_visible);
}

int32_t llama_deltakv_seq_plan::n_selected() const {
    return std::min(params.top_k, n_comp);
}

bool llama_deltakv_seq_plan::remove_from(int32_t p0) {
    if (p0 >= n_tok) {
        return true; // nothing there
    }
    if (p0 <= 0) {
        n_tok  = 0;
        n_comp = 0;
        ref_pos.clear();
        return true;
    }
    if (n_comp == 0) {
        n_tok = p0; // nothing compressed yet: any suffix can go
        ref_pos.resize(n_sink());
        return true;
    }
    if (p0 < n_sink() + n_comp) {
        return false; // compressed tokens depend on their references: no edits inside history
    }
    n_tok = p0;
    return true;
}

bool llama_deltakv_seq_plan::restore(int32_t n_tokens, int32_t n_compressed, const std::vector<int32_t> & refs) {
    const int32_t sink = std::min(n_tokens, params.n_sink);
    if (n_tokens < 0 || n_compressed < 0 || n_compressed % params.n_recent != 0 || sink + n_compressed > n_tokens ||
        (int32_t) refs.size() < sink || !std::is_sorted(refs.begin(), refs.end())) {
        return false;
    }
    for (int32_t i = 0; i < (int32_t) refs.size(); ++i) {
        if (i < sink ? refs[i] != i : (refs[i] < sink || refs[i] >= sink + n_compressed)) {
            return false;
        }
    }
    n_tok   = n_tokens;
    n_comp  = n_compressed;
    ref_pos = refs;
    return true;
}

bool llama_deltakv_seq_plan::is_center(int32_t pos) const {
    return std::binary_search(ref_pos.begin(), ref_pos.end(), pos);
}

void llama_deltakv_visibility_mask(const llama_deltakv_seq_plan & plan, const llama_deltakv_block & block,
                                   float * mask) {
    const int32_t n_refs = plan.n_refs(); // after the block
    for (int32_t i = 0; i < block.size(); ++i) {
        const int32_t visible = plan.n_visible_refs(block, i);
        for (int32_t r = 0; r < n_refs; ++r) {
            mask[(int64_t) i * n_refs + r] = r < visible ? 0.0f : -INFINITY;
        }
    }
}

int32_t llama_deltakv_ref_id_bytes(int32_t n_refs) {
    return n_refs <= 65536 ? 2 : 4;
}

llama_deltakv_bytes llama_deltakv_count_bytes(const llama_deltakv_shape & shape, const llama_deltakv_seq_plan & plan) {
    llama_deltakv_bytes b;
    const int64_t row      = (int64_t) shape.kv_dim * shape.elem_bytes; // one token's [K | V] in one layer
    const int64_t n_dkv    = shape.n_layer - shape.n_full_layers;
    const int64_t tokens   = plan.n_tokens();
    const int64_t exact    = plan.n_refs() + plan.n_raw(); // references include the sink tokens
    const int64_t groups   = shape.latent_dim / shape.latent_group;
    const int64_t latent   = shape.latent_bits == 16 ? (int64_t) shape.latent_dim * 2               // F16
                           : shape.latent_bits == 8  ? (int64_t) shape.latent_dim + 2 * groups      // Q8_0: scale
                           : (int64_t) shape.latent_dim / 2 + 4 * groups;                            // Q4_1: scale, min

    b.full_layers = shape.n_full_layers * tokens * row;
    b.exact_rows  = n_dkv * exact * row;
    b.latents     = n_dkv * plan.n_compressed() * latent;
    b.ref_ids     = n_dkv * plan.n_compressed() * plan.n_neighbors() * (int64_t) llama_deltakv_ref_id_bytes(plan.n_refs());
    b.stock       = shape.n_layer * tokens * row;
    return b;
}
