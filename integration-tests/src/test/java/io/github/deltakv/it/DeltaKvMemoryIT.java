package io.github.deltakv.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.model.chat.response.ChatResponse;

import io.github.deltakv.langchain4j.DeltaKvChatModel;
import io.github.deltakv.langchain4j.DeltaKvChatResponseMetadata;
import io.github.deltakv.langchain4j.DeltaKvConfig;
import io.github.deltakv.langchain4j.DeltaKvException;
import io.github.deltakv.langchain4j.DeltaKvStats;
import io.github.deltakv.langchain4j.KvMemoryStats;

import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;

/**
 * The provider with DeltaKV memory on kvtiny: the same answers as the stock cache with a lossless
 * compressor, KV statistics by class in every response, the memory of a small int4 compressor, and
 * clear errors for compressors that do not fit.
 */
class DeltaKvMemoryIT {

    static Path sideFile(String name) {
        return Path.of("src", "test", "resources", "deltakv", name);
    }

    static DeltaKvChatModel kvtiny(DeltaKvConfig deltaKv, int contextSize) {
        return DeltaKvChatModel.builder()
                .modelPath(TestModels.kvtiny())
                .contextSize(contextSize)
                .batchSize(contextSize) // the whole prompt in one call: exact prefill (spec 6.1)
                .maxSequences(1)        // the memory of one conversation at a time
                .threads(TestModels.threads())
                .temperature(0.0)
                .maxTokens(16)
                .deltaKv(deltaKv)
                .build();
    }

    @Test
    void a_prompt_read_in_batches_fits_a_small_context() {
        // 2048 cells: the exact-row pool holds a batch and a raw window; a prompt's block of a batch used to be spread
        // over steps like a decode block, so the next batch found no free row (llama_decode failed past ~980 tokens)
        DeltaKvConfig identity = DeltaKvConfig.of(sideFile("kvtiny-identity.deltakv.gguf"));
        try (DeltaKvChatModel model = DeltaKvChatModel.builder().modelPath(TestModels.kvtiny()).contextSize(2048)
                .batchSize(512).maxSequences(1).threads(TestModels.threads()).temperature(0.0).maxTokens(16)
                .deltaKv(identity).build()) {
            Haystacks.Needle needle = Haystacks.needle(1500, 0.5, 9);
            ChatResponse response = model.chat(UserMessage.from(needle.message()));
            assertThat(response.tokenUsage().inputTokenCount()).isGreaterThan(1500);
            assertThat(response.aiMessage().text().strip()).isEqualTo(needle.answer());
        }
    }

    @Test
    void a_lossless_compressor_finds_the_needles_the_stock_cache_finds() {
        // every compressed token rebuilt (top-k above the history): exactly the stock cache's attention
        DeltaKvConfig identity = DeltaKvConfig.builder().compressorPath(sideFile("kvtiny-identity.deltakv.gguf"))
                .topK(1 << 20).build();
        try (DeltaKvChatModel model = kvtiny(identity, 4608)) {
            for (double depth : new double[] {0.1, 0.5, 0.9}) {
                Haystacks.Needle needle = Haystacks.needle(4000, depth, 21);
                ChatResponse response = model.chat(UserMessage.from(needle.message()));

                assertThat(response.aiMessage().text().strip()).as("needle at depth %s", depth).isEqualTo(needle.answer());
                DeltaKvStats stats = ((DeltaKvChatResponseMetadata) response.metadata()).kvMemory().deltaKv();
                assertThat(stats).isNotNull();
                assertThat(stats.compressedTokens()).isGreaterThan(3000);
                assertThat(stats.recentTokens()).isBetween(128L, 256L);
                assertThat(stats.tokens()).isEqualTo(stats.compressedTokens() + stats.recentTokens() + 8);
            }
        }
    }

