// DeltaKV: the fused reconstruction kernel under a C name, for the JCuda tests of the kernels module (compiled to
// PTX by nvcc; not part of ggml). One block per token; row strides in bytes; d, rows and center may be null.
#include "../../main/cuda/deltakv-recon-kernel.cuh"

extern "C" __global__ void deltakv_recon_f16(
        const float * d, const half * refs, const int32_t * ids, const int32_t * rows, const float * center,
        float * dst, int64_t ne0, int k, size_t nb_d1, size_t nb_refs1, size_t nb_ids0, size_t nb_ids1,
        size_t nb_dst1) {
    deltakv_recon_token<half>(blockIdx.x, d, refs, ids, rows, center, dst, ne0, k, nb_d1, nb_refs1, nb_ids0, nb_ids1,
                              nb_dst1);
}
