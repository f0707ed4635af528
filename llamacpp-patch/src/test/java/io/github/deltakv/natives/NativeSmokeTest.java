package io.github.deltakv.natives;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
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
        Path nativeDir = Path.of(System.getProperty("deltakv.native.dir", "target/none"));
        assumeTrue(Files.isRegularFile(nativeDir.resolve("BUILD-INFO")), "native build skipped (-DskipNative)");
        Path smoke = buildDir(nativeDir).resolve("bin/deltakv-smoke");
        Path model = Path.of("..", "models", "kvtiny-retrieval-q8_0.gguf").toAbsolutePath();

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

        Path log = tmp.resolve("out.txt");
        Process p = new ProcessBuilder(smoke.toString(), model.toString(), "0", "48", prompt.toString())
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        assertThat(p.waitFor(2, TimeUnit.MINUTES)).isTrue();
        String out = Files.readString(log, StandardCharsets.UTF_8);

        assertThat(p.exitValue()).as(out).isZero();
        assertThat(out).contains("device: CPU").contains("finish: 0");
        assertThat(out).contains("answer: " + table.get(key) + "\n");
    }

    private static Path buildDir(Path nativeDir) throws IOException {
        return Files.readAllLines(nativeDir.resolve("BUILD-INFO")).stream()
                .filter(l -> l.startsWith("build.dir=")).map(l -> Path.of(l.substring("build.dir=".length())))
                .findFirst().orElseThrow();
    }

    private static String uuid4(Random random) {
        long msb = (random.nextLong() & ~0xF000L) | 0x4000L;
        long lsb = (random.nextLong() & ~(3L << 62)) | (2L << 62);
        return new UUID(msb, lsb).toString();
    }
}
