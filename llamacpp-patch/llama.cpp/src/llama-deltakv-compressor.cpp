#include "llama-deltakv-compressor.h"

#include "ggml-deltakv.h"

#include <algorithm>
#include <cmath>

static ggml_tensor * linear(ggml_context * ctx, ggml_tensor * w, ggml_tensor * b, ggml_tensor * x) {
    ggml_tensor * y = ggml_mul_mat(ctx, w, x);
    return b != nullptr ? ggml_add(ctx, y, b) : y;
}

ggml_tensor * llama_deltakv_nearest_refs(ggml_context * ctx, ggml_tensor * x, ggml_tensor * refs, ggml_tensor * mask,
                                         int32_t k) {
    const int64_t n_ref = refs->ne[1];
    ggml_tensor * dot   = ggml_mul_mat(ctx, refs, x);                                  // [n_ref, n]: c . x
    ggml_tensor * norms = ggml_sum_rows(ctx, ggml_sqr(ctx, refs));                     // [1, n_ref]: |c|^2
    norms = ggml_reshape_2d(ctx, norms, n_ref, 1);                                     // [n_ref, 1]
    ggml_tensor * score = ggml_sub(ctx, ggml_scale(ctx, dot, 2.0f), norms);            // 2 x.c - |c|^2
    score = ggml_add(ctx, score, mask);
    return ggml_top_k(ctx, score, k);
}

ggml_tensor * llama_deltakv_nearest_refs_prefix(ggml_context * ctx, ggml_tensor * x, ggml_tensor * refs,
                                                ggml_tensor * visible, int32_t k) {
    ggml_tensor * dot   = ggml_mul_mat(ctx, refs, x);                                  // [n_ref, n]: c . x
    ggml_tensor * norms = ggml_sum_rows(ctx, ggml_sqr(ctx, refs));                     // [1, n_ref]: |c|^2
    return ggml_deltakv_nearest(ctx, dot, norms, visible, k);
}

ggml_tensor * llama_deltakv_prefix_mask(ggml_context * ctx, int64_t n_ref, ggml_tensor * visible) {
    const int64_t n = visible->ne[1];
    ggml_tensor * r = ggml_reshape_2d(ctx, ggml_arange(ctx, 0.0f, (float) n_ref, 1.0f), n_ref, 1);   // [n_ref, 1]
    ggml_tensor * d = ggml_sub(ctx, ggml_repeat_4d(ctx, r, n_ref, n, 1, 1), visible);                // r - visible
    return ggml_scale(ctx, ggml_step(ctx, ggml_scale_bias(ctx, d, 1.0f, 0.5f)), -1e30f);            // r >= visible
}

ggml_tensor * llama_deltakv_ref_mean(ggml_context * ctx, ggml_tensor * refs, ggml_tensor * ids) {
    const int64_t k      = ids->ne[0];
    const int64_t n      = ids->ne[1];
    const int64_t kv_dim = refs->ne[0];
    ggml_tensor * flat = ggml_reshape_1d(ctx, ids, k * n);
    ggml_tensor * rows = ggml_get_rows(ctx, refs, flat);                               // [kv_dim, k * n]
    ggml_tensor * sum  = nullptr;
    for (int64_t j = 0; j < k; ++j) {
        // the j-th reference of every token
        ggml_tensor * r = ggml_view_2d(ctx, rows, kv_dim, n, k * rows->nb[1], j * rows->nb[1]);
        sum = sum == nullptr ? ggml_cont(ctx, r) : ggml_add(ctx, sum, r);
    }
    return ggml_scale(ctx, sum, 1.0f / (float) k);
}

ggml_tensor * llama_deltakv_encode(ggml_context * ctx, const llama_deltakv & dkv, const llama_deltakv_layer & layer,
                                   ggml_tensor * x) {
    if (dkv.encoder == LLAMA_DELTAKV_ENCODER_LINEAR) {
        return linear(ctx, layer.enc, layer.enc_b, x);
    }
    const int64_t ff = dkv.encoder_ff;
    ggml_tensor * gu   = linear(ctx, layer.enc_w12, layer.enc_w12_b, x);              // [2 ff, n], gate rows first
    ggml_tensor * gate = ggml_cont(ctx, ggml_view_2d(ctx, gu, ff, gu->ne[1], gu->nb[1], 0));
    ggml_tensor * up   = ggml_cont(ctx, ggml_view_2d(ctx, gu, ff, gu->ne[1], gu->nb[1], ff * ggml_element_size(gu)));
    return linear(ctx, layer.enc_w3, layer.enc_w3_b, ggml_swiglu_split(ctx, gate, up));
}

