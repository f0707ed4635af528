package io.github.deltakv.kernels;

import static io.github.deltakv.kernels.DeltaKvReconKernelTest.halfToFloat;
import static io.github.deltakv.kernels.DeltaKvReconKernelTest.randomHalf;
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
 * The attended-rows kernel (kernels/src/main/cuda/deltakv-rows-kernel.cuh, the one ggml-cuda launches for
 * GGML_OP_DELTAKV_ROWS) loaded from the PTX nvcc 13 made of it, run through JCuda and compared with a Java reference:
 * per token its exact F16 rows then its rebuilt F32 rows, K rotated per head (normal or NeoX pairs, frequency factors,
 * no YaRN), all written as F16. Skipped without nvcc at build time, a CUDA driver or a GPU.
 */
@Tag("gpu")
class DeltaKvRowsKernelTest {

    @RegisterExtension
    static final PtxKernel kernel = new PtxKernel("/ptx/deltakv-rows.ptx", "deltakv_rows_f16");

    @Test
    void llama_shape_normal_pairs_exact_and_rebuilt_rows_of_two_tokens() {
        check(8, 128, 128, false, 300, 64, 2, 1, false);
    }

    @Test
    void neox_pairs_with_partial_rotation_and_frequency_factors() {
        check(2, 64, 32, true, 40, 9, 3, 2, false);
    }

    @Test
    void exact_rows_alone() {
        check(4, 64, 64, false, 50, 0, 1, 3, false);
    }

    @Test
    void rows_rebuilt_in_the_kernel_from_residuals_and_references_with_centers_served_exactly() {
        check(8, 128, 128, false, 40, 33, 2, 4, true);
    }

