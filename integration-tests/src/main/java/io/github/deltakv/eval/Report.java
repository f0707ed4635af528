package io.github.deltakv.eval;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/** The accuracy suite's Markdown table (and, through {@link Plot}, the PNG). */
final class Report {

    private Report() {
    }

    /** Wilson 95% interval of k successes in n. */
    static double[] wilson(int k, int n) {
        if (n == 0) {
            return new double[] {0, 0};
        }
        double z = 1.96;
        double p = (double) k / n;
        double d = 1 + z * z / n;
        double c = (p + z * z / (2 * n)) / d;
        double h = z * Math.sqrt(p * (1 - p) / n + z * z / (4.0 * n * n)) / d;
        return new double[] {Math.max(0, c - h), Math.min(1, c + h)};
    }

    static int[] total(AccuracySuite.Outcome o, Integer length) {
        int[] t = new int[2];
        o.cells().forEach((cell, c) -> {
            if (length == null || cell.endsWith("@" + length)) {
                t[0] += c[0];
                t[1] += c[1];
            }
        });
        return t;
    }

    static double memoryRatio(AccuracySuite.Outcome o, Integer length) {
        double used = 0;
        double f16 = 0;
        for (Map.Entry<Integer, double[]> e : o.memory().entrySet()) {
            if (length == null || e.getKey().equals(length)) {
                used += e.getValue()[0];
                f16 += e.getValue()[1];
            }
        }
        return f16 == 0 ? 0 : used / f16;
    }

    static void write(Path out, List<AccuracySuite.Outcome> outcomes, List<Integer> lengths,
                      List<AccuracySuite.Prompt> prompts, List<Integer> fullLayers, String args) throws IOException {
        StringBuilder md = new StringBuilder();
        md.append("# Accuracy against KV memory\n\n");
        md.append("Command: `AccuracySuite ").append(args).append("`\n\n");
        md.append("Greedy decoding, exact match; ").append(prompts.size()).append(" prompts; DeltaKV compressors calibrated ")
                .append("on the built-in text with full layers ").append(fullLayers).append(", top-k from the side file (2048). ")
                .append("Memory: KV bytes the prompt's tokens occupy, as a fraction of the F16 cache for the same tokens ")
                .append("(DeltaKV: its statistics by class; stock types: the bytes held, scaled by the type's size).\n\n");
        md.append("| config | length | KV memory vs F16 |");
        for (String task : AccuracySuite.tasks(prompts)) {
            md.append(' ').append(task).append(" |");
        }
        md.append(" all [95% CI] |\n|---|---|---|");
        AccuracySuite.tasks(prompts).forEach(t -> md.append("---|"));
        md.append("---|\n");
        for (Integer length : lengths) {
            for (AccuracySuite.Outcome o : outcomes) {
                md.append("| ").append(o.config()).append(" | ").append(length).append(" | ")
                        .append(String.format("%.1f%%", 100 * memoryRatio(o, length))).append(" |");
                for (String task : AccuracySuite.tasks(prompts)) {
                    int[] c = o.cells().getOrDefault(task + "@" + length, new int[2]);
                    md.append(' ').append(c[0]).append('/').append(c[1]).append(" |");
                }
                int[] t = total(o, length);
                double[] ci = wilson(t[0], t[1]);
                md.append(String.format(" %.0f%% [%.0f, %.0f] |%n", t[1] == 0 ? 0 : 100.0 * t[0] / t[1], 100 * ci[0], 100 * ci[1]));
            }
        }
        Files.writeString(out.resolve("accuracy.md"), md.toString());
        try {
            Plot.write(out.resolve("accuracy.png"), outcomes, lengths);
        } catch (LinkageError e) { // a runtime without java.desktop (a minimal JRE): the table only
            System.err.println("plot skipped: " + e);
        }
    }

}
