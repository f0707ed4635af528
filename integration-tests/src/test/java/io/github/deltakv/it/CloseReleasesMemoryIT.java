package io.github.deltakv.it;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.deltakv.eval.Reliability;

import org.junit.jupiter.api.Test;

/** close() frees the model, the context and the KV cache: resident memory does not grow over load/close cycles. */
class CloseReleasesMemoryIT {

    @Test
    void two_hundred_load_chat_close_cycles_return_native_memory() {
        Reliability.Cycles c = Reliability.cycles(TestModels.kvtiny(), 200, 0, (done, total) -> { });

        // one kvtiny load is ~14 MiB of weights plus a 24 MiB KV cache at 8192 tokens: 200 leaked loads would add
        // over 7 GiB, one leaked load per ten cycles 0.7 GiB; allow 64 MiB of allocator and JVM noise
        assertThat(c.rssGrowthKiB()).as("RSS growth over 200 cycles, KiB").isLessThan(64 * 1024);
    }
}
