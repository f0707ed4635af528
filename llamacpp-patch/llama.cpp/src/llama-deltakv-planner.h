#pragma once

// DeltaKV planner: which tokens of a sequence are sink, compressed, reference ("center") or recent,
// when a block is compressed and which references each token of a block may use (DeltaKV spec 3.2,
// 4.1, 6.1-6.3). Host bookkeeping only; the same plan holds for every DeltaKV layer of the sequence.

#include <cstdint>
#include <vector>

struct llama_deltakv_plan_params {
    int32_t n_sink        = 8;
    int32_t n_recent      = 128;
    int32_t center_stride = 10;
    int32_t n_neighbors   = 4;
    int32_t top_k         = 2048;
};

// One compressed block: positions [p0, p1); its centers are p0, p0 + s, p0 + 2s, ... < p1.
struct llama_deltakv_block {
    int32_t p0 = 0;
    int32_t p1 = 0;
    int32_t n_refs_before = 0; // references that existed before this block (sink + earlier centers)

    int32_t size() const { return p1 - p0; }
};

class llama_deltakv_seq_plan {
public:
    explicit llama_deltakv_seq_plan(const llama_deltakv_plan_params & params);

    // Tokens [n_tokens(), n_tokens() + n) arrive (raw, attended exactly).
    void append(int32_t n);

    // After a step's attention: compress the block the raw buffer allows, if any (spec 6.2):
    // buf = T - sink - C; E = floor((buf - n_recent) / n_recent) * n_recent; nothing when E <= 0.
    // The same rule gives the prefill plan of spec 6.1 (one block for the whole prompt).
    bool compress(llama_deltakv_block & block);

    // References a block token at offset i (0-based from block.p0) may use: the first n of the
    // reference list (sink, earlier centers, then this block's centers at offsets <= i).
    int32_t n_visible_refs(const llama_deltakv_block & block, int32_t i) const;

    // Neighbours averaged for a token that sees n_visible references: min(k, n_visible).
    int32_t n_neighbors_for(int32_t n_visible) const;

    // Top-k budget at decode: compressed tokens reconstructed per step, min(top_k, C).
    int32_t n_selected() const;

    // Removes positions [p0, end). Allowed inside the raw buffer (p0 >= sink + C), anywhere while nothing
    // is compressed, or for the whole sequence (p0 <= 0); false (and nothing changed) otherwise.
    bool remove_from(int32_t p0);

    int32_t n_tokens()     const { return n_tok; }
    int32_t n_sink()       const { return n_tok < params.n_sink ? n_tok : params.n_sink; }
    int32_t n_compressed() const { return n_comp; }
    int32_t n_raw()        const { return n_tok - n_sink() - n_comp; } // the recent buffer
    int32_t n_refs()       const { return (int32_t) ref_pos.size(); }
    int32_t n_neighbors()  const { return params.n_neighbors; }

    // Reference positions in list order: sink positions first, then centers block by block.
    const std::vector<int32_t> & refs() const { return ref_pos; }

    bool is_center(int32_t pos) const;

    // Sets the state saved from another plan with the same parameters (session restore); false if it is
    // not a state this plan could have reached.
    bool restore(int32_t n_tokens, int32_t n_compressed, const std::vector<int32_t> & refs);

private:
    llama_deltakv_plan_params params;
    int32_t n_tok  = 0;
    int32_t n_comp = 0;
    std::vector<int32_t> ref_pos;
};

// The reference visibility of a block's tokens as an attention-style mask, F32 [n_refs_after, E]
// (column-major per token): 0 for the references token i may use, -INFINITY for the others.
void llama_deltakv_visibility_mask(const llama_deltakv_seq_plan & plan, const llama_deltakv_block & block,
                                   float * mask);

// Bytes of KV memory for a sequence of n_tokens, by class, as the DeltaKV memory stores them.
struct llama_deltakv_bytes {
    int64_t full_layers = 0; // ordinary cache of the full layers
    int64_t exact_rows  = 0; // DeltaKV layers: sink, references and raw buffer, [K_pre | V] rows
    int64_t latents     = 0; // DeltaKV layers: latent codes (and int4 scales and minimums)
    int64_t ref_ids     = 0; // DeltaKV layers: the k reference ids of each compressed token
    int64_t stock       = 0; // what the stock cache holds for the same tokens

    int64_t total() const { return full_layers + exact_rows + latents + ref_ids; }
    double  ratio() const { return stock == 0 ? 0.0 : (double) total() / (double) stock; }
};

struct llama_deltakv_shape {
    int32_t n_layer;
    int32_t n_full_layers;
    int32_t kv_dim;       // 2 * n_head_kv * head_dim
    int32_t elem_bytes;   // bytes per element of exact rows and of the stock cache (2 for F16)
    int32_t latent_dim;
    int32_t latent_bits;  // 16, 8 or 4
    int32_t latent_group; // int8 / int4 group
};

// Bytes per reference id: 2 while a layer's reference list fits 16 bits, else 4.
int32_t llama_deltakv_ref_id_bytes(int32_t n_refs);

llama_deltakv_bytes llama_deltakv_count_bytes(const llama_deltakv_shape & shape, const llama_deltakv_seq_plan & plan);
