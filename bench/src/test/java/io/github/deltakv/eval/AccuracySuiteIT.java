package io.github.deltakv.eval;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;

/**
 * The accuracy suite's CI subset at 4K tokens: 2 prompts per task from the shared eval set and 1 per task (3 turns
 * of the multi-turn one) from our generator; the stock F16 cache, DeltaKV with one full layer and a calibrated
 * 32-dim F16 compressor rebuilding every compressed token, and the sink + recent-window eviction baseline at the
 * memory DeltaKV measured. The table and the plot are written; thresholds from the measured numbers. The larger
 * runs (-Paccuracy) are committed in results/accuracy-kvtiny.
 */
class AccuracySuiteIT {

    @Test
    void the_ci_subset_writes_its_table_and_plot_and_deltakv_keeps_accuracy_where_eviction_loses_it() throws Exception {
        Path evaldata = TestModels.evaldata().resolve("kvtiny-eval-4k-16k.jsonl");
        assumeTrue(Files.isRegularFile(evaldata), "the shared eval set is not beside the repository");
        Path out = Path.of("target", "accuracy-ci");

        int exitCode = AccuracySuite.execute("--model", TestModels.kvtiny().toString(), "--evaldata", evaldata.toString(),
            "--out", out.toString(), "--lengths", "4096", "--per-task", "2", "--generated", "1", "--seed", "20261128",
            "--configs", "f16,pca32-f16-full0-topall,evict", "--threads", String.valueOf(TestModels.threads()));

        assertThat(exitCode).isZero();

        String table = Files.readString(out.resolve("accuracy.md"));
        assertThat(out.resolve("accuracy.png")).isRegularFile();
        assertThat(Files.size(out.resolve("accuracy.png"))).isGreaterThan(5000);
        // measured here (15 prompts): F16 60%, DeltaKV 60% (the same answers) at 40.1% of F16's bytes, eviction at
        // 41.4%: 13%; DeltaKV may lose one prompt, eviction must stay well below it
        int f16 = accuracy(table, "f16");
        int deltaKv = accuracy(table, "pca32-f16-full0-topall");
        assertThat(f16).isGreaterThanOrEqualTo(53);
        assertThat(deltaKv).isGreaterThanOrEqualTo(f16 - 7);
        assertThat(memory(table, "pca32-f16-full0-topall")).isLessThan(42);
        assertThat(accuracy(table, "evict@pca32-f16-full0-topall")).isLessThanOrEqualTo(deltaKv - 20);
        assertThat(memory(table, "evict@pca32-f16-full0-topall")).isBetween(38.0, 45.0);
    }

    static int accuracy(String table, String config) {
        Matcher m = Pattern.compile("\\| " + Pattern.quote(config) + " \\| 4096 \\| [0-9.]+% \\|.* (\\d+)% \\[").matcher(table);
        assertThat(m.find()).as(table).isTrue();
        return Integer.parseInt(m.group(1));
    }

    static double memory(String table, String config) {
        Matcher m = Pattern.compile("\\| " + Pattern.quote(config) + " \\| 4096 \\| ([0-9.]+)% \\|").matcher(table);
        assertThat(m.find()).as(table).isTrue();
        return Double.parseDouble(m.group(1));
    }
}
