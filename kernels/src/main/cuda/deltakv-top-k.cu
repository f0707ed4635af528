// DeltaKV: the top-k of long rows by a radix select whose result is the same every run (ggml_top_k_deterministic,
// the observation layer's choice of 2048 among every compressed cell). The chosen indices are written in ascending
// order; of the elements equal to the k-th largest, the first ones are taken. A full sort of each row (ggml-cuda's
// top-k through CUB) costs more, and CUB's DeviceTopK gives no order that is the same from run to run.
//
// Four passes of 8 bits from the most significant: each pass counts the elements that share the bits chosen so far
// in a histogram of the next 8 bits (blocks of a row add their counts by atomics), then one block a row finds the bin
// that holds the k-th largest. A last pass writes the chosen indices in order.
#include "deltakv-top-k.cuh"

#define DELTAKV_TOP_K_BITS 8
#define DELTAKV_TOP_K_BINS (1 << DELTAKV_TOP_K_BITS)
#define DELTAKV_TOP_K_PASSES (32 / DELTAKV_TOP_K_BITS)

// a float as an unsigned key of the same order (negative values flipped whole, positive ones with the sign bit set)
static __device__ __forceinline__ uint32_t deltakv_top_k_key(float value) {
    const uint32_t bits = __float_as_uint(value);
    return (bits & 0x80000000u) != 0 ? ~bits : bits | 0x80000000u;
}

// a row's progress: the key bits of the k-th largest found so far (prefix under mask), and how many of the elements
// that share them are still to be taken
struct deltakv_top_k_state {
    uint32_t prefix;
    uint32_t mask;
    int      rank;
};

// one block of DELTAKV_TOP_K_BINS threads a row: the state, and the row's histograms (one a pass) zeroed
static __global__ void deltakv_top_k_init(deltakv_top_k_state * states, int * histograms, const int k) {
    const int row = blockIdx.x;
    if (threadIdx.x == 0) {
        states[row] = { 0, 0, k };
    }
    for (int i = threadIdx.x; i < DELTAKV_TOP_K_PASSES * DELTAKV_TOP_K_BINS; i += blockDim.x) {
        histograms[(size_t) row * DELTAKV_TOP_K_PASSES * DELTAKV_TOP_K_BINS + i] = 0;
    }
}

// blocks_per_row blocks of DELTAKV_TOP_K_BINS threads a row: each counts its share of the row's elements that match
// the state's prefix, by their bits at shift, in shared memory, then adds its counts to the row's histogram
static __global__ void deltakv_top_k_count(const float * __restrict__ src, const deltakv_top_k_state * __restrict__ states,
                                           int * __restrict__ histograms, const int stride, const int ncols,
                                           const int blocks_per_row, const int shift) {
    const int row   = blockIdx.x / blocks_per_row;
    const int part  = blockIdx.x % blocks_per_row;
    const int tid   = threadIdx.x;
    __shared__ int counts[DELTAKV_TOP_K_BINS];

    counts[tid] = 0;
    __syncthreads();

    const deltakv_top_k_state state = states[row];
    const float * x = src + (size_t) row * ncols;
    for (int col = part * DELTAKV_TOP_K_BINS + tid; col < ncols; col += blocks_per_row * DELTAKV_TOP_K_BINS) {
        const uint32_t key = deltakv_top_k_key(x[col]);
        if ((key & state.mask) == state.prefix) {
            atomicAdd(&counts[(key >> shift) & (DELTAKV_TOP_K_BINS - 1)], 1);
        }
    }
    __syncthreads();

    if (counts[tid] != 0) {
        atomicAdd(&histograms[(size_t) row * stride + tid], counts[tid]);
    }
}

// one block of DELTAKV_TOP_K_BINS threads a row: the bin that holds the k-th largest, found from the counts of each
// bin and the bins above it (a scan over the threads); the state takes its bits and the rank left within it
static __global__ void deltakv_top_k_pick(const int * __restrict__ histograms, const int stride,
                                          deltakv_top_k_state * __restrict__ states, const int shift) {
    const int row = blockIdx.x;
    const int tid = threadIdx.x;
    __shared__ int from_bin[DELTAKV_TOP_K_BINS]; // elements in this bin and in the bins above it

    const deltakv_top_k_state state = states[row];
    from_bin[tid] = histograms[(size_t) row * stride + tid];
    __syncthreads();
    for (int offset = 1; offset < DELTAKV_TOP_K_BINS; offset <<= 1) {
        const int above = tid + offset < DELTAKV_TOP_K_BINS ? from_bin[tid + offset] : 0;
        __syncthreads();
        from_bin[tid] += above;
        __syncthreads();
    }

    const int above = tid + 1 < DELTAKV_TOP_K_BINS ? from_bin[tid + 1] : 0;
    if ((from_bin[tid] >= state.rank || tid == 0) && above < state.rank) {
        states[row] = { state.prefix | (uint32_t) tid << shift, state.mask | (uint32_t) (DELTAKV_TOP_K_BINS - 1) << shift,
                        state.rank - above };
    }
}

