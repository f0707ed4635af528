package io.github.deltakv.natives;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * With DeltaKV off, the patched llama.cpp computes exactly what stock llama.cpp computes: the logits of a
 * decode script (prompt in ubatches, greedy steps, a suffix seq_rm and re-decode, a state save, clear and
 * restore) are byte-identical between the two builds, for several batch sizes, flash attention on and
 * off, and F16 and Q8_0 caches.
 */
class BitIdenticalDefaultTest {

    @TempDir
    Path tmp;

    @ParameterizedTest(name = "{0}, ubatch {1}, flash attention {2}, cache {3}")
    @CsvSource({
        "kvtiny-retrieval-q8_0.gguf, 1, off, f16",
        "kvtiny-retrieval-q8_0.gguf, 7, on, f16",
        "kvtiny-retrieval-q8_0.gguf, 64, on, q8_0",
        "kvtiny-retrieval-q8_0.gguf, 64, off, f16",
        "stories260K.gguf, 64, on, f16",
    })
    void logits_are_byte_identical_to_stock_llama_cpp(String model, int ubatch, String fa, String ctk) throws Exception {
        Path prompt = Files.writeString(tmp.resolve("prompt.txt"), "Once upon a time, in a house by the sea, there lived "
                + "a girl who counted the boats every morning. The first boat was red, the second was blue, and the "
                + "third one, which came late, was painted with stars. ".repeat(3));
        String[] args = {NativeTools.model(model).toString(), prompt.toString(), null, "--steps", "12",
                "--ubatch", String.valueOf(ubatch), "--fa", fa, "--ctk", ctk};

        args[2] = tmp.resolve("patched.bin").toString();
        NativeTools.Run patched = NativeTools.run(NativeTools.bin(), tmp, "deltakv-logits", args);
        args[2] = tmp.resolve("stock.bin").toString();
        NativeTools.Run stock = NativeTools.run(NativeTools.stockBin(), tmp, "deltakv-logits", args);

        assertThat(patched.exit()).as(patched.output()).isZero();
        assertThat(stock.exit()).as(stock.output()).isZero();
        byte[] a = Files.readAllBytes(tmp.resolve("patched.bin"));
        byte[] b = Files.readAllBytes(tmp.resolve("stock.bin"));
        assertThat(a.length).isGreaterThan(12 * 4 * 512); // 15 rows of n_vocab floats
        assertThat(a).as("patched vs stock logits").isEqualTo(b);
    }
}
