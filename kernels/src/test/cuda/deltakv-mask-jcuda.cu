// DeltaKV: the cell-mask kernel under a C name, for the JCuda tests of the kernels module (compiled to PTX by nvcc;
// not part of ggml). Grid (x blocks over the cells, one y block per token) of DELTAKV_MASK_THREADS threads; f16 != 0
// writes half, else float; row: elements between rows.
#include "../../main/cuda/deltakv-mask-kernel.cuh"

extern "C" __global__ void deltakv_mask(
        int f16, const float * cell_seq, const float * cell_pos, const float * tok_seq, const float * tok_pos,
        void * dst, int n_kv, size_t row) {
    if (f16) {
        deltakv_mask_row(cell_seq, cell_pos, tok_seq, tok_pos, (half *) dst, n_kv, row);
    } else {
        deltakv_mask_row(cell_seq, cell_pos, tok_seq, tok_pos, (float *) dst, n_kv, row);
    }
}