    @Test
    void top_k_as_a_fraction_of_the_context_rebuilds_that_share() {
        // full layer {0} alone chooses poorly for layer 5 (see below): top-256 of ~4100 tokens misses needles; a
        // fraction of 1 rebuilds every compressed token (the stock cache's attention), whatever topK says
        DeltaKvConfig.Builder config = DeltaKvConfig.builder()
                .compressorPath(sideFile("kvtiny-identity.deltakv.gguf")).topK(256).fullLayers(List.of(0));
        int foundWithCount = needlesFound(config.build());
        int foundWithFraction = needlesFound(config.topKFraction(1.0).build());
        assertThat(foundWithCount).as("top-256").isLessThan(3);
        assertThat(foundWithFraction).as("top-256 and a fraction of 1").isEqualTo(3);
    }

    private static int needlesFound(DeltaKvConfig config) {
        int found = 0;
        try (DeltaKvChatModel model = kvtiny(config, 4608)) {
            assertThat(model.engine().deltaKvSettings()).containsEntry("top_k", "256").containsEntry("top_k_fraction",
                    config.topKFraction() == null ? "0" : "1");
            for (int i = 0; i < 3; i++) {
                Haystacks.Needle needle = Haystacks.needle(4000, 0.2 + 0.3 * i, 40 + i);
                found += model.chat(needle.message()).strip().equals(needle.answer()) ? 1 : 0;
            }
        }
        return found;
    }

    @Test
    void top_k_reconstruction_of_256_of_3800_tokens_still_finds_needles() {
        // measured on kvtiny (6 needles at depths 0.1..0.85, identity compressor): with full layers {0} or
        // {0,1..3} the observation layers do not look where layer 5 retrieves and top-256 finds 0-1 of 6;
        // with {0, 4} layer 4 chooses for layer 5 and all 6 are found, with top-256 as with top-1024
        DeltaKvConfig identity = DeltaKvConfig.builder().compressorPath(sideFile("kvtiny-identity.deltakv.gguf"))
                .topK(256).fullLayers(List.of(0, 4)).build();
        try (DeltaKvChatModel model = kvtiny(identity, 4608)) {
            for (int i = 0; i < 3; i++) {
                Haystacks.Needle needle = Haystacks.needle(4000, 0.2 + 0.3 * i, 40 + i);

                ChatResponse response = model.chat(UserMessage.from(needle.message()));

                assertThat(response.aiMessage().text().strip()).isEqualTo(needle.answer());
                DeltaKvStats stats = ((DeltaKvChatResponseMetadata) response.metadata()).kvMemory().deltaKv();
                assertThat(stats.compressedTokens()).isGreaterThan(3000); // far more than the 256 rebuilt
            }
        }
    }

    @Test
    void a_small_int4_compressor_holds_8k_tokens_in_about_a_third_of_the_memory() {
        DeltaKvConfig random = DeltaKvConfig.of(sideFile("kvtiny-random-d64-int4.deltakv.gguf"));
        try (DeltaKvChatModel model = kvtiny(random, 8192)) {
            Haystacks.Needle needle = Haystacks.needle(7000, 0.5, 23);

            model.chat(needle.message()); // a random compressor answers nonsense; the memory is the point
            KvMemoryStats kv = model.engine().kvMemory();

            DeltaKvStats stats = kv.deltaKv();
            assertThat(stats.compressedTokens()).isGreaterThan(6500);
            // by class: one full layer of six at F16, 10% references exact, int4 latents of 64 dims, 4 ids each
            assertThat(stats.usedRatio()).isBetween(0.30, 0.40);
            assertThat(stats.bytesUsed()).isLessThan(stats.bytesStock() * 2 / 5);
            assertThat(kv.toString()).contains("DeltaKV:", "compressed");
        }
    }

    @Test
    void int8_latents_take_the_bytes_between_int4_and_f16() {
        // the same compressor's codes stored three ways: Q4_1 (20 B per 32 values), Q8_0 (34 B), F16 (64 B)
        Haystacks.Needle needle = Haystacks.needle(3000, 0.5, 25);
        long[] latentBytes = new long[3];
        int[] bits = {4, 8, 16};
        for (int i = 0; i < bits.length; i++) {
            DeltaKvConfig config = DeltaKvConfig.builder().compressorPath(sideFile("kvtiny-random-d64-int4.deltakv.gguf"))
                    .latentBits(bits[i]).build();
            try (DeltaKvChatModel model = kvtiny(config, 4096)) {
                model.chat(needle.message());
                DeltaKvStats stats = model.engine().kvMemory().deltaKv();
                assertThat(stats.compressedTokens()).isGreaterThan(2500);
                latentBytes[i] = stats.bytesLatents();
            }
        }
        assertThat(latentBytes[1] * 20).isEqualTo(latentBytes[0] * 34);
        assertThat(latentBytes[2] * 20).isEqualTo(latentBytes[0] * 64);
    }

