// DeltaKV: the kernels of GGML_OP_DELTAKV_SCORE, plain CUDA with no ggml types (like deltakv-recon-kernel.cuh).
//
// At decode an observation layer (a full layer) scores each token's candidates, the compressed tokens of its own
// sequence, for the top-k choice of the DeltaKV layers after it (spec 6.3): per head the softmax over candidates
// of q . k, then the maximum over heads. Composed of ggml ops this was a product per head over every candidate
// (a score matrix of n_head x n_cand floats per token, and in a batch a gather of every candidate's K into F32
// first), a softmax, a transposing copy and a pooling. Here one pass reads K in place, each lane of a warp one head
// (heads sharing a KV head read the same row, from L1), and a second reads the logits it kept:
//   deltakv_score_stats: per block of candidates, each head's logits (n_head floats a candidate, a sixteenth of
//                        its K row's bytes at d = 128 and 4 heads per KV head) and running maximum and sum of exp
//                        (online softmax);
//   deltakv_score_stats_rows: the same when K's rows allow it (KV heads adjacent, d split into 16-byte loads over
//                        the lanes of a KV head): a warp reads four candidates' whole K rows at once, each lane its
//                        share, the products summed over the lanes of a KV head (the lane-per-head kernel kept few
//                        loads in flight: 1.2 TB/s at 128K cells on the H200);
//   deltakv_score_combine: every block's (max, sum) merged into each head's (one block a token);
//   deltakv_score_out:   each candidate's maximum over heads of its probability, plus its mask. (It read K a second
//                        time before: 258 us of a 455 us pair at 128K cells on the H200; then every block merged all
//                        blocks' (max, sum) itself, quadratic in the candidates.)
#pragma once

#include <cuda_fp16.h>
#include <cstddef>
#include <cstdint>

#define DELTAKV_SCORE_WARPS      16  // warps per block (one block per 256 candidates: enough warps to hide K's latency)
#define DELTAKV_SCORE_PER_BLOCK  256 // candidates per block
#define DELTAKV_SCORE_HEAD_ITERS 4   // heads per lane at most: n_head <= 128
#define DELTAKV_SCORE_ROWS_CANDS 4   // candidates a warp of deltakv_score_stats_rows reads at once

struct deltakv_score_args {
    const float   * q;     // [d, n_head, n_tok]: head h of token t at q + h*nb_q1 + t*nb_q2 (bytes)
    const half    * k;     // cell c, KV head kh at k + c*nb_k2 + kh*nb_k1 (bytes); rows 16-byte aligned
    const int32_t * cell;  // [n_cand * n_tok]: the cell of each token's candidates
    const float   * mask;  // [n_cand, n_tok]: 0, or -INFINITY for no candidate
    float2        * part;  // [n_tok, n_blocks, n_head]: (max, sum) of each block
    float2        * tot;   // [n_tok, n_head]: (max, sum) over all blocks
    float         * logit; // [n_tok, n_cand, n_head]: each candidate's logit per head (written for candidates only)
    float         * dst;   // [n_cand, n_tok]
    int    d;              // head size, a multiple of 8
    int    n_head;
    int    n_head_kv;
    int    n_cand;
    int    n_blocks;       // blocks of DELTAKV_SCORE_PER_BLOCK candidates per token
    size_t nb_q1, nb_q2, nb_k1, nb_k2;
    float  scale;
};

// shared memory of deltakv_score_stats: q of the block's token (rows padded by one float: each lane reads its own
// head's row without bank conflicts), then per warp and head a (max, sum); deltakv_score_out needs less
static inline size_t deltakv_score_smem(int d, int n_head) {
    return sizeof(float) * (size_t) n_head * (d + 1) + sizeof(float2) * (size_t) DELTAKV_SCORE_WARPS * n_head;
}

// K elements each lane of deltakv_score_stats_rows reads of a candidate's row (the row's n_head_kv heads of d
// halves, adjacent, split over the 32 lanes: 32 / n_head_kv lanes a KV head, the heads sharing it kept by them),
// or 0 where the shapes do not allow it
static inline __host__ __device__ int deltakv_score_rows_elems(int d, int n_head, int n_head_kv, size_t nb_k1) {
    if (n_head_kv <= 0 || 32 % n_head_kv != 0 || nb_k1 != (size_t) d * 2 || n_head % n_head_kv != 0) {
        return 0;
    }
    const int lanes = 32 / n_head_kv;
    const int e     = d % lanes == 0 ? d / lanes : 0;
    const bool ok   = (e == 8 || e == 16 || e == 32) && n_head / n_head_kv <= lanes;
    return ok ? e : 0;
}

