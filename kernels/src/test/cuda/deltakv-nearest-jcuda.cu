// DeltaKV: the nearest-references kernel under a C name, for the JCuda tests of the kernels module (compiled to PTX by
// nvcc; not part of ggml). One block of DELTAKV_NEAREST_THREADS threads per token; row strides in bytes.
#include "../../main/cuda/deltakv-nearest-kernel.cuh"

extern "C" __global__ void deltakv_nearest(
        const float * dot, const float * norms, const float * visible, int32_t * dst, int n_ref, int k, size_t nb_dot1,
        size_t nb_dst1) {
    deltakv_nearest_token(dot, norms, visible, dst, n_ref, k, nb_dot1, nb_dst1);
}
