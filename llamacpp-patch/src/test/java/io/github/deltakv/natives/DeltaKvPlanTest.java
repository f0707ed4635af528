package io.github.deltakv.natives;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The DeltaKV planner of the patched llama.cpp (deltakv-plan-test): blocks, centers, reference visibility,
 * sequence edits and memory accounting against the DeltaKV spec's rules and worked examples.
 */
class DeltaKvPlanTest {

    @TempDir
    Path tmp;

    @Test
    void planner_follows_the_spec_and_meets_the_memory_goals() throws Exception {
        NativeTools.Run r = NativeTools.run(tmp, "deltakv-plan-test");

        assertThat(r.output()).doesNotContain("FAIL").contains("deltakv plan: 0 failures");
        assertThat(r.output()).contains("Llama-3.1-8B shape, 128K: 5317937152 of 17179869184 bytes = 30.95%");
        assertThat(r.output()).contains("Qwen2.5-7B shape, 128K:   2695065600 of 7516192768 bytes = 35.86%");
        assertThat(r.exit()).isZero();
    }
}