ggml_tensor * llama_deltakv_latent(ggml_context * ctx, const llama_deltakv & dkv, const llama_deltakv_layer & layer,
                                   ggml_tensor * x, ggml_tensor * mean) {
    return ggml_sub(ctx, llama_deltakv_encode(ctx, dkv, layer, x), llama_deltakv_encode(ctx, dkv, layer, mean));
}

ggml_tensor * llama_deltakv_decode(ggml_context * ctx, const llama_deltakv_layer & layer, ggml_tensor * z) {
    return linear(ctx, layer.dec, layer.dec_b, z);
}

ggml_tensor * llama_deltakv_reconstruct(ggml_context * ctx, const llama_deltakv_layer & layer, ggml_tensor * z,
                                        ggml_tensor * mean) {
    return ggml_add(ctx, llama_deltakv_decode(ctx, layer, z), mean);
}

llama_deltakv_block_graph llama_deltakv_compress_block(ggml_context * ctx, const llama_deltakv & dkv,
                                                       const llama_deltakv_layer & layer, ggml_tensor * x,
                                                       ggml_tensor * refs, ggml_tensor * mask, int32_t stride) {
    const int64_t e     = x->ne[1];
    const int64_t n_new = (e + stride - 1) / stride;
    ggml_tensor * centers = ggml_cont(ctx, ggml_view_2d(ctx, x, x->ne[0], n_new, stride * x->nb[1], 0));
    llama_deltakv_block_graph out;
    out.refs = ggml_concat(ctx, refs, centers, 1);
    out.ids  = llama_deltakv_nearest_refs(ctx, x, out.refs, mask, (int32_t) dkv.n_neighbors);
    out.z    = llama_deltakv_latent(ctx, dkv, layer, x, llama_deltakv_ref_mean(ctx, out.refs, out.ids));
    return out;
}

ggml_tensor * llama_deltakv_rebuild(ggml_context * ctx, const llama_deltakv_layer & layer, ggml_tensor * refs,
                                    ggml_tensor * z, ggml_tensor * ids) {
    return llama_deltakv_reconstruct(ctx, layer, z, llama_deltakv_ref_mean(ctx, refs, ids));
}

//
// int4 latents
//

static float round_half_even(float x) {
    return std::nearbyint(x); // the default rounding mode, FE_TONEAREST, rounds half to even
}

void llama_deltakv_quantize_int4(const float * z, int64_t n, int64_t group, uint32_t * codes, ggml_bf16_t * scale,
                                 ggml_bf16_t * min) {
    GGML_ASSERT(group % 8 == 0 && n % group == 0);
    for (int64_t g = 0; g < n / group; ++g) {
        const float * x = z + g * group;
        float mn = x[0];
        float mx = x[0];
        for (int64_t i = 1; i < group; ++i) {
            mn = std::min(mn, x[i]);
            mx = std::max(mx, x[i]);
        }
        const float s = (mx - mn) / 15.0f;
        scale[g] = ggml_fp32_to_bf16(s);
        min[g]   = ggml_fp32_to_bf16(mn);
        for (int64_t w = 0; w < group / 8; ++w) {
            uint32_t packed = 0;
            for (int j = 0; j < 8; ++j) {
                const float q = round_half_even((x[w * 8 + j] - mn) / (s + 1e-6f));
                const uint32_t c = (uint32_t) std::min(15.0f, std::max(0.0f, q));
                packed |= c << (4 * j);
            }
            codes[(g * group) / 8 + w] = packed;
        }
    }
}

void llama_deltakv_dequantize_int4(const uint32_t * codes, const ggml_bf16_t * scale, const ggml_bf16_t * min,
                                   int64_t n, int64_t group, float * z) {
    GGML_ASSERT(group % 8 == 0 && n % group == 0);
    for (int64_t i = 0; i < n; ++i) {
        const uint32_t q = (codes[i / 8] >> (4 * (i % 8))) & 0xF;
        z[i] = (float) q * ggml_bf16_to_fp32(scale[i / group]) + ggml_bf16_to_fp32(min[i / group]);
    }
}
