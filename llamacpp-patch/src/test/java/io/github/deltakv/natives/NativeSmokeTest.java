package io.github.deltakv.natives;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import java.util.UUID;
import java.util.stream.Collectors;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The native decode path without Java in between (deltakv-smoke, built with the natives): kvtiny reads
 * a small JSON table through its own chat template and retrieves a value, greedily, on CPU.
 */
class NativeSmokeTest {

    @TempDir
    Path tmp;

    @Test
    void kvtiny_retrieves_a_value_through_the_native_decode_loop() throws Exception {
        Path model = NativeTools.model("kvtiny-retrieval-q8_0.gguf");

        Random random = new Random(11);
        Map<String, String> table = new LinkedHashMap<>();
        for (int i = 0; i < 12; i++) {
            table.put(uuid4(random), uuid4(random));
        }
        String key = table.keySet().stream().skip(5).findFirst().orElseThrow();
        String json = table.entrySet().stream().map(e -> "\"" + e.getKey() + "\": \"" + e.getValue() + "\"")
                .collect(Collectors.joining(", ", "{", "}"));
        Path prompt = Files.writeString(tmp.resolve("prompt.txt"),
                "Extract the value corresponding to the specified key in the JSON object below.\n\n" + json
                        + "\n\nKey: \"" + key + "\"\nThe value associated with the specified key is:");

        NativeTools.Run r = NativeTools.run(tmp, "deltakv-smoke", model.toString(), "0", "48", prompt.toString());
        String out = r.output();

        assertThat(r.exit()).as(out).isZero();
        assertThat(out).contains("device: CPU").contains("finish: 0");
        assertThat(out).contains("answer: " + table.get(key) + "\n");
    }

    private static String uuid4(Random random) {
        long msb = (random.nextLong() & ~0xF000L) | 0x4000L;
        long lsb = (random.nextLong() & ~(3L << 62)) | (2L << 62);
        return new UUID(msb, lsb).toString();
    }
}
