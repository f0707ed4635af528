// DeltaKV: the kernel of GGML_OP_DELTAKV_ROWS, plain CUDA with no ggml types (like deltakv-recon-kernel.cuh).
//
// At decode each DeltaKV layer attends, per token, its exact rows (sink and raw buffer) and its rebuilt tokens.
// Composed of ggml ops that took a gather of the exact rows into F32, four copies splitting K from V, two RoPEs,
// two concatenations and two F32 -> F16 casts, per layer. Here one block per output row reads the row once
// (an exact F16/F32 row or a rebuilt F32 row), rotates its K part per head as ggml_rope_ext does (normal or NeoX
// pairs, frequency factors, YaRN) and writes the row as F16, in the [kv_dim, rows] layout flash attention reads
// through strided K and V views. With ggml_deltakv_rows_recon a rebuilt row is reconstructed here too (the decoded
// residual plus the mean of its references, or a center's exact row), so no F32 rows pass through memory between.
#pragma once

#include "deltakv-recon-kernel.cuh" // deltakv_to_float

#include <cuda_fp16.h>
#include <cstddef>
#include <cstdint>

#define DELTAKV_ROWS_MAX_PAIRS 256 // n_dims / 2 at most (ggml_deltakv_rows asserts n_dims <= 512)

struct deltakv_rope_params {
    int   n_head_kv;
    int   head_dim;
    int   n_dims;
    int   neox;        // 1: pairs (i, i + n_dims/2); 0: pairs (2i, 2i + 1)
    float theta_scale; // freq_base^(-2/n_dims)
    float freq_scale;
    float ext_factor;
    float attn_factor;
    float corr0;       // YaRN correction dims (ggml_rope_yarn_corr_dims)
    float corr1;
};

// cos and sin of pair i at position pos, as ggml-cuda's rope computes them
static __device__ __forceinline__ void deltakv_rows_cos_sin(const deltakv_rope_params & rp, const float * freq,
                                                            int32_t pos, int i, float & c, float & s) {
    const float theta_extrap = (float) pos * powf(rp.theta_scale, (float) i) / (freq != nullptr ? freq[i] : 1.0f);
    const float theta_interp = rp.freq_scale * theta_extrap;
    float theta  = theta_interp;
    float mscale = rp.attn_factor;
    if (rp.ext_factor != 0.0f) {
        const float y        = ((float) i - rp.corr0) / fmaxf(0.001f, rp.corr1 - rp.corr0);
        const float ramp_mix = (1.0f - fminf(1.0f, fmaxf(0.0f, y))) * rp.ext_factor;
        theta   = theta_interp * (1.0f - ramp_mix) + theta_extrap * ramp_mix;
        mscale *= 1.0f + 0.1f * logf(1.0f / rp.freq_scale);
    }
    c = cosf(theta) * mscale;
    s = sinf(theta) * mscale;
}

// the reconstruction done by the rows kernel (ggml_deltakv_rows_recon): rec is then the decoded residual and a
// rebuilt row is rec + the mean of its k references' exact rows, or the exact row of a center; ids null: rec holds
// the rebuilt rows themselves
struct deltakv_rows_recon {
    const int32_t * ids;         // [k, n_rec * n_tok], contiguous
    int             k;
    const int32_t * center_rows; // [n_rec * n_tok] or null
    const float   * center;      // [n_rec * n_tok] or null
};

