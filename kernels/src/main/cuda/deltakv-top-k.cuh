// DeltaKV: a top-k of long rows that is the same every run (ggml_top_k_deterministic) on CUDA.
// Copied into ggml/src/ggml-cuda/ by llamacpp-patch/scripts/build-native.sh; ggml-cuda's top-k calls it.
#pragma once

#include "common.cuh"

// the indices of the k largest of each of nrows rows of ncols floats, in ascending order (of equal elements at the
// k-th largest, the first ones), into dst [k, nrows]
void ggml_cuda_deltakv_top_k(ggml_cuda_pool & pool, const float * src, int * dst, int ncols, int nrows, int k,
                             cudaStream_t stream);
