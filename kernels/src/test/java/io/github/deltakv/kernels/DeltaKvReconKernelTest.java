package io.github.deltakv.kernels;

import static jcuda.driver.JCudaDriver.cuMemcpyDtoH;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import java.util.Random;

import jcuda.Pointer;
import jcuda.Sizeof;
import jcuda.driver.CUdeviceptr;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The fused reconstruction kernel (kernels/src/main/cuda/deltakv-recon-kernel.cuh, the one ggml-cuda launches for
 * GGML_OP_DELTAKV_RECON) loaded from the PTX nvcc 13 made of it, run through JCuda and compared with a Java
 * reference of the formula. Skipped without nvcc at build time, a CUDA driver or a GPU.
 */
@Tag("gpu")
class DeltaKvReconKernelTest {

    @RegisterExtension
    static final PtxKernel kernel = new PtxKernel("/ptx/deltakv-recon.ptx", "deltakv_recon_f16");

    @Test
    void rebuilds_tokens_and_serves_centers_exactly() {
        check(1000, 57, 300, 4, true, true, 1);
    }

    @Test
    void rebuilds_every_token_without_centers() {
        check(2048, 130, 513, 4, true, false, 2);
    }

    @Test
    void gives_the_mean_alone_without_a_decoded_residual() {
        check(96, 9, 40, 3, false, false, 3);
    }

    /** Random inputs; the kernel's result against the formula in Java, to float rounding. */
    private void check(int ne0, int nRefs, int n, int k, boolean withD, boolean withCenters, long seed) {
        Random rnd = new Random(seed);
        short[] refs = new short[ne0 * nRefs];
        for (int i = 0; i < refs.length; i++) {
            refs[i] = randomHalf(rnd);
        }
        float[] d = new float[ne0 * n];
        for (int i = 0; i < d.length; i++) {
            d[i] = (float) rnd.nextGaussian();
        }
        int[] ids = new int[k * n];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = rnd.nextInt(nRefs);
        }
        int[] rows = new int[n];
        float[] center = new float[n];
        for (int i = 0; i < n; i++) {
            rows[i] = rnd.nextInt(nRefs);
            center[i] = withCenters && i % 5 == 0 ? 1.0f : 0.0f;
        }

        float[] expected = new float[ne0 * n];
        for (int i = 0; i < n; i++) {
            for (int e = 0; e < ne0; e++) {
                expected[i * ne0 + e] = rebuilt(refs, ne0, ids, k, withD ? d : null, rows, center, i, e);
            }
        }

        CUdeviceptr dD = withD ? kernel.upload(Pointer.to(d), (long) d.length * Sizeof.FLOAT) : new CUdeviceptr();
        CUdeviceptr dRefs = kernel.upload(Pointer.to(refs), (long) refs.length * Sizeof.SHORT);
        CUdeviceptr dIds = kernel.upload(Pointer.to(ids), (long) ids.length * Sizeof.INT);
        CUdeviceptr dRows = withCenters ? kernel.upload(Pointer.to(rows), (long) n * Sizeof.INT) : new CUdeviceptr();
        CUdeviceptr dCenter = withCenters ? kernel.upload(Pointer.to(center), (long) n * Sizeof.FLOAT) : new CUdeviceptr();
        CUdeviceptr dOut = kernel.alloc((long) ne0 * n * Sizeof.FLOAT);
        try {
            Pointer params = Pointer.to(Pointer.to(dD), Pointer.to(dRefs), Pointer.to(dIds), Pointer.to(dRows),
                    Pointer.to(dCenter), Pointer.to(dOut), Pointer.to(new long[] {ne0}), Pointer.to(new int[] {k}),
                    Pointer.to(new long[] {(long) ne0 * Sizeof.FLOAT}), Pointer.to(new long[] {(long) ne0 * Sizeof.SHORT}),
                    Pointer.to(new long[] {Sizeof.INT}), Pointer.to(new long[] {(long) k * Sizeof.INT}),
                    Pointer.to(new long[] {(long) ne0 * Sizeof.FLOAT}));
            int threads = Math.min(256, (ne0 + 31) / 32 * 32);
            kernel.launch(n, threads, params);
            float[] got = new float[ne0 * n];
            cuMemcpyDtoH(Pointer.to(got), dOut, (long) got.length * Sizeof.FLOAT);

            float max = 0;
            float maxDiff = 0;
            for (int i = 0; i < got.length; i++) {
                max = Math.max(max, Math.abs(expected[i]));
                maxDiff = Math.max(maxDiff, Math.abs(expected[i] - got[i]));
            }
            assertThat(maxDiff).as("max |kernel - reference| of %d x %d values", ne0, n).isLessThanOrEqualTo(1e-6f * max);
            for (int i = 0; i < n; i++) {
                if (center[i] != 0.0f) {
                    assertThat(Arrays.copyOfRange(got, i * ne0, (i + 1) * ne0)).as("center token %d", i)
                            .containsExactly(Arrays.copyOfRange(expected, i * ne0, (i + 1) * ne0));
                }
            }
        } finally {
            kernel.freeAll();
        }
    }


    /**
     * Element e of token i rebuilt as the kernels rebuild it: a center's exact row, else d (null: none) plus the mean of
     * the token's k references, summed in order and then scaled.
     */
    static float rebuilt(short[] refs, int ne0, int[] ids, int k, float[] d, int[] rows, float[] center, int i, int e) {
        if (center[i] != 0.0f) {
            return halfToFloat(refs[rows[i] * ne0 + e]);
        }
        float sum = halfToFloat(refs[ids[i * k] * ne0 + e]);
        for (int j = 1; j < k; j++) {
            sum += halfToFloat(refs[ids[i * k + j] * ne0 + e]);
        }
        float scale = 1.0f / k;
        return d != null ? d[i * ne0 + e] + sum * scale : sum * scale;
    }

    /** A random finite half: sign, exponent 10..20 (magnitudes 2^-5 .. 2^5), random mantissa. */
    static short randomHalf(Random rnd) {
        int sign = rnd.nextBoolean() ? 0x8000 : 0;
        int exponent = 10 + rnd.nextInt(11);
        return (short) (sign | exponent << 10 | rnd.nextInt(1 << 10));
    }

    /** IEEE half bits to float (normal numbers; randomHalf makes no others). */
    static float halfToFloat(short h) {
        int bits = h & 0xFFFF;
        int sign = bits >> 15;
        int exponent = (bits >> 10) & 0x1F;
        int mantissa = bits & 0x3FF;
        return Float.intBitsToFloat(sign << 31 | (exponent - 15 + 127) << 23 | mantissa << 13);
    }
}
