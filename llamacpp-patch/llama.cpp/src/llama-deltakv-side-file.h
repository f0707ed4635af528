#pragma once

// DeltaKV: KV-cache compression by latent residuals against strided reference tokens.
// This file: the compressor as loaded from its GGUF side file (settings and per-layer weights). The public API is
// include/llama-deltakv.h.

#include "llama.h"
#include "llama-deltakv.h"

#include "ggml-cpp.h"

#include <cstdint>
#include <string>
#include <vector>

struct llama_model;

// Switches for tests only, not in the public API: variants that must compute the same as the default (or, for
// reference_ops, agree with it to rounding), set by tests through llama_deltakv_set_test_params.
struct llama_deltakv_test_params {
    bool    reconstruct_all = false; // DeltaKV layers rebuild every compressed token at each step (no top-k)
    bool    reference_ops   = false; // compositions of existing ggml ops instead of the fused DeltaKV ops
    int32_t compress_tile   = 0;     // block rows compressed per graph; 0: as many as fit the tile's memory
    int32_t ref_pad         = 2048;  // a decode block's references padded to a power of two up to this, then to a
                                     // multiple of it (stable graph shapes); 1: no padding
    bool    table_rescan    = false; // the candidate table rebuilt by a pass over every cell whenever it changes
    bool    warmup          = true;  // the first decode block's compression run once after a prompt's
};

enum llama_deltakv_encoder_type {
    LLAMA_DELTAKV_ENCODER_LINEAR, // z = W x (+ b)
    LLAMA_DELTAKV_ENCODER_SWIGLU, // [g ; u] = W12 x (+ b12), z = W3 (silu(g) * u) (+ b3)
};

// Compressor tensors of one DeltaKV layer, in ggml orientation (ne0 = input width).
struct llama_deltakv_layer {
    ggml_tensor * enc       = nullptr; // linear: [kv_dim, d]
    ggml_tensor * enc_b     = nullptr; //         [d]
    ggml_tensor * enc_w12   = nullptr; // swiglu: [kv_dim, 2*ff] (gate rows first)
    ggml_tensor * enc_w12_b = nullptr; //         [2*ff]
    ggml_tensor * enc_w3    = nullptr; //         [ff, d]
    ggml_tensor * enc_w3_b  = nullptr; //         [d]
    ggml_tensor * dec       = nullptr; // linear decoder: [d, kv_dim]
    ggml_tensor * dec_b     = nullptr; //                 [kv_dim]
};

// A digest of a model's tensor layout: FNV-1a 64 over "name:ne0,ne1,ne2,ne3\n" of every tensor, by name, as 16 hex
// digits. Models of one family and size share it whatever their quantisation; a side file records the one it was
// made for.
std::string llama_deltakv_model_layout(const llama_model & model);

struct llama_deltakv {
    // what the side file was made for
    std::string arch;
    std::string model_name;   // the model's general.name (empty: not recorded)
    std::string model_layout; // llama_deltakv_model_layout of that model (empty: not recorded)
    bool        model_matches = true; // the model it is loaded for has that layout (or none was recorded)
    uint32_t    n_layer    = 0;
    uint32_t    n_head_kv  = 0;
    uint32_t    head_dim   = 0;
    uint32_t    kv_dim     = 0; // 2 * n_head_kv * head_dim: [K_pre | V] of all KV heads
    uint32_t    latent_dim = 0;
    uint32_t    encoder_ff = 0;

    llama_deltakv_encoder_type encoder = LLAMA_DELTAKV_ENCODER_LINEAR;

    // settings (side file, then overrides)
    uint32_t n_sink        = 8;
    uint32_t n_recent      = 128;
    uint32_t n_neighbors   = 4;
    uint32_t center_stride = 10;
    uint32_t top_k         = 2048;
    float    top_k_fraction = 0.0f; // top-k at least this fraction of the sequence's tokens
    uint32_t latent_bits   = 16;
    uint32_t latent_group  = 32;

    uint32_t compress_layers_per_step = 1; // of a decode block (0: a block at once)

    llama_deltakv_test_params test;

    std::vector<bool>                is_full; // [n_layer]
    std::vector<llama_deltakv_layer> layers;  // [n_layer], empty for full layers

    std::vector<ggml_context_ptr>        ctxs;
    std::vector<ggml_backend_buffer_ptr> bufs;

    // a full layer whose next layer is a DeltaKV layer: it chooses the top-k for the layers after it
    bool is_observation(uint32_t il) const {
        return il + 1 < n_layer && is_full[il] && !is_full[il + 1];
    }

    uint32_t n_deltakv_layers() const;

    // the settings as text, for llama_deltakv_meta_val_str
    std::string setting(const std::string & key) const;
};

// sets the test switches of a loaded compressor (before a context is made with it)
void llama_deltakv_set_test_params(llama_deltakv * dkv, const llama_deltakv_test_params & params);
