// DeltaKV: the attended-rows kernel under a C name, for the JCuda tests of the kernels module (compiled to PTX by
// nvcc; not part of ggml). One block per output row; row strides in bytes; rec, rec_pos and freq may be null; ids
// non-null: rec is a decoded residual and the rows are rebuilt here (center_rows and center may be null).
#include "../../main/cuda/deltakv-rows-kernel.cuh"

extern "C" __global__ void deltakv_rows_f16(
        const half * exact, const int32_t * att_rows, const int32_t * att_pos, const float * rec,
        const int32_t * rec_pos, const float * freq, half * dst, int64_t kv_dim, int n_att, int n_rec,
        size_t nb_exact1, size_t nb_rec1, size_t nb_dst1, deltakv_rope_params rp, const int32_t * ids, int k,
        const int32_t * center_rows, const float * center) {
    const deltakv_rows_recon rc = { ids, k, center_rows, center };
    deltakv_rows_row<half>(blockIdx.x, exact, att_rows, att_pos, rec, rec_pos, freq, dst, kv_dim, n_att, n_rec,
                           nb_exact1, nb_rec1, nb_dst1, rp, rc);
}
