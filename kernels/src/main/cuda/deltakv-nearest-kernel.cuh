// DeltaKV: the kernel of GGML_OP_DELTAKV_NEAREST, plain CUDA with no ggml types (like deltakv-recon-kernel.cuh).
//
// Compressing a block, each token's k nearest references (k = 4 in the paper's settings) come from its products with
// every reference visible to it. Composed of ggml ops this was a scale, a subtraction, a mask and a top-k that sorted
// each token's whole row of scores (thousands of references; a 128K prompt sorts ~40 billion keys). Here one block
// per token scans its row once: each thread keeps the best k of its share in registers; then k rounds of a block
// maximum over the threads' best remaining, each popped by the thread that holds it.
#pragma once

#include <cstddef>
#include <cstdint>

#define DELTAKV_NEAREST_MAX_K   8
#define DELTAKV_NEAREST_THREADS 128

// (s, r) into the descending list (score, ref) of k: a higher score first, a lower reference first on a tie
static __device__ __forceinline__ void deltakv_nearest_insert(float * score, int32_t * ref, int k, float s, int32_t r) {
#pragma unroll
    for (int j = 0; j < DELTAKV_NEAREST_MAX_K; ++j) {
        if (j < k && (s > score[j] || (s == score[j] && r < ref[j]))) {
            const float   ts = score[j];
            const int32_t tr = ref[j];
            score[j] = s;
            ref[j]   = r;
            s = ts;
            r = tr;
        }
    }
}

// token blockIdx.x, DELTAKV_NEAREST_THREADS threads: dst row = the k largest (2 dot - norm) of its row, references
// r >= visible scored 1e30 lower. Strides in bytes.
static __device__ __forceinline__ void deltakv_nearest_token(
        const float * dot, const float * norms, const float * visible, int32_t * dst, const int n_ref, const int k,
        const size_t nb_dot1, const size_t nb_dst1) {
    __shared__ float   sh_score[DELTAKV_NEAREST_THREADS / 32];
    __shared__ int32_t sh_ref  [DELTAKV_NEAREST_THREADS / 32];

    const int64_t i   = blockIdx.x;
    const float * d   = (const float *) ((const char *) dot + i*nb_dot1);
    const float   vis = visible[i];

    float   score[DELTAKV_NEAREST_MAX_K];
    int32_t ref[DELTAKV_NEAREST_MAX_K];
#pragma unroll
    for (int j = 0; j < DELTAKV_NEAREST_MAX_K; ++j) {
        score[j] = -INFINITY;
        ref[j]   = INT32_MAX;
    }
    for (int r = threadIdx.x; r < n_ref; r += blockDim.x) {
        const float s = (2.0f*d[r] - norms[r]) + ((float) r >= vis ? -1e30f : 0.0f);
        float worst = score[0]; // score[k - 1], picked without a dynamic index (the lists stay in registers)
#pragma unroll
        for (int j = 1; j < DELTAKV_NEAREST_MAX_K; ++j) {
            worst = j == k - 1 ? score[j] : worst;
        }
        if (s >= worst) {
            deltakv_nearest_insert(score, ref, k, s, r);
        }
    }
    // k rounds: the block's best remaining head (each reference belongs to one thread's list), which its owner pops
    int32_t * out = (int32_t *) ((char *) dst + i*nb_dst1);
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, n_warps = blockDim.x / 32;
    for (int j = 0; j < k; ++j) {
        float   s = score[0];
        int32_t r = ref[0];
#pragma unroll
        for (int off = 16; off > 0; off >>= 1) {
            const float   os = __shfl_xor_sync(0xffffffff, s, off);
            const int32_t orf = __shfl_xor_sync(0xffffffff, r, off);
            if (os > s || (os == s && orf < r)) {
                s = os;
                r = orf;
            }
        }
        if (lane == 0) {
            sh_score[warp] = s;
            sh_ref[warp]   = r;
        }
        __syncthreads();
        s = sh_score[0];
        r = sh_ref[0];
        for (int w = 1; w < n_warps; ++w) {
            if (sh_score[w] > s || (sh_score[w] == s && sh_ref[w] < r)) {
                s = sh_score[w];
                r = sh_ref[w];
            }
        }
        __syncthreads(); // every thread has read the round's winners before the next round writes them
        if (threadIdx.x == 0) {
            out[j] = r;
        }
        if (ref[0] == r) {
#pragma unroll
            for (int m = 0; m < DELTAKV_NEAREST_MAX_K - 1; ++m) {
                score[m] = score[m + 1];
                ref[m]   = ref[m + 1];
            }
            score[DELTAKV_NEAREST_MAX_K - 1] = -INFINITY;
            ref[DELTAKV_NEAREST_MAX_K - 1]   = INT32_MAX;
        }
    }
}