// shared memory of deltakv_score_stats_rows: each lane's share of q (its e elements of every head of its KV head's
// group, padded by four floats: the lanes' 16-byte reads fall in different banks), then per warp and head a
// (max, sum)
static inline size_t deltakv_score_rows_smem(int d, int n_head) {
    return sizeof(float) * (size_t) (n_head * d + 32 * 4) + sizeof(float2) * (size_t) DELTAKV_SCORE_WARPS * n_head;
}

static __device__ __forceinline__ void deltakv_score_load_q(const deltakv_score_args & a, int t, float * qs) {
    const int n = a.n_head * a.d;
    for (int i = threadIdx.x; i < n; i += blockDim.x) {
        const int h = i / a.d, e = i % a.d;
        qs[h*(a.d + 1) + e] = *((const float *) ((const char *) a.q + h*a.nb_q1 + t*a.nb_q2) + e);
    }
}

// scale * q[h] . k[cell, h / group] + mask
static __device__ __forceinline__ float deltakv_score_logit(const deltakv_score_args & a, const float * qs, int h,
                                                            int32_t cell, float mask) {
    const int   group = a.n_head / a.n_head_kv;
    const half * kr   = (const half *) ((const char *) a.k + (size_t) cell*a.nb_k2 + (size_t) (h / group)*a.nb_k1);
    const float * qh  = qs + h*(a.d + 1);
    float s = 0.0f;
    for (int e0 = 0; e0 < a.d; e0 += 32) {
        // four 16-byte loads in flight at once, then their products
        uint4 raw[4];
#pragma unroll
        for (int u = 0; u < 4; ++u) {
            raw[u] = e0 + 8*u < a.d ? *(const uint4 *) (kr + e0 + 8*u) : make_uint4(0, 0, 0, 0);
        }
#pragma unroll
        for (int u = 0; u < 4; ++u) {
            const half2 * k2 = (const half2 *) &raw[u];
            const int     e  = e0 + 8*u;
#pragma unroll
            for (int j = 0; j < 4; ++j) {
                const float2 f = __half22float2(k2[j]);
                if (e < a.d) {
                    s += f.x*qh[e + 2*j] + f.y*qh[e + 2*j + 1];
                }
            }
        }
    }
    return s*a.scale + mask;
}

// the running (max m, sum l of exp) of a softmax's share with logit x added (online softmax)
static __device__ __forceinline__ void deltakv_score_push(float & m, float & l, const float x) {
    if (x > m) {
        l = l*__expf(m - x) + 1.0f;
        m = x;
    } else {
        l += __expf(x - m);
    }
}

// acc = the (max, sum of exp) of a softmax's share merged with another share's p (a share with no term: sum 0)
static __device__ __forceinline__ void deltakv_score_merge(float2 & acc, const float2 p) {
    if (p.y == 0.0f) {
        return;
    }
    const float mn = fmaxf(acc.x, p.x);
    acc.y = acc.y*__expf(acc.x - mn) + p.y*__expf(p.x - mn);
    acc.x = mn;
}

// each block's per-head (max, sum) in red[warp][head], merged over the warps into a.part
static __device__ __forceinline__ void deltakv_score_block_part(const deltakv_score_args & a, const float2 * red,
                                                                int t) {
    for (int h = threadIdx.x; h < a.n_head; h += blockDim.x) {
        float2 acc = make_float2(-INFINITY, 0.0f);
        for (int w = 0; w < DELTAKV_SCORE_WARPS; ++w) {
            deltakv_score_merge(acc, red[w*a.n_head + h]);
        }
        a.part[((size_t) t*a.n_blocks + blockIdx.x)*a.n_head + h] = acc;
    }
}

