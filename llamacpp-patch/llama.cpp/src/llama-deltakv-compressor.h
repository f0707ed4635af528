#pragma once

// DeltaKV compressor math as ggml graph builders: the encoder and decoder, the nearest references, a block's
// compression (spec 4-5), and the int4 latent quantiser of the spec as a reference. Built from existing ggml ops
// (so every backend runs them) except where a fused DeltaKV op is named.
// Vectors are [K_pre | V] rows of width kv_dim, one column per token (ggml orientation).

#include "llama-deltakv-side-file.h"

#include "ggml.h"

// Top-k nearest references of each token by L2 over [K_pre | V] (spec 4.2): ranks 2 x.c - |c|^2.
//   x    F32 [kv_dim, n]      tokens
//   refs F32 [kv_dim, n_ref]  references
//   mask F32 [n_ref, n]       0 where a reference is visible to the token, -INFINITY where not
// returns I32 [k, n], the indices into refs (in no particular order).
ggml_tensor * llama_deltakv_nearest_refs(ggml_context * ctx, ggml_tensor * x, ggml_tensor * refs, ggml_tensor * mask,
                                         int32_t k);

// The same choice when token i sees the first visible[i] references (the causal rule of a block, references listed
// in position order), in one op after the product (ggml_deltakv_nearest: no [n_ref, n] mask, no sort of each row):
//   visible F32 [1, n]; returns I32 [k, n], the indices into refs, the nearest first.
ggml_tensor * llama_deltakv_nearest_refs_prefix(ggml_context * ctx, ggml_tensor * x, ggml_tensor * refs,
                                                ggml_tensor * visible, int32_t k);

// The visibility mask of a block's tokens, built on the backend from one number per token (references are
// listed in position order, so each token sees a prefix of them): visible F32 [1, n], how many references token i
// sees -> F32 [n_ref, n], 0 for the first visible[i] references and -1e30 after (not -INFINITY: it is made by a
// product, and -1e30 never makes the top k while k references are visible).
ggml_tensor * llama_deltakv_prefix_mask(ggml_context * ctx, int64_t n_ref, ggml_tensor * visible);

// Plain mean of the k references of each token: refs F32 [kv_dim, n_ref], ids I32 [k, n] -> F32 [kv_dim, n].
ggml_tensor * llama_deltakv_ref_mean(ggml_context * ctx, ggml_tensor * refs, ggml_tensor * ids);

// The encoder of a layer: F32 [kv_dim, n] -> F32 [d, n].
ggml_tensor * llama_deltakv_encode(ggml_context * ctx, const llama_deltakv & dkv, const llama_deltakv_layer & layer,
                                   ggml_tensor * x);

// The latent stored for each token (spec 5.2): z = enc(x) - enc(mean); the encoder runs twice (it is
// not linear in general). F32 [d, n].
ggml_tensor * llama_deltakv_latent(ggml_context * ctx, const llama_deltakv & dkv, const llama_deltakv_layer & layer,
                                   ggml_tensor * x, ggml_tensor * mean);

// the decoder alone: dec(z) = W_dec z + b, F32 [kv_dim, n]
ggml_tensor * llama_deltakv_decode(ggml_context * ctx, const llama_deltakv_layer & layer, ggml_tensor * z);

// Reconstruction (spec 5.2): x = dec(z) + mean. F32 [kv_dim, n].
ggml_tensor * llama_deltakv_reconstruct(ggml_context * ctx, const llama_deltakv_layer & layer, ggml_tensor * z,
                                        ggml_tensor * mean);

// One block compressed (spec 6.2 a-e) for one layer.
struct llama_deltakv_block_graph {
    ggml_tensor * z;    // F32 [d, E]       latents to store
    ggml_tensor * ids;  // I32 [k, E]       indices into refs
    ggml_tensor * refs; // F32 [kv_dim, R]  the layer's reference list after the block (old + new centers)
};

// x: F32 [kv_dim, E] the block's [K_pre | V] rows; refs: F32 [kv_dim, R0] the layer's references so
// far (sink first); the block's centers are the columns 0, stride, 2 stride, ... of x; mask: F32
// [R0 + n_new, E] from llama_deltakv_visibility_mask.
llama_deltakv_block_graph llama_deltakv_compress_block(ggml_context * ctx, const llama_deltakv & dkv,
                                                       const llama_deltakv_layer & layer, ggml_tensor * x,
                                                       ggml_tensor * refs, ggml_tensor * mask, int32_t stride);

// Tokens rebuilt from what was stored: refs F32 [kv_dim, R], z [d, n], ids I32 [k, n] -> F32 [kv_dim, n].
ggml_tensor * llama_deltakv_rebuild(ggml_context * ctx, const llama_deltakv_layer & layer, ggml_tensor * refs,
                                    ggml_tensor * z, ggml_tensor * ids);

// int4 latent quantisation (DeltaKV spec 5.4): per group of `group` values, asymmetric min/max,
// q = clamp(round_half_even((z - mn) / (scale + 1e-6)), 0, 15), scale = (mx - mn) / 15, scale and mn
// stored as bf16, 8 codes per uint32 with element j in bits [4j, 4j+3].
// n must be a multiple of group and group a multiple of 8.
void llama_deltakv_quantize_int4(const float * z, int64_t n, int64_t group,
                                 uint32_t * codes, ggml_bf16_t * scale, ggml_bf16_t * min);

// z = q * scale + mn, in fp32 from the stored bf16 scale and min.
void llama_deltakv_dequantize_int4(const uint32_t * codes, const ggml_bf16_t * scale, const ggml_bf16_t * min,
                                   int64_t n, int64_t group, float * z);
