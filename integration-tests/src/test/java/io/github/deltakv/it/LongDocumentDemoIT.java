package io.github.deltakv.it;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.deltakv.demo.LongDocumentDemo;
import io.github.deltakv.langchain4j.DeltaKvStats;
import io.github.deltakv.langchain4j.KvMemoryStats;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;

/**
 * The README's demo as {@code mvn -Pdemo verify} runs it (60 pairs, 4 questions), with the compressor vendored in
 * models/: its answers are right, and the memory line it prints is the engine's DeltaKV statistics, under 40% of what
 * the stock F16 cache holds for the same tokens. (The stock F16 cache answers these 4 right too; at other sizes
 * kvtiny misses some keys with any cache, e.g. 40 pairs, question 2, so the test runs the demo's own size.)
 */
class LongDocumentDemoIT {

    /** kvtiny's stock F16 cache per token: 6 layers x [K | V] of 2 KV heads x 64 dims x 2 bytes. */
    private static final long F16_BYTES_PER_TOKEN = 6 * 2 * 2 * 64 * 2;

    /** The compressor is vendored in the repository's models/ only, not in ../shared/models with the model. */
    private static final Path VENDORED_MODELS = Path.of("..", "models");

    @Test
    void the_demo_answers_right_in_under_40_percent_of_the_f16_memory() {
        ByteArrayOutputStream printed = new ByteArrayOutputStream();
        List<LongDocumentDemo.Turn> turns = LongDocumentDemo.run(TestModels.kvtiny(),
                LongDocumentDemo.deltaKv(VENDORED_MODELS.resolve(LongDocumentDemo.COMPRESSOR)),
                LongDocumentDemo.PAIRS, LongDocumentDemo.QUESTIONS,
                new PrintStream(printed, true, StandardCharsets.UTF_8));
        String output = printed.toString(StandardCharsets.UTF_8);

        assertThat(turns).hasSize(LongDocumentDemo.QUESTIONS)
                .allSatisfy(turn -> assertThat(turn.correct()).as(turn.answer()).isTrue());
        for (LongDocumentDemo.Turn turn : turns) {
            KvMemoryStats memory = turn.metadata().kvMemory();
            DeltaKvStats deltaKv = memory.deltaKv();
            assertThat(deltaKv.tokens()).isEqualTo(memory.tokensHeld())
                    .isGreaterThan(turn.metadata().tokenUsage().inputTokenCount());
            assertThat(deltaKv.compressedTokens()).isPositive();
            assertThat(deltaKv.bytesStock()).isEqualTo(deltaKv.tokens() * F16_BYTES_PER_TOKEN);
            assertThat(deltaKv.bytesUsed()).isLessThan(deltaKv.bytesStock() * 40 / 100);
            assertThat(output).contains(String.format("KV memory: DeltaKV %.2f MiB vs stock F16 %.2f MiB for the same "
                    + "%,d tokens", deltaKv.bytesUsed() / 1048576.0, deltaKv.bytesStock() / 1048576.0,
                    deltaKv.tokens()));
        }
        assertThat(output).contains("4 of 4 answers correct.", "KV memory allocated for the 8,192-token context");
    }
}