// grid (n_blocks, n_tok), DELTAKV_SCORE_WARPS * 32 threads, deltakv_score_smem bytes
static __device__ __forceinline__ void deltakv_score_stats(const deltakv_score_args & a) {
    extern __shared__ float deltakv_score_sm[];
    float  * qs  = deltakv_score_sm;
    float2 * red = (float2 *) (qs + a.n_head*(a.d + 1));
    const int t = blockIdx.y, warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    deltakv_score_load_q(a, t, qs);
    __syncthreads();

    float m[DELTAKV_SCORE_HEAD_ITERS], l[DELTAKV_SCORE_HEAD_ITERS];
#pragma unroll
    for (int i = 0; i < DELTAKV_SCORE_HEAD_ITERS; ++i) {
        m[i] = -INFINITY;
        l[i] = 0.0f;
    }
    const int c_end = min(a.n_cand, (int) (blockIdx.x + 1) * DELTAKV_SCORE_PER_BLOCK);
    for (int c = blockIdx.x*DELTAKV_SCORE_PER_BLOCK + warp; c < c_end; c += DELTAKV_SCORE_WARPS) {
        const float mc = a.mask[(size_t) t*a.n_cand + c];
        if (mc == -INFINITY) {
            continue;
        }
        const int32_t cell = a.cell[(size_t) t*a.n_cand + c];
#pragma unroll
        for (int i = 0; i < DELTAKV_SCORE_HEAD_ITERS; ++i) {
            const int h = lane + 32*i;
            if (h < a.n_head) {
                const float x = deltakv_score_logit(a, qs, h, cell, mc);
                a.logit[((size_t) t*a.n_cand + c)*a.n_head + h] = x;
                deltakv_score_push(m[i], l[i], x);
            }
        }
    }
#pragma unroll
    for (int i = 0; i < DELTAKV_SCORE_HEAD_ITERS; ++i) {
        const int h = lane + 32*i;
        if (h < a.n_head) {
            red[warp*a.n_head + h] = make_float2(m[i], l[i]);
        }
    }
    __syncthreads();
    deltakv_score_block_part(a, red, t);
}

// grid (n_blocks, n_tok), DELTAKV_SCORE_WARPS * 32 threads, deltakv_score_rows_smem bytes; E =
// deltakv_score_rows_elems(...) > 0. The lanes of a KV head each hold E elements of the candidates' K rows; for each
// head of the group the lanes' products are summed by shuffles, and lane (kv head, g) keeps head g's logit.
template <int E>
static __device__ __forceinline__ void deltakv_score_stats_rows(const deltakv_score_args & a) {
    constexpr int NC = DELTAKV_SCORE_ROWS_CANDS;
    extern __shared__ float deltakv_score_sm[];
    const int group = a.n_head / a.n_head_kv;
    const int lanes = 32 / a.n_head_kv;   // lanes of a KV head
    const int qrow  = group*E + 4;        // a lane's share of q, padded
    float  * qs  = deltakv_score_sm;
    float2 * red = (float2 *) (qs + 32*qrow);
    const int t = blockIdx.y, warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int share = lane % lanes;       // the lane's E elements of its KV head: [share*E, share*E + E)
    for (int i = threadIdx.x; i < 32*group*E; i += blockDim.x) {
        const int l = i / (group*E), g = (i / E) % group, e = i % E;
        const int h = (l / lanes)*group + g;
        qs[l*qrow + g*E + e] = *((const float *) ((const char *) a.q + h*a.nb_q1 + t*a.nb_q2) + (l % lanes)*E + e);
    }
    __syncthreads();

    const bool    owns = share < group;                 // the lane keeps head (its KV head, share)'s logits
    const int     h    = (lane / lanes)*group + share;
    const float * ql   = qs + lane*qrow;
    float m = -INFINITY, l = 0.0f;
    const int c_end = min(a.n_cand, (int) (blockIdx.x + 1) * DELTAKV_SCORE_PER_BLOCK);
    for (int c0 = blockIdx.x*DELTAKV_SCORE_PER_BLOCK + warp*NC; c0 < c_end; c0 += DELTAKV_SCORE_WARPS*NC) {
        // the NC candidates' rows, every load in flight before the first product
        uint4 raw[NC][E/8];
        float mc[NC];
#pragma unroll
        for (int j = 0; j < NC; ++j) {
            const int c = c0 + j;
            mc[j] = c < c_end ? a.mask[(size_t) t*a.n_cand + c] : -INFINITY;
            const uint4 * kr = nullptr;
            if (mc[j] != -INFINITY) {
                kr = (const uint4 *) ((const char *) a.k + (size_t) a.cell[(size_t) t*a.n_cand + c]*a.nb_k2) +
                     lane*(E/8);
            }
#pragma unroll
            for (int u = 0; u < E/8; ++u) {
                raw[j][u] = kr != nullptr ? kr[u] : make_uint4(0, 0, 0, 0);
            }
        }
        float own[NC];
#pragma unroll
        for (int j = 0; j < NC; ++j) {
            own[j] = 0.0f;
        }
        for (int g = 0; g < group; ++g) {
            const float * qg = ql + g*E;
            float acc[NC];
#pragma unroll
            for (int j = 0; j < NC; ++j) {
                acc[j] = 0.0f;
            }
#pragma unroll
            for (int u = 0; u < E/8; ++u) {
                const float4 q0 = *(const float4 *) (qg + 8*u);
                const float4 q1 = *(const float4 *) (qg + 8*u + 4);
#pragma unroll
                for (int j = 0; j < NC; ++j) {
                    const half2 * k2 = (const half2 *) &raw[j][u];
                    const float2 f0 = __half22float2(k2[0]), f1 = __half22float2(k2[1]);
                    const float2 f2 = __half22float2(k2[2]), f3 = __half22float2(k2[3]);
                    acc[j] += f0.x*q0.x + f0.y*q0.y + f1.x*q0.z + f1.y*q0.w +
                              f2.x*q1.x + f2.y*q1.y + f3.x*q1.z + f3.y*q1.w;
                }
            }
            for (int off = 1; off < lanes; off <<= 1) { // summed over the KV head's lanes (adjacent lanes)
#pragma unroll
                for (int j = 0; j < NC; ++j) {
                    acc[j] += __shfl_xor_sync(0xffffffff, acc[j], off);
                }
            }
            if (share == g) {
#pragma unroll
                for (int j = 0; j < NC; ++j) {
                    own[j] = acc[j];
                }
            }
        }
        if (owns) {
#pragma unroll
            for (int j = 0; j < NC; ++j) {
                if (mc[j] == -INFINITY) {
                    continue;
                }
                const float x = own[j]*a.scale + mc[j];
                a.logit[((size_t) t*a.n_cand + c0 + j)*a.n_head + h] = x;
                deltakv_score_push(m, l, x);
            }
        }
    }
    if (owns) {
        red[warp*a.n_head + h] = make_float2(m, l);
    }
    __syncthreads();
    deltakv_score_block_part(a, red, t);
}

