// DeltaKV: the candidate-score kernels under a C name, for the JCuda tests of the kernels module (compiled to PTX by
// nvcc; not part of ggml). pass 0 runs deltakv_score_stats, pass 1 deltakv_score_out, each on a grid of
// (n_blocks, n_tok) blocks of DELTAKV_SCORE_WARPS * 32 threads with deltakv_score_smem bytes of shared memory.
#include "../../main/cuda/deltakv-score-kernel.cuh"

extern "C" __global__ void deltakv_score_f16(
        int pass, const float * q, const half * k, const int32_t * cell, const float * mask, float2 * part,
        float * logit, float * dst, int d, int n_head, int n_head_kv, int n_cand, int n_blocks, size_t nb_q1,
        size_t nb_q2, size_t nb_k1, size_t nb_k2, float scale) {
    const deltakv_score_args a = { q, k, cell, mask, part, logit, dst, d, n_head, n_head_kv, n_cand, n_blocks,
                                   nb_q1, nb_q2, nb_k1, nb_k2, scale };
    if (pass == 0) {
        deltakv_score_stats(a);
    } else {
        deltakv_score_out(a);
    }
}
