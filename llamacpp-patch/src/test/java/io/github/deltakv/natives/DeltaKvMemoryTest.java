package io.github.deltakv.natives;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The DeltaKV memory of the patched llama.cpp end to end, through the public C API (deltakv-memory-test)
 * on kvtiny: an identity compressor gives the stock cache's logits within a few times the cache's own F16
 * rounding (reconstruct-all, top-k = everything, a prompt in several calls, flash attention on and off);
 * a random int4 compressor at 8K generates, and its statistics and memory ratio match the spec's rule
 * counted by hand; seq_rm, seq_cp, two sequences in one batch and state save/restore work, and what
 * DeltaKV cannot do is refused.
 */
class DeltaKvMemoryTest {

    @TempDir
    Path tmp;

    @Test
    void compressed_memory_matches_the_stock_cache_and_the_spec() throws Exception {
        Path model = NativeTools.model("kvtiny-retrieval-q8_0.gguf");
        Path identity = tmp.resolve("identity.gguf");
        Path random = tmp.resolve("random.gguf");
        assertThat(NativeTools.run(tmp, "deltakv-sidefile", "write", model.toString(), identity.toString()).exit()).isZero();
        assertThat(NativeTools.run(tmp, "deltakv-sidefile", "write", model.toString(), random.toString(), "--kind", "random",
                "--latent-dim", "64", "--bits", "4").exit()).isZero();

        NativeTools.Run r = NativeTools.run(tmp, "deltakv-memory-test", model.toString(), NativeTools.text().toString(),
                identity.toString(), random.toString());

        assertThat(r.output()).doesNotContain("FAIL ").contains("0 failure(s)");
        assertThat(r.output()).contains("PASS identity-reconstruct-all-fa", "PASS identity-topk-everything-fa",
                "PASS identity-prompt-in-calls-nofa", "PASS random-generation", "PASS random-statistics",
                "PASS random-memory-ratio", "PASS random-generation-int8", "PASS random-memory-ratio-int8",
                "PASS seq-rm-recent", "PASS seq-rm-compressed-refused", "PASS seq-rm-pos-min",
                "PASS seq-state-roundtrip", "PASS seq-rm-all",
                "PASS seq-cp-and-batch", "PASS seq-cp-partial-refused", "PASS batch-own-sequences",
                "PASS seq-split-cache-refused");
        assertThat(r.exit()).isZero();
    }
}
