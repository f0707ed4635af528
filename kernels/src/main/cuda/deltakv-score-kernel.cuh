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
//   deltakv_score_out:   every block's (max, sum) combined, then each candidate's maximum over heads of its
//                        probability, plus its mask. (It read K a second time before: 258 us of a 455 us pair at
//                        128K cells on the H200.)
#pragma once

#include <cuda_fp16.h>
#include <cstddef>
#include <cstdint>

#define DELTAKV_SCORE_WARPS      16  // warps per block (one block per 256 candidates: enough warps to hide K's latency)
#define DELTAKV_SCORE_PER_BLOCK  256 // candidates per block
#define DELTAKV_SCORE_HEAD_ITERS 4   // heads per lane at most: n_head <= 128

struct deltakv_score_args {
    const float   * q;     // [d, n_head, n_tok]: head h of token t at q + h*nb_q1 + t*nb_q2 (bytes)
    const half    * k;     // cell c, KV head kh at k + c*nb_k2 + kh*nb_k1 (bytes); rows 16-byte aligned
    const int32_t * cell;  // [n_cand * n_tok]: the cell of each token's candidates
    const float   * mask;  // [n_cand, n_tok]: 0, or -INFINITY for no candidate
    float2        * part;  // [n_tok, n_blocks, n_head]: (max, sum) of each block
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

// shared memory of either kernel: q of the block's token (rows padded by one float: each lane reads its own head's
// row without bank conflicts; deltakv_score_out leaves it unused), then per warp and head a (max, sum), then per head
// the combined (max, sum)
static inline size_t deltakv_score_smem(int d, int n_head) {
    return sizeof(float) * (size_t) n_head * (d + 1) + sizeof(float2) * (size_t) (DELTAKV_SCORE_WARPS + 1) * n_head;
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

// acc = the (max, sum of exp) of a softmax's share merged with another share's p (a share with no term: sum 0)
static __device__ __forceinline__ void deltakv_score_merge(float2 & acc, const float2 p) {
    if (p.y == 0.0f) {
        return;
    }
    const float mn = fmaxf(acc.x, p.x);
    acc.y = acc.y*__expf(acc.x - mn) + p.y*__expf(p.x - mn);
    acc.x = mn;
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
                if (x > m[i]) {
                    l[i] = l[i]*__expf(m[i] - x) + 1.0f;
                    m[i] = x;
                } else {
                    l[i] += __expf(x - m[i]);
                }
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
    for (int h = threadIdx.x; h < a.n_head; h += blockDim.x) {
        float2 acc = make_float2(-INFINITY, 0.0f);
        for (int w = 0; w < DELTAKV_SCORE_WARPS; ++w) {
            deltakv_score_merge(acc, red[w*a.n_head + h]);
        }
        a.part[((size_t) t*a.n_blocks + blockIdx.x)*a.n_head + h] = acc;
    }
}

// grid (n_blocks, n_tok), DELTAKV_SCORE_WARPS * 32 threads, deltakv_score_smem bytes; after deltakv_score_stats
static __device__ __forceinline__ void deltakv_score_out(const deltakv_score_args & a) {
    extern __shared__ float deltakv_score_sm[];
    float2 * tot = (float2 *) (deltakv_score_sm + a.n_head*(a.d + 1)) + DELTAKV_SCORE_WARPS*a.n_head;
    const int t = blockIdx.y, warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    for (int h = threadIdx.x; h < a.n_head; h += blockDim.x) {
        float2 acc = make_float2(-INFINITY, 0.0f);
        for (int b = 0; b < a.n_blocks; ++b) {
            deltakv_score_merge(acc, a.part[((size_t) t*a.n_blocks + b)*a.n_head + h]);
        }
        tot[h] = acc;
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
