package io.github.deltakv.it;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.deltakv.langchain4j.DeltaKvChatModel;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;

/** close() frees the model, the context and the KV cache: resident memory does not grow over load/close cycles. */
class CloseReleasesMemoryIT {

    @Test
    void forty_load_chat_close_cycles_return_native_memory() throws IOException {
        cycle(); // warm up: JIT, class loading, native library, allocator pools
        cycle();
        long before = rssKiB();
        for (int i = 0; i < 40; i++) {
            cycle();
        }
        long grownKiB = rssKiB() - before;
        // one kvtiny load is ~14 MiB of weights plus a 24 MiB KV cache at 8192 tokens: 40 leaked loads
        // would add over 1.5 GiB; allow 64 MiB of allocator and JVM noise
        assertThat(grownKiB).as("RSS growth over 40 cycles, KiB").isLessThan(64 * 1024);
    }

    private static void cycle() {
        try (DeltaKvChatModel model = DeltaKvChatModel.builder().modelPath(TestModels.kvtiny()).contextSize(8192)
                .threads(TestModels.threads()).temperature(0.0).maxTokens(4).build()) {
            model.chat("Hello");
        }
    }

    private static long rssKiB() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("\\D", ""));
            }
        }
        throw new IllegalStateException("no VmRSS in /proc/self/status");
    }
}
