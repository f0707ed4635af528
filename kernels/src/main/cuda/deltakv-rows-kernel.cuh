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

// elements e and e + 1 of a row as floats, in one load (e even; rows of F16 4-byte and of F32 8-byte aligned)
template <typename T>
static __device__ __forceinline__ float2 deltakv_rows_load2(const T * p, int64_t e) {
    return *(const float2 *) (p + e);
}

template <>
__device__ __forceinline__ float2 deltakv_rows_load2<half>(const half * p, int64_t e) {
    return __half22float2(*(const half2 *) (p + e));
}

// the reconstruction done by the rows kernel (ggml_deltakv_rows_recon): rec is then the decoded residual and a
// rebuilt row is rec + the mean of its k references' exact rows, or the exact row of a center; ids and id_slots null:
// rec holds the rebuilt rows themselves
// the rebuilt rows' reference ids: ids[i*k + m], or (id_slots non-null, ggml_deltakv_rows_recon_slots) read in place
// from the store, id_store[id_slots[i]*nb_store1 bytes + m] (ids then null)
struct deltakv_rows_recon {
    const int32_t * ids;         // [k, n_rec * n_tok], contiguous
    int             k;
    const int32_t * center_rows; // [n_rec * n_tok] or null
    const float   * center;      // [n_rec * n_tok] or null
    const float   * id_store;    // [k, n_slots], each id an integer in a float
    const int32_t * id_slots;    // [n_rec * n_tok]
    size_t          nb_store1;
};

static __device__ __forceinline__ bool deltakv_rows_rebuilds(const deltakv_rows_recon & rc) {
    return rc.ids != nullptr || rc.id_slots != nullptr;
}

static __device__ __forceinline__ int32_t deltakv_rows_id(const deltakv_rows_recon & rc, int64_t i, int m) {
    if (rc.id_slots != nullptr) {
        return (int32_t) *(const float *) ((const char *) rc.id_store + (size_t) rc.id_slots[i]*rc.nb_store1 +
                                           m*sizeof(float));
    }
    return rc.ids[i*rc.k + m];
}

// two elements of a row moved together: a RoPE pair of K (rotated by pair rot's cos and sin), or two adjacent elements
// RoPE leaves as they are (rot -1); b == a + 1: adjacent, one load and one store
struct deltakv_rows_pair {
    int64_t a;
    int64_t b;
    int     rot;
};

// pair q of a row: K's pair slots head by head (slots i >= n_dims/2 hold channels 2i, 2i+1, which RoPE leaves as they
// are), then V's adjacent pairs (head_dim even: V starts at an even element)
static __device__ __forceinline__ deltakv_rows_pair deltakv_rows_pair_at(const deltakv_rope_params & rp,
                                                                        const int64_t n_embd_k, const int64_t q) {
    const int half_dim = rp.head_dim / 2;
    if (q >= (int64_t) rp.n_head_kv * half_dim) {
        const int64_t e = n_embd_k + 2*(q - (int64_t) rp.n_head_kv * half_dim);
        return { e, e + 1, -1 };
    }
    const int     i    = (int) (q % half_dim);
    const int64_t base = (q / half_dim) * rp.head_dim;
    if (i >= rp.n_dims / 2) {
        return { base + 2*i, base + 2*i + 1, -1 };
    }
    if (!rp.neox) {
        return { base + 2*i, base + 2*i + 1, i };
    }
    return { base + i, base + i + rp.n_dims/2, i };
}

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
        if (deltakv_rows_rebuilds(rc) && rc.center != nullptr && rc.center[i] != 0.0f) {
            src_e = (const T *) ((const char *) exact + (int64_t) rc.center_rows[i]*nb_exact1); // a center, exact
        } else {
            src_r = (const float *) ((const char *) rec + i*nb_rec1);
            if (deltakv_rows_rebuilds(rc)) {
                n_ref = rc.k;
#pragma unroll
                for (int m = 0; m < DELTAKV_RECON_MAX_K; ++m) { // unrolled: the pointers stay in registers
                    ref[m] = m < rc.k ? (const T *) ((const char *) exact + (int64_t) deltakv_rows_id(rc, i, m)*nb_exact1)
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

    // elements e and e + 1 (e even), as load(e) and load(e + 1)
    auto load2 = [&](int64_t e) {
        if (src_e != nullptr) {
            return deltakv_rows_load2(src_e, e);
        }
        float2 x = deltakv_rows_load2(src_r, e);
        if (n_ref == 0) {
            return x;
        }
        float2 sum = deltakv_rows_load2(ref[0], e);
#pragma unroll
        for (int m = 1; m < DELTAKV_RECON_MAX_K; ++m) {
            if (m < n_ref) {
                const float2 r = deltakv_rows_load2(ref[m], e);
                sum.x += r.x;
                sum.y += r.y;
            }
        }
        x.x += sum.x*scale;
        x.y += sum.y*scale;
        return x;
    };

    // cos and sin of each pair at the row's position, computed once and shared by the row's heads
    __shared__ float cs[2 * DELTAKV_ROWS_MAX_PAIRS];
    for (int i = threadIdx.x; i < rp.n_dims / 2; i += blockDim.x) {
        deltakv_rows_cos_sin(rp, freq, pos, i, cs[2*i], cs[2*i + 1]);
    }
    __syncthreads();

    // the row's element pairs, one a thread at a time: loaded, rotated (K's RoPE pairs) and stored (one pair in
    // flight keeps the kernel at 48 registers and 5 blocks an SM; four pairs a thread, 60 registers and 4 blocks, were
    // 0.1 ms a step slower at 32K and 128K on the H200)
    const int64_t n_embd_k = (int64_t) rp.n_head_kv * rp.head_dim;
    const int64_t n_pairs  = kv_dim / 2;
    for (int64_t q = threadIdx.x; q < n_pairs; q += blockDim.x) {
        const deltakv_rows_pair pr = deltakv_rows_pair_at(rp, n_embd_k, q);
        float2 y = pr.b == pr.a + 1 ? load2(pr.a) : make_float2(load(pr.a), load(pr.b));
        if (pr.rot >= 0) {
            const float c = cs[2*pr.rot];
            const float s = cs[2*pr.rot + 1];
            y = make_float2(y.x*c - y.y*s, y.x*s + y.y*c);
        }
        if (pr.b == pr.a + 1) {
            *(half2 *) (out + pr.a) = __float22half2_rn(y);
        } else {
            out[pr.a] = __float2half(y.x);
            out[pr.b] = __float2half(y.y);
        }
    }
}

// threads per block for rows of kv_dim elements
static inline int deltakv_rows_threads(int64_t kv_dim) {
    const int64_t warps = (kv_dim / 2 + 31) / 32;
    return (int) (warps >= 8 ? 256 : warps * 32);
}
