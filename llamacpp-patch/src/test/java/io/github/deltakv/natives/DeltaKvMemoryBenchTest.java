package io.github.deltakv.natives;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.Map;
import java.util.stream.Collectors;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The memory benchmark's tools on a small context: a random model of Llama-3.1-8B's KV shape (32 layers,
 * 8 KV heads of 128; narrow weights) with the paper's compressor settings allocates a fraction of the stock
 * F16 cache, and the bytes it uses for a filled context match the spec's accounting. The 128K numbers in
 * the README come from the same tools (results/memory/README.md).
 */
class DeltaKvMemoryBenchTest {

    @TempDir
    Path tmp;

    static Map<String, String> values(String output) {
        return output.lines().filter(l -> l.matches("[a-z_0-9]+=.*"))
                .collect(Collectors.toMap(l -> l.substring(0, l.indexOf('=')), l -> l.substring(l.indexOf('=') + 1),
                        (a, b) -> b));
    }

    @Test
    void a_llama_8b_shaped_context_allocates_and_uses_a_fraction_of_the_stock_cache() throws Exception {
        Path vocab = NativeTools.bin().getParent().getParent().resolve("llama.cpp/models/ggml-vocab-llama-bpe.gguf");
        Path model = tmp.resolve("llama8b-shape.gguf");
        Path side = tmp.resolve("side.gguf");
        NativeTools.Run made = NativeTools.run(tmp, "deltakv-random-model", vocab.toString(), model.toString(),
                "--preset", "llama31-8b", "--n-embd", "1024", "--n-head", "8", "--n-ff", "256");
        assertThat(made.exit()).as(made.output()).isZero();
        NativeTools.Run side_ = NativeTools.run(tmp, "deltakv-sidefile", "write", model.toString(), side.toString(),
                "--kind", "random", "--latent-dim", "512", "--bits", "4", "--full-layers", "0,1,2,8,18");
        assertThat(side_.exit()).as(side_.output()).isZero();

        NativeTools.Run r = NativeTools.run(tmp, "deltakv-memory-bench", model.toString(), side.toString(), "--ctx",
                "16384", "--batch", "512", "--fill", "2048");

        assertThat(r.exit()).as(r.output()).isZero();
        Map<String, String> v = values(r.output());
        long stock = Long.parseLong(v.get("stock_f16_bytes"));
        assertThat(stock).isEqualTo(16384L * 32 * 2 * 1024 * 2); // n_ctx x layers x (K + V) x kv width x F16
        assertThat(Long.parseLong(v.get("stats_alloc_bytes_stock"))).isEqualTo(stock);
        assertThat(v.get("deltakv_alloc_bytes")).isEqualTo(v.get("deltakv_stats_alloc_bytes"));
        double alloc = Double.parseDouble(v.get("alloc_ratio"));
        assertThat(alloc).isBetween(0.28, 0.36); // at 16K the fixed rows (sink, window, one batch) still show
        assertThat(v.get("fill_ok")).isEqualTo("1");
        // 2049 tokens: sink 8, one prefill block of 1792 (180 centers), 249 raw; int4 latents 320 B a token
        assertThat(v.get("compressed")).isEqualTo("1792");
        assertThat(v.get("refs")).isEqualTo(String.valueOf(8 + 180));
        // the 180 centers keep exact rows and have no latent: 1612 latents and id sets
        assertThat(Long.parseLong(v.get("bytes_latents"))).isEqualTo(1612L * 27 * 320);
        assertThat(Long.parseLong(v.get("bytes_ref_ids"))).isEqualTo(1612L * 27 * 4 * 4);
        // by hand: 5 full layers hold every token; 27 compressed layers hold 437 exact rows, 1612 latents and ids
        double expected = (5.0 * 2049 * 4096 + 27.0 * (437 * 4096 + 1612 * 320 + 1612 * 16)) / (32.0 * 2049 * 4096);
        assertThat(Double.parseDouble(v.get("used_ratio"))).isCloseTo(expected, org.assertj.core.data.Offset.offset(1e-4));
    }
}
