package io.github.deltakv.it;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.deltakv.langchain4j.DeltaKvChatModel;
import io.github.deltakv.langchain4j.DeltaKvException;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Three hundred models with random bytes in their GGUF header (metadata, vocabulary, tensor table):
 * each one loads or fails with a DeltaKvException, in this JVM; none kills it. (Some of these files make
 * llama.cpp fail an assert while loading, which aborts a plain process.)
 */
class CorruptModelFuzzIT {

    @TempDir
    Path tmp;

    @Test
    void mutated_headers_load_or_fail_cleanly() throws Exception {
        byte[] original = Files.readAllBytes(TestModels.stories());
        Random random = new Random(1);
        int loaded = 0;
        int refused = 0;
        for (int i = 0; i < 300; i++) {
            byte[] mutated = original.clone();
            for (int m = 1 + random.nextInt(8); m > 0; m--) {
                mutated[8 + random.nextInt(4096 - 8)] = (byte) random.nextInt(256);
            }
            Path file = Files.write(tmp.resolve("mutated.gguf"), mutated);
            try (DeltaKvChatModel model = DeltaKvChatModel.builder().modelPath(file).contextSize(256).threads(1)
                    .maxTokens(2).build()) {
                loaded++;
            } catch (DeltaKvException e) {
                assertThat(e.getMessage()).isNotBlank();
                refused++;
            }
        }
        assertThat(loaded + refused).isEqualTo(300);
        assertThat(refused).isPositive();
        // the model still loads and runs after all that
        try (DeltaKvChatModel model = DeltaKvChatModel.builder().modelPath(TestModels.stories()).contextSize(256)
                .threads(1).maxTokens(4).build()) {
            assertThat(model.chat("Once upon a time")).isNotNull();
        }
    }
}
