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
 * The cell-mask kernel (kernels/src/main/cuda/deltakv-mask-kernel.cuh, the one ggml-cuda launches for
 * GGML_OP_DELTAKV_MASK) loaded from the PTX nvcc 13 made of it, run through JCuda and compared with a Java reference:
 * 0 where a cell holds a token of the token's sequence at a position up to the token's, -infinity elsewhere (empty
 * cells have sequence -1). Skipped without nvcc at build time, a CUDA driver or a GPU.
 */
@Tag("gpu")
class DeltaKvMaskKernelTest {

    private static final int THREADS = 256; // DELTAKV_MASK_THREADS
    private static final short HALF_ZERO = 0;
    private static final short HALF_MINUS_INFINITY = (short) 0xFC00;

    @RegisterExtension
    static final PtxKernel kernel = new PtxKernel("/ptx/deltakv-mask.ptx", "deltakv_mask");

    @Test
    void f32_mask_over_more_cells_than_the_grid_has_threads() {
        check(20000, 5, false, 1);
    }

    @Test
    void f16_mask_as_flash_attention_reads_it() {
        check(3000, 9, true, 2);
    }

    private void check(int nKv, int n, boolean f16, long seed) {
        Random rnd = new Random(seed);
        float[] cellSeq = new float[nKv];
        float[] cellPos = new float[nKv];
        for (int c = 0; c < nKv; c++) {
            cellSeq[c] = rnd.nextInt(4) - 1; // -1: empty
            cellPos[c] = rnd.nextInt(nKv);
        }
        float[] tokSeq = new float[n];
        float[] tokPos = new float[n];
        for (int t = 0; t < n; t++) {
            tokSeq[t] = rnd.nextInt(3);
            tokPos[t] = rnd.nextInt(nKv);
        }
        boolean[] see = new boolean[nKv * n];
        int seen = 0;
        for (int t = 0; t < n; t++) {
            for (int c = 0; c < nKv; c++) {
                see[t * nKv + c] = cellSeq[c] == tokSeq[t] && cellPos[c] <= tokPos[t];
                seen += see[t * nKv + c] ? 1 : 0;
            }
        }
        assertThat(seen).as("cells seen").isPositive().isLessThan(nKv * n);

        int rowBytes = nKv * (f16 ? Sizeof.SHORT : Sizeof.FLOAT);
        CUdeviceptr dSeq = kernel.upload(Pointer.to(cellSeq), (long) nKv * Sizeof.FLOAT);
        CUdeviceptr dPos = kernel.upload(Pointer.to(cellPos), (long) nKv * Sizeof.FLOAT);
        CUdeviceptr dTokSeq = kernel.upload(Pointer.to(tokSeq), (long) n * Sizeof.FLOAT);
        CUdeviceptr dTokPos = kernel.upload(Pointer.to(tokPos), (long) n * Sizeof.FLOAT);
        CUdeviceptr dOut = kernel.alloc((long) rowBytes * n);
        try {
            Pointer params = Pointer.to(Pointer.to(new int[] {f16 ? 1 : 0}), Pointer.to(dSeq), Pointer.to(dPos),
                    Pointer.to(dTokSeq), Pointer.to(dTokPos), Pointer.to(dOut), Pointer.to(new int[] {nKv}),
                    Pointer.to(new long[] {nKv}));
            int blocks = Math.min((nKv + THREADS - 1) / THREADS, 64); // as ggml_cuda_op_deltakv_mask launches it
            kernel.launch(blocks, n, THREADS, 0, params);
            if (f16) {
                short[] got = new short[nKv * n];
                cuMemcpyDtoH(Pointer.to(got), dOut, (long) got.length * Sizeof.SHORT);
                for (int i = 0; i < got.length; i++) {
                    assertThat(got[i]).as("cell %d of token %d", i % nKv, i / nKv)
                            .isEqualTo(see[i] ? HALF_ZERO : HALF_MINUS_INFINITY);
                }
            } else {
                float[] got = new float[nKv * n];
                cuMemcpyDtoH(Pointer.to(got), dOut, (long) got.length * Sizeof.FLOAT);
                for (int i = 0; i < got.length; i++) {
                    assertThat(got[i]).as("cell %d of token %d", i % nKv, i / nKv)
                            .isEqualTo(see[i] ? 0.0f : Float.NEGATIVE_INFINITY);
                }
            }
        } finally {
            kernel.freeAll();
        }
    }
}
