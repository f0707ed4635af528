package io.github.deltakv.eval;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

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

    /**
     * The outcomes back from tables this class wrote (to merge runs: lengths measured separately, one plot). A
     * configuration in several tables keeps its first cell for each length.
     */
    static List<AccuracySuite.Outcome> read(List<Path> tables) throws IOException {
        Map<String, AccuracySuite.Outcome> byConfig = new LinkedHashMap<>();
        for (Path table : tables) {
            List<String> tasks = null;
            for (String line : Files.readAllLines(table)) {
                String[] c = line.split("\\s*\\|\\s*");
                if (line.startsWith("| config |")) {
                    tasks = List.of(c).subList(4, c.length - 1);
                } else if (tasks != null && line.startsWith("| ") && !line.startsWith("|---")) {
                    AccuracySuite.Outcome o = byConfig.computeIfAbsent(c[1],
                            k -> new AccuracySuite.Outcome(k, new LinkedHashMap<>(), new LinkedHashMap<>()));
                    int length = Integer.parseInt(c[2]);
                    if (o.memory().putIfAbsent(length, new double[] {Double.parseDouble(c[3].replace("%", "")), 100}) != null) {
                        continue;
                    }
                    for (int t = 0; t < tasks.size(); t++) {
                        String[] kn = c[4 + t].split("/");
                        o.cells().put(tasks.get(t) + "@" + length, new int[] {Integer.parseInt(kn[0]), Integer.parseInt(kn[1])});
                    }
                }
            }
        }
        return new ArrayList<>(byConfig.values());
    }

    /** The tasks of the outcomes' cells, in order. */
    static TreeSet<String> tasks(List<AccuracySuite.Outcome> outcomes) {
        TreeSet<String> tasks = new TreeSet<>();
        outcomes.forEach(o -> o.cells().keySet().forEach(cell -> tasks.add(cell.substring(0, cell.indexOf('@')))));
        return tasks;
    }

    static void write(Path out, List<AccuracySuite.Outcome> outcomes, List<Integer> lengths, String prompts,
                      List<Integer> fullLayers, String args) throws IOException {
        TreeSet<String> tasks = tasks(outcomes);
        StringBuilder md = new StringBuilder();
        md.append("# Accuracy against KV memory\n\n");
        md.append("Command: `AccuracySuite ").append(args).append("`\n\n");
        md.append("Greedy decoding, exact match; ").append(prompts).append(". DeltaKV `pca<d>-<int4|int8|f16>`: ")
                .append("a compressor calibrated on the built-in text, full layers ").append(fullLayers)
                .append(" unless `-full<a.b>` says otherwise, decode top-k from the side file (2048) unless `-top<k|all>`; ")
                .append("`evict-<p>`: the stock F16 cache keeping the first ").append(AccuracySuite.EVICT_SINK)
                .append(" and the most recent positions, p% of the length in all (`evict@<config>`: the share that DeltaKV ")
                .append("configuration measured). Memory: KV bytes of the prompt's and answer's tokens as a ")
                .append("fraction of an F16 cache holding them all (DeltaKV: its statistics by class; stock types: the ")
                .append("bytes held, scaled by the type's size; eviction: the bytes held over the bytes the same cells ")
                .append("would take for every position).\n\n");
        md.append("| config | length | KV memory vs F16 |");
        for (String task : tasks) {
            md.append(' ').append(task).append(" |");
        }
        md.append(" all [95% CI] |\n|---|---|---|");
        tasks.forEach(t -> md.append("---|"));
        md.append("---|\n");
        for (Integer length : lengths) {
            for (AccuracySuite.Outcome o : outcomes) {
                md.append("| ").append(o.config()).append(" | ").append(length).append(" | ")
                        .append(String.format("%.1f%%", 100 * memoryRatio(o, length))).append(" |");
                for (String task : tasks) {
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
