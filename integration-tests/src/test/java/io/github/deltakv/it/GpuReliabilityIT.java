package io.github.deltakv.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.github.deltakv.eval.Reliability;
import io.github.deltakv.langchain4j.internal.LlamaNative;
import io.github.deltakv.langchain4j.internal.NativeLoader;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * On a GPU (CUDA natives): load / chat / close cycles give the GPU's memory back, and a context that cannot fit
 * fails with an exception while a model loaded before keeps answering. Skipped without a GPU. The figures in the
 * README come from {@link Reliability}'s command line on the GPU machine.
 */
@Tag("gpu")
class GpuReliabilityIT {

    @BeforeAll
    static void needsGpu() {
        NativeLoader.load();
        assumeTrue(LlamaNative.gpuMemory().length > 0, "no GPU: the natives found " + String.join(", ", LlamaNative.devices()));
    }

    @Test
    void load_close_cycles_give_the_gpu_memory_back() {
        Reliability.Cycles c = Reliability.cycles(TestModels.kvtiny(), 50, -1, (done, total) -> { });

        assertThat(c.gpuNotReturned()).as("GPU bytes not returned after 50 cycles").isLessThan(64L << 20);
        assertThat(c.rssGrowthKiB()).as("RSS growth, KiB").isLessThan(64 * 1024);
    }

    @Test
    void a_context_that_cannot_fit_fails_clearly_and_the_other_model_keeps_answering() {
        assertThat(Reliability.outOfMemory(TestModels.kvtiny(), -1)).isNotBlank();
    }
}
