package io.github.deltakv.natives;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The DeltaKV compressor graph builders of the patched llama.cpp (deltakv-graph-test), run on the CPU
 * backend with side-file weights on kvtiny's shape: nearest references equal brute force, the identity
 * compressor is lossless, the SwiGLU encoder and linear decoder equal plain C++, int4 latents stay within
 * half a quantisation step, and a block compressed as the planner schedules it (spec 6.2) picks the
 * references brute force picks and is rebuilt exactly by the identity compressor.
 */
class DeltaKvGraphTest {

    @TempDir
    Path tmp;

    @Test
    void compressor_graphs_compute_the_spec_formulas() throws Exception {
        Path model = NativeTools.model("kvtiny-retrieval-q8_0.gguf");
        Path identity = tmp.resolve("identity.gguf");
        Path swiglu = tmp.resolve("swiglu.gguf");
        assertThat(NativeTools.run(tmp, "deltakv-sidefile", "write", model.toString(), identity.toString()).exit()).isZero();
        assertThat(NativeTools.run(tmp, "deltakv-sidefile", "write", model.toString(), swiglu.toString(), "--kind", "random",
                "--encoder", "swiglu", "--latent-dim", "64", "--ff", "96").exit()).isZero();

        NativeTools.Run r = NativeTools.run(tmp, "deltakv-graph-test", model.toString(), identity.toString(), swiglu.toString());

        assertThat(r.output()).doesNotContain("FAIL").contains("deltakv graph: 0 failures");
        assertThat(r.output()).contains("ok   identity compressor: reconstruction is lossless",
                "ok   identity compressor: the block rebuilt from latents and ids is the block");
        assertThat(r.exit()).isZero();
    }
}
