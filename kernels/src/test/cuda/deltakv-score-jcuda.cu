// DeltaKV: the candidate-score kernels under a C name, for the JCuda tests of the kernels module (compiled to PTX by
// nvcc; not part of ggml), as ggml-cuda launches them. pass 0 runs deltakv_score_stats and pass 3
// deltakv_score_stats_rows (either: grid (n_blocks, n_tok), deltakv_score_smem or deltakv_score_rows_smem bytes of
// shared memory), pass 1 deltakv_score_combine (grid (1, n_tok)), pass 2 deltakv_score_out (grid (n_blocks, n_tok),
// n_head float2 of shared memory); blocks of DELTAKV_SCORE_WARPS * 32 threads.
#include "../../main/cuda/deltakv-score-kernel.cuh"

extern "C" __global__ void __launch_bounds__(DELTAKV_SCORE_WARPS*32) deltakv_score_f16(
        int pass, const float * q, const half * k, const int32_t * cell, const float * mask, float2 * part,
        float2 * tot, float * logit, float * dst, int d, int n_head, int n_head_kv, int n_cand, int n_blocks,
        size_t nb_q1, size_t nb_q2, size_t nb_k1, size_t nb_k2, float scale) {
    const deltakv_score_args a = { q, k, cell, mask, part, tot, logit, dst, d, n_head, n_head_kv, n_cand, n_blocks,
                                   nb_q1, nb_q2, nb_k1, nb_k2, scale };
    switch (pass) {
        case 0: deltakv_score_stats(a); break;
        case 1: deltakv_score_combine(a); break;
        case 2: deltakv_score_out(a); break;
        default:
            switch (deltakv_score_rows_elems(d, n_head, n_head_kv, nb_k1)) {
                case 32: deltakv_score_stats_rows<32>(a); break;
                case 16: deltakv_score_stats_rows<16>(a); break;
                case 8:  deltakv_score_stats_rows<8>(a);  break;
                default: break; // the shapes do not allow it: the test asks only where they do
            }
            break;
    }
}
