#pragma once

// DeltaKV memory, its storage (DeltaKV spec 3.2): for each DeltaKV layer, on the layer's device, the exact pre-RoPE
// [K | V] rows of sink, reference and recent tokens, the latent codes of compressed tokens and the ids of their
// references; which rows and latent slots are in use; and each sequence's map from positions to them.

#include "llama-deltakv-planner.h"
#include "llama-deltakv-side-file.h"

#include "ggml-cpp.h"

#include <map>
#include <vector>

struct llama_model;

// Storage of one DeltaKV layer, on the layer's device.
struct llama_deltakv_layer_store {
    int32_t       il     = -1;
    ggml_tensor * exact  = nullptr; // F16 [kv_dim, n_exact]  pre-RoPE [K | V] of sink, references and raw buffer
    ggml_tensor * latent = nullptr; // F16, Q8_0 or Q4_1 [d, n_slots]  latent codes of compressed tokens
    ggml_tensor * ids    = nullptr; // F32 [k, n_slots]  exact-row numbers of each compressed token's references
};

// A block being compressed: its latents are written ahead into slots of its own, DeltaKV layer by layer, while its
// tokens stay raw (attended exactly); when every layer is done the block is committed in one go (see
// llama-deltakv-compression.h).
struct llama_deltakv_block_work {
    bool                 active = false;
    llama_deltakv_block  block;
    std::vector<int32_t> offsets;  // offsets in the block of the tokens that get a latent (centers keep their rows)
    std::vector<int32_t> slots;    // their latent slots
    std::vector<int32_t> ref_rows; // exact rows of the references, list order, the block's centers included
                                   // (a decode block's padded with invisible copies: stable shapes)
    size_t               n_done = 0; // DeltaKV layers encoded so far
};

// Host bookkeeping of one sequence (the same for every DeltaKV layer).
struct llama_deltakv_sequence {
    explicit llama_deltakv_sequence(const llama_deltakv_plan_params & params) : plan(params) {}

    llama_deltakv_seq_plan   plan;
    std::vector<int32_t>     row_of_pos;  // exact row of a position, -1 if the position has none
    std::vector<int32_t>     slot_of_pos; // latent slot of a compressed position, -1 otherwise
    std::vector<int32_t>     cell_of_pos; // full-layer cell of a position as last seen, -1 unknown (for the tables)
    llama_deltakv_block_work work;        // the block being compressed, if any (not copied by seq_cp)
    int32_t                  n_appended = 0;    // tokens placed since the last memory update (the last call's)
    bool                     decoding   = true; // the last call gave the sequence at most one token: a decode step
};

// the type the latent codes are stored in
ggml_type llama_deltakv_latent_type(const llama_deltakv & dkv);

// The DeltaKV layers' buffers, and which of their exact rows and latent slots are in use. Rows and slots are shared by
// sequences copied with seq_cp: each has a reference count.
class llama_deltakv_store {
public:
    // room for kv_size tokens over n_seq_max sequences, n_batch of them arriving in one call
    llama_deltakv_store(const llama_model & model, const llama_deltakv & dkv, bool offload, uint32_t kv_size,
                        uint32_t n_seq_max, uint32_t n_batch);

    const std::vector<llama_deltakv_layer_store> & get_layers() const { return layers; }

    // storage of layer il, nullptr for a full layer
    const llama_deltakv_layer_store * get_layer(int32_t il) const;

    uint32_t get_n_exact() const { return n_exact; }
    uint32_t get_n_slots() const { return n_slots; }

    size_t n_free_rows()  const { return free_rows.size(); }
    size_t n_free_slots() const { return free_slots.size(); }

    // a free row or slot, taken (-1 when there is none)
    int32_t alloc_row();
    int32_t alloc_slot();

    void release_row(int32_t row);
    void release_slot(int32_t slot);

    // the rows and slots of s counted once more: a copy of s holds them too
    void share(const llama_deltakv_sequence & s);

    // frees what positions [p0, end) of s hold, and the slots of the block s has under way
    void release_from(llama_deltakv_sequence & s, int32_t p0);

    // frees the slots of the block s has under way and forgets it; its tokens stay raw
    void drop_block(llama_deltakv_sequence & s);

    // every row and slot free; data: the buffers zeroed
    void clear(bool data);

    const std::vector<ggml_backend_buffer_ptr> & get_buffers() const { return bufs; }

private:
    std::vector<llama_deltakv_layer_store> layers;   // one per DeltaKV layer
    std::map<int32_t, int32_t>             layer_of; // model layer -> index in layers
    std::vector<ggml_context_ptr>          ctxs;
    std::vector<ggml_backend_buffer_ptr>   bufs;

    uint32_t n_exact = 0; // exact rows per DeltaKV layer
    uint32_t n_slots = 0; // latent slots per DeltaKV layer

    std::vector<int32_t> row_refs;
    std::vector<int32_t> slot_refs;
    std::vector<int32_t> free_rows;
    std::vector<int32_t> free_slots;
};
