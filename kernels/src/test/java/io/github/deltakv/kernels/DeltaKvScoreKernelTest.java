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
 * The candidate-score kernels (kernels/src/main/cuda/deltakv-score-kernel.cuh, the ones ggml-cuda launches for
 * GGML_OP_DELTAKV_SCORE) loaded from the PTX nvcc 13 made of them, run through JCuda and compared with a Java
 * reference: for each token and head the softmax over the token's candidates of the scaled q . k (K in F16, read
 * through each candidate's cell), then the maximum over heads, plus the candidate mask. Skipped without nvcc at build
 * time, a CUDA driver or a GPU.
 */
@Tag("gpu")
class DeltaKvScoreKernelTest {

    private static final int WARPS = 16;     // DELTAKV_SCORE_WARPS
    private static final int PER_BLOCK = 256; // DELTAKV_SCORE_PER_BLOCK

    @RegisterExtension
    static final PtxKernel kernel = new PtxKernel("/ptx/deltakv-score.ptx", "deltakv_score_f16");

    private static final int STATS = 0;      // deltakv_score_stats: a lane a head
    private static final int STATS_ROWS = 3; // deltakv_score_stats_rows: a warp reads whole K rows

    @Test
    void llama_shape_one_token_scores_every_cell_in_place() {
        check(128, 32, 8, 1, 1000, 1000, true, 1, STATS);
    }

    @Test
    void llama_shape_one_token_whole_rows_a_warp() {
        check(128, 32, 8, 1, 1000, 1000, true, 1, STATS_ROWS);
    }

    @Test
    void qwen_shape_three_tokens_with_their_own_candidate_lists() {
        check(128, 28, 4, 3, 900, 530, false, 2, STATS);
    }

    @Test
    void qwen_shape_three_tokens_whole_rows_a_warp() {
        // 8 lanes a KV head, 7 heads sharing it: one lane in eight keeps no head
        check(128, 28, 4, 3, 900, 530, false, 2, STATS_ROWS);
    }

    @Test
    void more_heads_than_a_warp_has_lanes() {
        check(64, 40, 8, 2, 300, 257, false, 3, STATS);
    }