    /**
     * Random inputs; the kernel's rows against the formula in Java, to F16 rounding. With {@code rebuild} the rebuilt
     * rows are made in the kernel: the residual plus the mean of 4 references' exact rows, every fifth a center
     * served exactly.
     */
    private void check(int nHeadKv, int headDim, int nDims, boolean neox, int nAtt, int nRec, int nTok, long seed,
            boolean rebuild) {
        Random rnd = new Random(seed);
        int kvDim = 2 * nHeadKv * headDim;
        int nExact = 2 * nAtt + 5;
        short[] exact = new short[kvDim * nExact];
        for (int i = 0; i < exact.length; i++) {
            exact[i] = randomHalf(rnd);
        }
        float[] rec = new float[Math.max(1, kvDim * nRec * nTok)];
        for (int i = 0; i < rec.length; i++) {
            rec[i] = (float) rnd.nextGaussian();
        }
        int[] attRows = new int[nAtt * nTok];
        int[] attPos = new int[nAtt * nTok];
        for (int i = 0; i < attRows.length; i++) {
            attRows[i] = rnd.nextInt(nExact);
            attPos[i] = rnd.nextInt(4096);
        }
        int[] recPos = new int[Math.max(1, nRec * nTok)];
        for (int i = 0; i < recPos.length; i++) {
            recPos[i] = rnd.nextInt(4096);
        }
        int k = 4;
        int[] ids = new int[Math.max(1, k * nRec * nTok)];
        int[] centerRows = new int[Math.max(1, nRec * nTok)];
        float[] center = new float[Math.max(1, nRec * nTok)];
        float[] rebuilt = rec.clone(); // the rows the kernel is to rebuild from rec (a residual then) and the references
        for (int i = 0; rebuild && i < nRec * nTok; i++) {
            center[i] = i % 5 == 0 ? 1.0f : 0.0f;
            centerRows[i] = rnd.nextInt(nExact);
            for (int m = 0; m < k; m++) {
                ids[i * k + m] = rnd.nextInt(nExact);
            }
            for (int e = 0; e < kvDim; e++) {
                rebuilt[i * kvDim + e] = DeltaKvReconKernelTest.rebuilt(exact, kvDim, ids, k, rec, centerRows, center, i, e);
            }
        }
        boolean withFreq = neox;
        float[] freq = new float[nDims / 2];
        for (int i = 0; i < freq.length; i++) {
            freq[i] = withFreq ? 1.0f + rnd.nextInt(8) : 1.0f;
        }
        float freqBase = 500000.0f;
        float thetaScale = (float) Math.pow(freqBase, -2.0 / nDims);

        int nPer = nAtt + nRec;
        int nOut = nPer * nTok;
        float[] expected = new float[kvDim * nOut];
        for (int r = 0; r < nOut; r++) {
            int t = r / nPer;
            int j = r % nPer;
            float[] row = new float[kvDim];
            int pos;
            if (j < nAtt) {
                pos = attPos[t * nAtt + j];
                for (int e = 0; e < kvDim; e++) {
                    row[e] = halfToFloat(exact[attRows[t * nAtt + j] * kvDim + e]);
                }
            } else {
                int i = t * nRec + (j - nAtt);
                pos = recPos[i];
                System.arraycopy(rebuilt, i * kvDim, row, 0, kvDim);
            }
            for (int h = 0; h < nHeadKv; h++) {
                for (int i = 0; i < nDims / 2; i++) {
                    // in float, as the kernel computes it (an angle of 4096 radians carries float's 2^-11)
                    float theta = (float) pos * (float) Math.pow(thetaScale, i) / freq[i];
                    int a = h * headDim + (neox ? i : 2 * i);
                    int b = h * headDim + (neox ? i + nDims / 2 : 2 * i + 1);
                    double x0 = row[a];
                    double x1 = row[b];
                    row[a] = (float) (x0 * Math.cos(theta) - x1 * Math.sin(theta));
                    row[b] = (float) (x0 * Math.sin(theta) + x1 * Math.cos(theta));
                }
            }
            System.arraycopy(row, 0, expected, r * kvDim, kvDim);
        }

        CUdeviceptr dExact = kernel.upload(Pointer.to(exact), (long) exact.length * Sizeof.SHORT);
        CUdeviceptr dAttRows = kernel.upload(Pointer.to(attRows), (long) attRows.length * Sizeof.INT);
        CUdeviceptr dAttPos = kernel.upload(Pointer.to(attPos), (long) attPos.length * Sizeof.INT);
        CUdeviceptr dRec = nRec > 0 ? kernel.upload(Pointer.to(rec), (long) rec.length * Sizeof.FLOAT) : new CUdeviceptr();
        CUdeviceptr dRecPos = nRec > 0 ? kernel.upload(Pointer.to(recPos), (long) recPos.length * Sizeof.INT) : new CUdeviceptr();
        CUdeviceptr dFreq = withFreq ? kernel.upload(Pointer.to(freq), (long) freq.length * Sizeof.FLOAT) : new CUdeviceptr();
        CUdeviceptr dOut = kernel.alloc((long) kvDim * nOut * Sizeof.SHORT);
        CUdeviceptr dIds = rebuild ? kernel.upload(Pointer.to(ids), (long) ids.length * Sizeof.INT) : new CUdeviceptr();
        CUdeviceptr dCenterRows = rebuild ? kernel.upload(Pointer.to(centerRows), (long) centerRows.length * Sizeof.INT)
                : new CUdeviceptr();
        CUdeviceptr dCenter = rebuild ? kernel.upload(Pointer.to(center), (long) center.length * Sizeof.FLOAT)
                : new CUdeviceptr();
        try {
            // deltakv_rope_params: n_head_kv, head_dim, n_dims, neox, theta_scale, freq_scale, ext_factor,
            // attn_factor, corr0, corr1 (no YaRN here: ext_factor 0)
            int[] rope = {nHeadKv, headDim, nDims, neox ? 1 : 0, Float.floatToIntBits(thetaScale),
                Float.floatToIntBits(1.0f), Float.floatToIntBits(0.0f), Float.floatToIntBits(1.0f),
                Float.floatToIntBits(0.0f), Float.floatToIntBits(0.0f)};
            Pointer params = Pointer.to(Pointer.to(dExact), Pointer.to(dAttRows), Pointer.to(dAttPos),
                    Pointer.to(dRec), Pointer.to(dRecPos), Pointer.to(dFreq), Pointer.to(dOut),
                    Pointer.to(new long[] {kvDim}), Pointer.to(new int[] {nAtt}), Pointer.to(new int[] {nRec}),
                    Pointer.to(new long[] {(long) kvDim * Sizeof.SHORT}), Pointer.to(new long[] {(long) kvDim * Sizeof.FLOAT}),
                    Pointer.to(new long[] {(long) kvDim * Sizeof.SHORT}), Pointer.to(rope), Pointer.to(dIds),
                    Pointer.to(new int[] {rebuild ? k : 0}), Pointer.to(dCenterRows), Pointer.to(dCenter));
            int threads = Math.min(256, (kvDim / 2 + 31) / 32 * 32);
            kernel.launch(nOut, threads, params);
            short[] got = new short[kvDim * nOut];
            cuMemcpyDtoH(Pointer.to(got), dOut, (long) got.length * Sizeof.SHORT);

            float max = 0;
            float maxDiff = 0;
            for (int i = 0; i < got.length; i++) {
                max = Math.max(max, Math.abs(expected[i]));
                maxDiff = Math.max(maxDiff, Math.abs(expected[i] - anyHalfToFloat(got[i])));
            }
            // F16 rounding (2^-11 relative) and single-precision angles of positions up to 4096
            assertThat(maxDiff).as("max |kernel - reference| of %d x %d values", kvDim, nOut).isLessThanOrEqualTo(2e-3f * max);
            int v0 = nHeadKv * headDim; // V is copied: bit for bit the F16 exact row, or the rebuilt row rounded
            for (int j = 0; j < nAtt; j++) {
                for (int e = v0; e < kvDim; e++) {
                    assertThat(got[j * kvDim + e]).as("V of exact row %d", j).isEqualTo(exact[attRows[j] * kvDim + e]);
                }
            }
        } finally {
            kernel.freeAll();
        }
    }

    /** IEEE half bits to float, zeros and subnormals included. */
    static float anyHalfToFloat(short h) {
        int bits = h & 0xFFFF;
        int exponent = (bits >> 10) & 0x1F;
        if (exponent != 0) {
            return halfToFloat(h);
        }
        float magnitude = (bits & 0x3FF) * (float) Math.pow(2, -24);
        return (bits & 0x8000) != 0 ? -magnitude : magnitude;
    }

}