// one block a row, after the last pass: the indices of the elements above the k-th largest's key and of the first
// `rank` elements equal to it, in ascending order. The row goes by in tiles of four adjacent elements a thread; a
// scan over the threads (within each warp, then over the warps) tells each thread where its elements go.
template <int BLOCK_SIZE>
static __global__ void deltakv_top_k_write(const float * __restrict__ src, int * __restrict__ dst,
                                           const deltakv_top_k_state * __restrict__ states, const int ncols,
                                           const int k) {
    constexpr int PER_THREAD = 4;
    constexpr int NWARPS     = BLOCK_SIZE / WARP_SIZE;
    static_assert(NWARPS <= WARP_SIZE && BLOCK_SIZE * PER_THREAD < (1 << 16), "one warp scans the warps; 16-bit counts");

    const int row  = blockIdx.x;
    const int tid  = threadIdx.x;
    const int lane = tid % WARP_SIZE;
    const int warp = tid / WARP_SIZE;
    const float * x   = src + (size_t) row * ncols;
    int         * out = dst + (size_t) row * k;
    const uint32_t threshold = states[row].prefix;
    const int      n_equal   = states[row].rank; // elements equal to the threshold to take
    __shared__ int warp_sums[NWARPS];

    int greater_before = 0; // taken in earlier tiles: above the threshold, and equal to it
    int equal_before   = 0;
    for (int tile = 0; tile < ncols; tile += BLOCK_SIZE * PER_THREAD) {
        const int col0 = tile + tid * PER_THREAD;
        uint32_t keys[PER_THREAD];
        int counts = 0; // this thread's elements above the threshold (low 16 bits) and equal to it (high 16 bits)
#pragma unroll
        for (int i = 0; i < PER_THREAD; ++i) {
            keys[i] = col0 + i < ncols ? deltakv_top_k_key(x[col0 + i]) : 0;
            if (col0 + i < ncols) {
                counts += keys[i] > threshold ? 1 : keys[i] == threshold ? 1 << 16 : 0;
            }
        }
        int scan = counts; // inclusive, over the warp
#pragma unroll
        for (int offset = 1; offset < WARP_SIZE; offset <<= 1) {
            const int before = __shfl_up_sync(0xffffffff, scan, offset, WARP_SIZE);
            if (lane >= offset) {
                scan += before;
            }
        }
        if (lane == WARP_SIZE - 1) {
            warp_sums[warp] = scan;
        }
        __syncthreads();
        if (warp == 0) { // inclusive, over the warps
            int sum = lane < NWARPS ? warp_sums[lane] : 0;
#pragma unroll
            for (int offset = 1; offset < WARP_SIZE; offset <<= 1) {
                const int before = __shfl_up_sync(0xffffffff, sum, offset, WARP_SIZE);
                if (lane >= offset) {
                    sum += before;
                }
            }
            if (lane < NWARPS) {
                warp_sums[lane] = sum;
            }
        }
        __syncthreads();
        const int before  = scan - counts + (warp > 0 ? warp_sums[warp - 1] : 0);
        int       greater = greater_before + (before & 0xffff);
        int       equal   = equal_before + (before >> 16);
#pragma unroll
        for (int i = 0; i < PER_THREAD; ++i) {
            if (col0 + i >= ncols) {
                break;
            }
            if (keys[i] > threshold) {
                out[greater++ + min(equal, n_equal)] = col0 + i;
            } else if (keys[i] == threshold && equal < n_equal) {
                out[greater + equal++] = col0 + i;
            }
        }
        greater_before += warp_sums[NWARPS - 1] & 0xffff;
        equal_before   += warp_sums[NWARPS - 1] >> 16;
        __syncthreads(); // warp_sums: the next tile's
    }
}

void ggml_cuda_deltakv_top_k(ggml_cuda_pool & pool, const float * src, int * dst, const int ncols, const int nrows,
                             const int k, cudaStream_t stream) {
    constexpr int WRITE_BLOCK_SIZE = 1024;
    const int blocks_per_row = std::min((ncols + 1023) / 1024, 64);
    const int stride         = DELTAKV_TOP_K_PASSES * DELTAKV_TOP_K_BINS; // a row's histograms, one a pass

    ggml_cuda_pool_alloc<deltakv_top_k_state> states(pool, nrows);
    ggml_cuda_pool_alloc<int>                 histograms(pool, (size_t) nrows * stride);

    deltakv_top_k_init<<<nrows, DELTAKV_TOP_K_BINS, 0, stream>>>(states.get(), histograms.get(), k);
    for (int pass = 0; pass < DELTAKV_TOP_K_PASSES; ++pass) {
        const int shift = 32 - DELTAKV_TOP_K_BITS * (pass + 1);
        int * histogram = histograms.get() + pass * DELTAKV_TOP_K_BINS;
        deltakv_top_k_count<<<blocks_per_row * nrows, DELTAKV_TOP_K_BINS, 0, stream>>>(
            src, states.get(), histogram, stride, ncols, blocks_per_row, shift);
        deltakv_top_k_pick<<<nrows, DELTAKV_TOP_K_BINS, 0, stream>>>(histogram, stride, states.get(), shift);
    }
    deltakv_top_k_write<WRITE_BLOCK_SIZE><<<nrows, WRITE_BLOCK_SIZE, 0, stream>>>(src, dst, states.get(), ncols, k);
    CUDA_CHECK(cudaGetLastError());
}