    private void check(int d, int nHead, int nHeadKv, int nTok, int nCells, int nCand, boolean inPlace, long seed,
            int statsPass) {
        Random rnd = new Random(seed);
        short[] k = new short[d * nHeadKv * nCells];
        for (int i = 0; i < k.length; i++) {
            k[i] = (short) (randomHalf(rnd) & 0x83FF | 15 << 10); // |value| in [1, 2): logits of a useful size
        }
        float[] q = new float[d * nHead * nTok];
        for (int i = 0; i < q.length; i++) {
            q[i] = (float) rnd.nextGaussian();
        }
        int[] cell = new int[nCand * nTok];
        float[] mask = new float[nCand * nTok];
        for (int t = 0; t < nTok; t++) {
            for (int c = 0; c < nCand; c++) {
                cell[t * nCand + c] = inPlace ? c : rnd.nextInt(nCells);
                mask[t * nCand + c] = c % 7 == 2 || c >= nCand - 5 * t ? Float.NEGATIVE_INFINITY : 0.0f;
            }
        }
        float scale = (float) (1.0 / Math.sqrt(d));

        int group = nHead / nHeadKv;
        double[] expected = new double[nCand * nTok];
        for (int t = 0; t < nTok; t++) {
            double[][] logit = new double[nHead][nCand];
            double[] max = new double[nHead];
            double[] sum = new double[nHead];
            java.util.Arrays.fill(max, Double.NEGATIVE_INFINITY);
            for (int h = 0; h < nHead; h++) {
                for (int c = 0; c < nCand; c++) {
                    if (mask[t * nCand + c] == Float.NEGATIVE_INFINITY) {
                        continue;
                    }
                    int base = (cell[t * nCand + c] * nHeadKv + h / group) * d;
                    double s = 0;
                    for (int e = 0; e < d; e++) {
                        s += q[(t * nHead + h) * d + e] * halfToFloat(k[base + e]);
                    }
                    logit[h][c] = s * scale;
                    max[h] = Math.max(max[h], logit[h][c]);
                }
                for (int c = 0; c < nCand; c++) {
                    if (mask[t * nCand + c] != Float.NEGATIVE_INFINITY) {
                        sum[h] += Math.exp(logit[h][c] - max[h]);
                    }
                }
            }
            for (int c = 0; c < nCand; c++) {
                double best = 0;
                if (mask[t * nCand + c] != Float.NEGATIVE_INFINITY) {
                    for (int h = 0; h < nHead; h++) {
                        best = Math.max(best, Math.exp(logit[h][c] - max[h]) / sum[h]);
                    }
                }
                expected[t * nCand + c] = best + mask[t * nCand + c];
            }
        }

        int nBlocks = (nCand + PER_BLOCK - 1) / PER_BLOCK;
        CUdeviceptr dQ = kernel.upload(Pointer.to(q), (long) q.length * Sizeof.FLOAT);
        CUdeviceptr dK = kernel.upload(Pointer.to(k), (long) k.length * Sizeof.SHORT);
        CUdeviceptr dCell = kernel.upload(Pointer.to(cell), (long) cell.length * Sizeof.INT);
        CUdeviceptr dMask = kernel.upload(Pointer.to(mask), (long) mask.length * Sizeof.FLOAT);
        CUdeviceptr dPart = kernel.alloc((long) nTok * nBlocks * nHead * 2 * Sizeof.FLOAT);
        CUdeviceptr dTot = kernel.alloc((long) nTok * nHead * 2 * Sizeof.FLOAT);
        CUdeviceptr dLogit = kernel.alloc((long) nTok * nCand * nHead * Sizeof.FLOAT);
        CUdeviceptr dOut = kernel.alloc((long) nCand * nTok * Sizeof.FLOAT);
        try {
            int shared = statsPass == STATS
                    ? Sizeof.FLOAT * nHead * (d + 1) + 2 * Sizeof.FLOAT * WARPS * nHead          // deltakv_score_smem
                    : Sizeof.FLOAT * (nHead * d + 32 * 4) + 2 * Sizeof.FLOAT * WARPS * nHead;  // deltakv_score_rows_smem
            for (int pass : new int[] {statsPass, 1, 2}) { // the stats, their combination, the scores
                Pointer params = Pointer.to(Pointer.to(new int[] {pass}), Pointer.to(dQ), Pointer.to(dK),
                        Pointer.to(dCell), Pointer.to(dMask), Pointer.to(dPart), Pointer.to(dTot), Pointer.to(dLogit),
                        Pointer.to(dOut),
                        Pointer.to(new int[] {d}), Pointer.to(new int[] {nHead}), Pointer.to(new int[] {nHeadKv}),
                        Pointer.to(new int[] {nCand}), Pointer.to(new int[] {nBlocks}),
                        Pointer.to(new long[] {(long) d * Sizeof.FLOAT}),
                        Pointer.to(new long[] {(long) d * nHead * Sizeof.FLOAT}),
                        Pointer.to(new long[] {(long) d * Sizeof.SHORT}),
                        Pointer.to(new long[] {(long) d * nHeadKv * Sizeof.SHORT}), Pointer.to(new float[] {scale}));
                kernel.launch(pass == 1 ? 1 : nBlocks, nTok, WARPS * 32, shared, params);
            }
            float[] got = new float[nCand * nTok];
            cuMemcpyDtoH(Pointer.to(got), dOut, (long) got.length * Sizeof.FLOAT);

            double top = 0;
            double maxDiff = 0;
            for (int i = 0; i < got.length; i++) {
                assertThat(Float.isInfinite(got[i])).as("candidate %d masked", i).isEqualTo(Double.isInfinite(expected[i]));
                if (!Double.isInfinite(expected[i])) {
                    top = Math.max(top, expected[i]);
                    maxDiff = Math.max(maxDiff, Math.abs(got[i] - expected[i]));
                }
            }
            assertThat(top).as("the largest score").isGreaterThan(1.0 / nCand);
            // single-precision dot products and the GPU's fast exponential
            assertThat(maxDiff).as("max |kernel - reference| of %d scores", got.length).isLessThanOrEqualTo(1e-4 * top);
        } finally {
            kernel.freeAll();
        }
    }
}