    @Test
    void the_second_turn_of_a_conversation_reuses_the_compressed_history() {
        DeltaKvConfig identity = DeltaKvConfig.of(sideFile("kvtiny-identity.deltakv.gguf"));
        try (DeltaKvChatModel model = kvtiny(identity, 4608)) {
            Haystacks.Needle needle = Haystacks.needle(3000, 0.3, 24);
            UserMessage first = UserMessage.from(needle.message());
            ChatResponse r1 = model.chat(first);
            ChatResponse r2 = model.chat(List.of(first, r1.aiMessage(), UserMessage.from("Thanks. " + needle.message()
                    .substring(needle.message().lastIndexOf('\n') + 1))));

            DeltaKvChatResponseMetadata m2 = (DeltaKvChatResponseMetadata) r2.metadata();
            assertThat(m2.promptTokensReused()).isGreaterThan(2900);
            assertThat(m2.promptTokensEvaluated()).isLessThan(200);
            assertThat(m2.kvMemory().deltaKv().compressedTokens()).isGreaterThan(2500);
        }
    }

    @Test
    void a_compressor_made_for_another_model_is_refused_with_both_values_named() {
        DeltaKvConfig other = DeltaKvConfig.of(sideFile("stories260K-identity.deltakv.gguf"));

        assertThatThrownBy(() -> kvtiny(other, 2048))
                .isInstanceOf(DeltaKvException.class)
                .hasMessageContaining("DeltaKV")
                .hasMessageContaining("stories260K-identity.deltakv.gguf")
                .hasMessageMatching("(?s).*(layers|heads|head dim|n_layer|n_head_kv|head_dim).*");
    }

    @Test
    void missing_or_corrupt_compressor_files_and_bad_settings_fail_clearly() {
        assertThatThrownBy(() -> DeltaKvConfig.of(Path.of("no-such.deltakv.gguf")))
                .isInstanceOf(DeltaKvException.class).hasMessageContaining("not found");
        assertThatThrownBy(() -> kvtiny(DeltaKvConfig.of(TestModels.kvtiny()), 2048)) // a model, not a side file
                .isInstanceOf(DeltaKvException.class).hasMessageContaining("DeltaKV");
        Path identity = sideFile("kvtiny-identity.deltakv.gguf");
        assertThatThrownBy(() -> DeltaKvConfig.builder().compressorPath(identity).latentBits(5).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("latentBits");
        assertThatThrownBy(() -> DeltaKvConfig.builder().compressorPath(identity).recentTokens(0).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("recentTokens");
        // a stride of 1 left no latent slot and crashed the JVM at the first compression
        assertThatThrownBy(() -> DeltaKvConfig.builder().compressorPath(identity).centerStride(1).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("centerStride");
        assertThatThrownBy(() -> DeltaKvConfig.builder().compressorPath(identity).neighbors(9).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("neighbors");
        assertThatThrownBy(() -> DeltaKvConfig.builder().compressorPath(identity).fullLayers(List.of()).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("fullLayers");
        // the native loader checks what only the model can tell: a full layer beyond the model's layers
        assertThatThrownBy(() -> kvtiny(DeltaKvConfig.builder().compressorPath(identity).fullLayers(List.of(0, 99))
                .build(), 2048)).isInstanceOf(DeltaKvException.class).hasMessageContaining("99");
        // and the model still loads and answers after all that
        try (DeltaKvChatModel model = kvtiny(DeltaKvConfig.of(identity), 2048)) {
            assertThat(model.chat("Say hello.")).isNotNull();
        }
    }
}