// output row r, by the threads of one block: token t = r / (n_att + n_rec); its j-th row is exact row
// att_rows[t*n_att + j] for j < n_att, else rebuilt row t*n_rec + j - n_att. Strides in bytes.
template <typename T>
static __device__ __forceinline__ void deltakv_rows_row(
        const int64_t r, const T * exact, const int32_t * att_rows, const int32_t * att_pos, const float * rec,
        const int32_t * rec_pos, const float * freq, half * dst, const int64_t kv_dim, const int n_att, const int n_rec,
        const size_t nb_exact1, const size_t nb_rec1, const size_t nb_dst1, const deltakv_rope_params & rp,
        const deltakv_rows_recon & rc) {
    const int64_t t = r / (n_att + n_rec);
    const int64_t j = r % (n_att + n_rec);
    half * out = (half *) ((char *) dst + r*nb_dst1);

    int32_t pos;
    const T *     src_e = nullptr;
    const float * src_r = nullptr;
    const T *     ref[DELTAKV_RECON_MAX_K];
    int           n_ref = 0; // > 0: src_r is a residual, the mean of ref[0..n_ref) added to it
    if (j < n_att) {
        pos   = att_pos[t*n_att + j];
        src_e = (const T *) ((const char *) exact + (int64_t) att_rows[t*n_att + j]*nb_exact1);
    } else {
        const int64_t i = t*n_rec + (j - n_att);
        pos = rec_pos[i];
        if (rc.ids != nullptr && rc.center != nullptr && rc.center[i] != 0.0f) {
            src_e = (const T *) ((const char *) exact + (int64_t) rc.center_rows[i]*nb_exact1); // a center, exact
        } else {
            src_r = (const float *) ((const char *) rec + i*nb_rec1);
            if (rc.ids != nullptr) {
                n_ref = rc.k;
#pragma unroll
                for (int m = 0; m < DELTAKV_RECON_MAX_K; ++m) { // unrolled: the pointers stay in registers
                    ref[m] = m < rc.k ? (const T *) ((const char *) exact + (int64_t) rc.ids[i*rc.k + m]*nb_exact1)
                                      : nullptr;
                }
            }
        }
    }
    const float scale = n_ref > 0 ? 1.0f / (float) n_ref : 0.0f;
    auto load = [&](int64_t e) {
        if (src_e != nullptr) {
            return deltakv_to_float(src_e[e]);
        }
        if (n_ref == 0) {
            return src_r[e];
        }
        float sum = deltakv_to_float(ref[0][e]);
#pragma unroll
        for (int m = 1; m < DELTAKV_RECON_MAX_K; ++m) {
            if (m < n_ref) {
                sum += deltakv_to_float(ref[m][e]);
            }
        }
        return src_r[e] + sum*scale; // as deltakv_recon_token: the mean, then + the residual
    };

    // cos and sin of each pair at the row's position, computed once and shared by the row's heads
    __shared__ float cs[2 * DELTAKV_ROWS_MAX_PAIRS];
    for (int i = threadIdx.x; i < rp.n_dims / 2; i += blockDim.x) {
        deltakv_rows_cos_sin(rp, freq, pos, i, cs[2*i], cs[2*i + 1]);
    }
    __syncthreads();

    // K: pair slots of every head; slots i >= n_dims/2 hold channels 2i, 2i+1, which RoPE leaves as they are
    const int half_dim = rp.head_dim / 2;
    for (int p = threadIdx.x; p < rp.n_head_kv * half_dim; p += blockDim.x) {
        const int     h    = p / half_dim;
        const int     i    = p % half_dim;
        const int64_t base = (int64_t) h * rp.head_dim;
        if (i >= rp.n_dims / 2) {
            out[base + 2*i]     = __float2half(load(base + 2*i));
            out[base + 2*i + 1] = __float2half(load(base + 2*i + 1));
            continue;
        }
        const int64_t a = base + (rp.neox ? i : 2*i);
        const int64_t b = base + (rp.neox ? i + rp.n_dims/2 : 2*i + 1);
        const float c  = cs[2*i];
        const float s  = cs[2*i + 1];
        const float x0 = load(a);
        const float x1 = load(b);
        out[a] = __float2half(x0*c - x1*s);
        out[b] = __float2half(x0*s + x1*c);
    }
    // V: copied
    for (int64_t e = (int64_t) rp.n_head_kv * rp.head_dim + threadIdx.x; e < kv_dim; e += blockDim.x) {
        out[e] = __float2half(load(e));
    }
}

// one block per output row
template <typename T>
static __global__ void deltakv_rows_kernel(
        const T * exact, const int32_t * att_rows, const int32_t * att_pos, const float * rec, const int32_t * rec_pos,
        const float * freq, half * dst, const int64_t kv_dim, const int n_att, const int n_rec, const size_t nb_exact1,
        const size_t nb_rec1, const size_t nb_dst1, const deltakv_rope_params rp, const deltakv_rows_recon rc) {
    deltakv_rows_row<T>(blockIdx.x, exact, att_rows, att_pos, rec, rec_pos, freq, dst, kv_dim, n_att, n_rec, nb_exact1,
                        nb_rec1, nb_dst1, rp, rc);
}

// threads per block for rows of kv_dim elements
static inline int deltakv_rows_threads(int64_t kv_dim) {
    const int64_t warps = (kv_dim / 2 + 31) / 32;
    return (int) (warps >= 8 ? 256 : warps * 32);
}
