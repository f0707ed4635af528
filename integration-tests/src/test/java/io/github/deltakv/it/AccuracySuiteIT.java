package io.github.deltakv.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.github.deltakv.eval.AccuracySuite;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;

/**
 * The accuracy suite's CI subset: 2 prompts per task at 4K tokens from the shared eval set, the stock F16
 * cache against DeltaKV with a calibrated 32-dim int4 compressor; the table and the plot are written, F16
 * scores its measured 50% and DeltaKV loses at most one prompt. The larger runs (-Paccuracy) are committed
 * in results/accuracy-kvtiny.
 */
class AccuracySuiteIT {

    @Test
    void the_ci_subset_writes_its_table_and_plot_and_deltakv_keeps_accuracy() throws Exception {
        Path evaldata = TestModels.evaldata().resolve("kvtiny-eval-4k-16k.jsonl");
        assumeTrue(Files.isRegularFile(evaldata), "the shared eval set is not beside the repository");
        Path out = Path.of("target", "accuracy-ci");

        AccuracySuite.main(new String[] {"--model", TestModels.kvtiny().toString(), "--evaldata", evaldata.toString(),
            "--out", out.toString(), "--lengths", "4096", "--per-task", "2", "--configs", "f16,pca32-int4",
            "--threads", String.valueOf(TestModels.threads())});

        String table = Files.readString(out.resolve("accuracy.md"));
        assertThat(out.resolve("accuracy.png")).isRegularFile();
        assertThat(Files.size(out.resolve("accuracy.png"))).isGreaterThan(5000);
        // measured here: both 50% (key-value 2/2, single needle 2/2, multi-key 0/2, variable tracking 0/2);
        // DeltaKV may lose at most one of the 8 prompts
        int f16 = accuracy(table, "f16");
        assertThat(f16).isGreaterThanOrEqualTo(50);
        assertThat(accuracy(table, "pca32-int4")).isGreaterThanOrEqualTo(f16 - 13);
        assertThat(memory(table, "pca32-int4")).isLessThan(60);
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
