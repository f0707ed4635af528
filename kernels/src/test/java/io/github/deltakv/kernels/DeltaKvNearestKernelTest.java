package io.github.deltakv.kernels;

import static jcuda.driver.JCudaDriver.cuMemcpyDtoH;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.Random;

import jcuda.Pointer;
import jcuda.Sizeof;
import jcuda.driver.CUdeviceptr;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The nearest-references kernel (kernels/src/main/cuda/deltakv-nearest-kernel.cuh, the one ggml-cuda launches for
 * GGML_OP_DELTAKV_NEAREST) loaded from the PTX nvcc 13 made of it, run through JCuda and compared with a Java
 * reference: for each token the k largest 2 dot - norm over its row, references at or after its visible count scored
 * 1e30 lower, best first, a lower reference first on a tie. Skipped without nvcc at build time, a CUDA driver or a GPU.
 */
@Tag("gpu")
class DeltaKvNearestKernelTest {

    private static final int THREADS = 128; // DELTAKV_NEAREST_THREADS

    @RegisterExtension
    static final PtxKernel kernel = new PtxKernel("/ptx/deltakv-nearest.ptx", "deltakv_nearest");

    @Test
    void paper_k_of_four_among_thousands_of_references() {
        check(3300, 64, 4, 1);
    }

    @Test
    void the_largest_k_with_fewer_references_than_threads() {
        check(50, 9, 8, 2);
    }

    private void check(int nRef, int n, int k, long seed) {
        Random rnd = new Random(seed);
        float[] dot = new float[nRef * n];
        for (int i = 0; i < dot.length; i++) {
            dot[i] = (float) rnd.nextGaussian();
        }
        float[] norms = new float[nRef];
        for (int r = 0; r < nRef; r++) {
            norms[r] = rnd.nextFloat() * 2;
        }
        norms[nRef / 2] = norms[nRef / 3]; // a tie is possible where two references score alike
        float[] visible = new float[n];
        for (int i = 0; i < n; i++) {
            visible[i] = k + rnd.nextInt(nRef - k + 1);
        }
        int[] expected = new int[k * n];
        for (int i = 0; i < n; i++) {
            float[] best = new float[k];
            int[] ref = new int[k];
            java.util.Arrays.fill(best, Float.NEGATIVE_INFINITY);
            java.util.Arrays.fill(ref, Integer.MAX_VALUE);
            for (int r = 0; r < nRef; r++) {
                float s = (2.0f * dot[i * nRef + r] - norms[r]) + (r >= visible[i] ? -1e30f : 0.0f);
                int at = 0;
                while (at < k && (best[at] > s || (best[at] == s && ref[at] < r))) {
                    at++;
                }
                if (at < k) {
                    System.arraycopy(best, at, best, at + 1, k - at - 1);
                    System.arraycopy(ref, at, ref, at + 1, k - at - 1);
                    best[at] = s;
                    ref[at] = r;
                }
            }
            System.arraycopy(ref, 0, expected, i * k, k);
        }

        CUdeviceptr dDot = kernel.upload(Pointer.to(dot), (long) dot.length * Sizeof.FLOAT);
        CUdeviceptr dNorms = kernel.upload(Pointer.to(norms), (long) norms.length * Sizeof.FLOAT);
        CUdeviceptr dVisible = kernel.upload(Pointer.to(visible), (long) visible.length * Sizeof.FLOAT);
        CUdeviceptr dOut = kernel.alloc((long) k * n * Sizeof.INT);
        try {
            Pointer params = Pointer.to(Pointer.to(dDot), Pointer.to(dNorms), Pointer.to(dVisible), Pointer.to(dOut),
                    Pointer.to(new int[] {nRef}), Pointer.to(new int[] {k}),
                    Pointer.to(new long[] {(long) nRef * Sizeof.FLOAT}), Pointer.to(new long[] {(long) k * Sizeof.INT}));
            kernel.launch(n, THREADS, params);
            int[] got = new int[k * n];
            cuMemcpyDtoH(Pointer.to(got), dOut, (long) got.length * Sizeof.INT);
            assertThat(got).as("the k nearest of each of %d tokens, best first", n).containsExactly(expected);
        } finally {
            kernel.freeAll();
        }
    }
}