// grid (1, n_tok), DELTAKV_SCORE_WARPS * 32 threads; after a stats kernel: each head's (max, sum) over every block,
// a warp a head, its lanes a share of the blocks each, merged by shuffles
static __device__ __forceinline__ void deltakv_score_combine(const deltakv_score_args & a) {
    const int t = blockIdx.y, warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    for (int h = warp; h < a.n_head; h += DELTAKV_SCORE_WARPS) {
        float2 acc = make_float2(-INFINITY, 0.0f);
        for (int b = lane; b < a.n_blocks; b += 32) {
            deltakv_score_merge(acc, a.part[((size_t) t*a.n_blocks + b)*a.n_head + h]);
        }
#pragma unroll
        for (int off = 16; off > 0; off >>= 1) {
            const float2 o = make_float2(__shfl_xor_sync(0xffffffff, acc.x, off),
                                         __shfl_xor_sync(0xffffffff, acc.y, off));
            deltakv_score_merge(acc, o);
        }
        if (lane == 0) {
            a.tot[(size_t) t*a.n_head + h] = acc;
        }
    }
}

// grid (n_blocks, n_tok), DELTAKV_SCORE_WARPS * 32 threads, n_head float2 of shared memory; after
// deltakv_score_combine
static __device__ __forceinline__ void deltakv_score_out(const deltakv_score_args & a) {
    extern __shared__ float deltakv_score_sm[];
    float2 * tot = (float2 *) deltakv_score_sm;
    const int t = blockIdx.y, warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    for (int h = threadIdx.x; h < a.n_head; h += blockDim.x) {
        tot[h] = a.tot[(size_t) t*a.n_head + h];
    }
    __syncthreads();

    const int c_end = min(a.n_cand, (int) (blockIdx.x + 1) * DELTAKV_SCORE_PER_BLOCK);
    for (int c = blockIdx.x*DELTAKV_SCORE_PER_BLOCK + warp; c < c_end; c += DELTAKV_SCORE_WARPS) {
        const float mc = a.mask[(size_t) t*a.n_cand + c];
        float best = 0.0f;
        if (mc != -INFINITY) {
            const float * logit = a.logit + ((size_t) t*a.n_cand + c)*a.n_head;
#pragma unroll
            for (int i = 0; i < DELTAKV_SCORE_HEAD_ITERS; ++i) {
                const int h = lane + 32*i;
                if (h < a.n_head) {
                    const float x = logit[h];
                    best = fmaxf(best, __expf(x - tot[h].x) / tot[h].y);
                }
            }
#pragma unroll
            for (int off = 16; off > 0; off >>= 1) {
                best = fmaxf(best, __shfl_xor_sync(0xffffffff, best, off));
            }
        }
        if (lane == 0) {
            a.dst[(size_t) t*a.n_cand + c] = best + mc;
        }
    }
}
