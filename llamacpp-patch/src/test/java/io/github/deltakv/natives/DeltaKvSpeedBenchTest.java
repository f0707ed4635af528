package io.github.deltakv.natives;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The speed benchmark's tool on CPU with kvtiny (speed numbers only mean something on the GPU machine:
 * results/speed-h200): for the stock cache and DeltaKV it reads prompts of the asked depth into the asked
 * number of sequences, times every decode step, and reports the bytes; DeltaKV's tokens use fewer.
 */
class DeltaKvSpeedBenchTest {

    @TempDir
    Path tmp;

    @Test
    void the_bench_times_prefill_and_every_step_for_the_stock_cache_and_deltakv() throws Exception {
        Path model = NativeTools.model("kvtiny-retrieval-q8_0.gguf");
        Path side = tmp.resolve("side.gguf");
        NativeTools.Run made = NativeTools.run(tmp, "deltakv-sidefile", "write", model.toString(), side.toString(),
                "--kind", "random", "--latent-dim", "64", "--bits", "4", "--full-layers", "0,4");
        assertThat(made.exit()).as(made.output()).isZero();

        NativeTools.Run stock = NativeTools.run(tmp, "deltakv-speed-bench", model.toString(), "--kv", "q8_0", "--depth",
                "512", "--steps", "12", "--seqs", "2", "--gpu", "0", "--threads", "2");
        NativeTools.Run dkv = NativeTools.run(tmp, "deltakv-speed-bench", model.toString(), "--deltakv", side.toString(),
                "--depth", "512", "--steps", "12", "--seqs", "2", "--gpu", "0", "--threads", "2");

        assertThat(stock.exit()).as(stock.output()).isZero();
        assertThat(dkv.exit()).as(dkv.output()).isZero();
        Map<String, String> s = DeltaKvMemoryBenchTest.values(stock.output());
        Map<String, String> d = DeltaKvMemoryBenchTest.values(dkv.output());
        assertThat(s.get("config")).isEqualTo("q8_0");
        assertThat(d.get("config")).isEqualTo("deltakv");
        for (Map<String, String> v : new Map[] {s, d}) {
            assertThat(v.get("seqs")).isEqualTo("2");
            assertThat(Double.parseDouble(v.get("prefill_s"))).isPositive();
            assertThat(Double.parseDouble(v.get("prefill_tok_s"))).isCloseTo(512 / Double.parseDouble(v.get("prefill_s")),
                    org.assertj.core.data.Percentage.withPercentage(1));
            double[] steps = Arrays.stream(v.get("step_ms_all").split(",")).mapToDouble(Double::parseDouble).toArray();
            assertThat(steps).hasSize(12);
            double p50 = Double.parseDouble(v.get("step_ms_p50"));
            assertThat(p50).isPositive().isLessThanOrEqualTo(Double.parseDouble(v.get("step_ms_max")));
            assertThat(Double.parseDouble(v.get("step_ms_max"))).isEqualTo(Arrays.stream(steps).max().orElseThrow(),
                    org.assertj.core.data.Offset.offset(0.01));
            // 2 sequences x 12 steps over the summed step times
            double tokS = 1000.0 * 24 / Arrays.stream(steps).sum(); // printed with one decimal
            assertThat(Double.parseDouble(v.get("decode_tok_s")))
                    .isCloseTo(tokS, org.assertj.core.data.Offset.offset(Math.max(0.06, 0.02 * tokS)));
            // the first step builds the decode graph (DeltaKV's: its first compression changes the plan); later ones reuse
            // it. DeltaKV: while a decode block is compressed a layer a step its tokens stay raw, so the two
            // sequences' exact rows cross a 256-row padding boundary (512 -> 768) and come back at its commit: two more
            assertThat(Integer.parseInt(v.get("decode_graphs_reused"))).as(v.toString())
                    .isBetween(v == d ? 8 : 9, 11);
        }
        // DeltaKV: both sequences' tokens held, in fewer bytes than their F16 size
        assertThat(Long.parseLong(d.get("kv_used_bytes"))).isLessThan(Long.parseLong(d.get("kv_used_stock_bytes")));
        assertThat(Long.parseLong(d.get("kv_used_stock_bytes"))).isEqualTo(2L * (512 + 12) * 6 * 256 * 2);
    }
}
