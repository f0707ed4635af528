#pragma once

// DeltaKV compressed KV memory (arXiv 2602.08005): the full layers keep an ordinary cache; every other layer keeps
// sink, reference and recent tokens exact and older tokens as latents of their residual against their nearest
// references. A context uses it when llama_context_params.deltakv is a compressor loaded by llama_deltakv_load.

#include "llama.h"

#ifdef __cplusplus
extern "C" {
#endif

    // Overrides of a DeltaKV side file's settings; negative (or NULL) keeps the side file's value.
    struct llama_deltakv_params {
        int32_t         n_sink;        // exact tokens at the start of each sequence
        int32_t         n_recent;      // recent window kept exact (and the compression block size)
        int32_t         n_neighbors;   // references averaged per compressed token
        int32_t         center_stride; // one reference token every center_stride tokens of a block
        int32_t         top_k;         // compressed tokens reconstructed per decode step (at least)
        float           top_k_fraction; // and at least this fraction of the sequence's tokens (0: none; < 0: keep
                                        // the side file's)
        int32_t         latent_bits;   // 16 (F16 latents), 8 (int8, Q8_0) or 4 (int4, Q4_1; both group 32)
        const int32_t * full_layers;   // layers kept uncompressed
        int32_t         n_full_layers;
        // DeltaKV layers that a decode step compresses of a block due for compression: a block stays exact until all
        // are done, so no step carries the whole compression; 0 compresses a block at once; negative: 1
        int32_t         compress_layers_per_step;
    };

    LLAMA_API struct llama_deltakv_params llama_deltakv_default_params(void);

    // Load a DeltaKV compressor side file (GGUF, general.type = "deltakv") made for this model.
    // Returns NULL and logs the reason when the file is missing, corrupt or made for another model.
    // The compressor is valid as long as the model is not freed.
    LLAMA_API struct llama_deltakv * llama_deltakv_load(
            const struct llama_model * model,
            const char * path,
            struct llama_deltakv_params params);

    LLAMA_API void llama_deltakv_free(struct llama_deltakv * dkv);

    // Whether layer il keeps an ordinary (full) cache; false for a DeltaKV layer or an invalid il.
    LLAMA_API bool llama_deltakv_is_full_layer(const struct llama_deltakv * dkv, int32_t il);

    // KV memory of a context created with a DeltaKV compressor. Bytes "used" count what the tokens held
    // now occupy, by class; "alloc" bytes are the buffers allocated for the whole context.
    struct llama_deltakv_stats {
        int64_t n_tokens;          // tokens held, summed over sequences
        int64_t n_compressed;      // of those, stored as latents in the DeltaKV layers
        int64_t n_refs;            // reference tokens (sink and centers), summed over sequences
        int64_t n_raw;             // recent tokens not yet compressed
        int64_t bytes_full_layers; // ordinary cache of the full layers
        int64_t bytes_exact_rows;  // DeltaKV layers: exact pre-RoPE [K | V] rows (sink, references, recent)
        int64_t bytes_latents;     // DeltaKV layers: latent codes
        int64_t bytes_ref_ids;     // DeltaKV layers: reference ids of the compressed tokens
        int64_t bytes_stock;       // an F16 stock cache holding the same tokens
        int64_t alloc_bytes;       // allocated: full-layer cache and DeltaKV buffers
        int64_t alloc_bytes_stock; // an F16 stock cache of the same context size
        int64_t bytes_compressor;  // the compressor's weights (encoders and decoders), loaded with the context
    };

    // false when ctx does not use DeltaKV memory
    LLAMA_API bool llama_deltakv_get_stats(const struct llama_context * ctx, struct llama_deltakv_stats * stats);

    // The smallest position p0 > 0 from which llama_memory_seq_rm(seq_id, p0, -1) succeeds: the end of the sequence's
    // compressed history (compressed tokens depend on their references, so history is never cut; removing the whole
    // sequence always works). 0 when nothing is compressed, -1 when ctx does not use DeltaKV memory.
    LLAMA_API llama_pos llama_deltakv_seq_rm_pos_min(const struct llama_context * ctx, llama_seq_id seq_id);

    // The latent codes of the compressed tokens of sequence seq_id in DeltaKV layer il, as F32 rows of
    // latent_dim in position order. With an identity compressor a latent is the token's [K_pre | V] minus
    // the mean of its references: what calibration fits a compressor to. dst NULL: returns the row count.
    // Returns the rows written (at most max_rows), or -1 when ctx has no DeltaKV memory or il is a full layer.
    LLAMA_API int64_t llama_deltakv_get_latents(const struct llama_context * ctx, llama_seq_id seq_id, int32_t il,
                                                float * dst, int64_t max_rows);

    // A setting of the loaded compressor after overrides, as text ("latent_dim", "n_sink", ...); -1 if unknown.
    LLAMA_API int32_t llama_deltakv_meta_val_str(const struct llama_deltakv * dkv, const char * key, char * buf, size_t buf_size);

#ifdef __cplusplus
}
#endif
