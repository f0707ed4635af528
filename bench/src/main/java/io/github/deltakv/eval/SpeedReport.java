package io.github.deltakv.eval;

import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import javax.imageio.ImageIO;

/**
 * The speed benchmark's table and plot, from the {@code speed-<single|batch>-<depth>-<config>.txt} files that
 * {@code llamacpp-patch/scripts/gpu-speed-bench.sh} writes on the GPU machine (key=value lines of
 * {@code deltakv-speed-bench}): {@code speed.md} (each measure, and its ratio to stock F16 from the same run)
 * and {@code speed.png} (decode tokens/s per configuration).
 *
 * <pre>SpeedReport RESULTS_DIR</pre>
 */
public final class SpeedReport {

    /**
     * Column order; a configuration without files in the folder gets no column. deltakv-noreuse: DeltaKV with
     * llama.cpp's graph reuse off. The others are variants that earlier builds could time and that lost (their files
     * stay where they explain a choice): deltakv-reference, the reference composition of ggml ops instead of the fused
     * kernels; deltakv-unroll1 and deltakv-unroll4, the rows kernel one (now the only one) or four element pairs at a
     * time; deltakv-sort, the selection's top-k by a full sort instead of the radix select.
     */
    static final List<String> ALL_CONFIGS = List.of("f16", "q8_0", "q4_0", "deltakv-reference", "deltakv-noreuse",
            "deltakv-unroll1", "deltakv-unroll4", "deltakv-sort", "deltakv");
    static final int[] DEPTHS = {32768, 131072};

    private SpeedReport() {
    }

    public static void main(String[] args) throws IOException {
        Path dir = Path.of(args[0]);
        List<String> configs = measured(dir);
        StringBuilder md = new StringBuilder("# Speed on the H200: stock llama.cpp against DeltaKV\n\n");
        md.append("Written by `SpeedReport` from the `speed-*.txt` files beside it (`gpu-speed-bench.sh`); the commands that ")
                .append("made them are in `RUNS.md` beside it. Ratios are to stock F16 in the same run. Prefill: one ")
                .append("sequence's prompt in one call (time to first token). Decode: the steps after the prompt, batch 1 ")
                .append("(p50 / p99 / max step; the first step after the prompt is where DeltaKV compresses it, so tokens/s ")
                .append("over all steps counts that step and steady tokens/s is 1000 / p50). `deltakv-noreuse`: DeltaKV ")
                .append("with llama.cpp's graph reuse off (`LLAMA_GRAPH_REUSE_DISABLE=1`). Variants an earlier build could ")
                .append("time, kept where they explain a choice and since deleted with the code: `deltakv-reference`, the ")
                .append("reference composition of ggml ops instead of the fused kernels; `deltakv-unroll1` / ")
                .append("`deltakv-unroll4`, the rows kernel one / four element pairs at a time (one is the kernel now); ")
                .append("`deltakv-sort`, the selection's top-k by a full sort instead of the radix select. Batch: the most sequences whose KV fits in the memory budget ")
                .append("of the run (the `budget_gib` line of each file), 64 steps, tokens/s over all sequences, over all ")
                .append("steps (the first compresses every sequence's prompt) and steady (sequences x 1000 / step p50). ")
                .append("Model: `deltakv-random-model --preset MODEL` (F16 weights) with a random compressor at the paper's ")
                .append("settings for it, its weights in bf16 as the paper's engine runs them (`gpu-speed-bench.sh`, ")
                .append("`DELTAKV_BENCH_MODEL`: llama31-8b unless `RUNS.md` says otherwise). Table and plot: ")
                .append("`mvn -B -q -Pspeed-report verify -pl bench ")
                .append("-Dspeed.dir=DIR`.\n\n");
        md.append("| measure | depth |");
        configs.forEach(c -> md.append(' ').append(c).append(" |"));
        md.append(" deltakv / f16 |\n|---|---|").append("---|".repeat(configs.size() + 1)).append('\n');
        for (int depth : DEPTHS) {
            row(md, dir, configs, "single", depth, "KV bytes allocated (GiB)", "kv_alloc_bytes", 1.0 / (1L << 30));
            row(md, dir, configs, "single", depth, "KV bytes used by the tokens (GiB; stock: allocated)", "kv_used_bytes", 1.0 / (1L << 30));
            row(md, dir, configs, "single", depth, "time to first token (s)", "prefill_s", 1);
            row(md, dir, configs, "single", depth, "decode steps, batch 1", "steps", 1);
            row(md, dir, configs, "single", depth, "decode tokens/s, batch 1, over all steps", "decode_tok_s", 1);
            row(md, dir, configs, "single", depth, "decode tokens/s, batch 1, steady (1000 / step p50)", STEADY, 1);
            row(md, dir, configs, "single", depth, "step ms p50", "step_ms_p50", 1);
            row(md, dir, configs, "single", depth, "step ms p99", "step_ms_p99", 1);
            row(md, dir, configs, "single", depth, "step ms max", "step_ms_max", 1);
            row(md, dir, configs, "single", depth, "decode steps that reused their graph", "decode_graphs_reused", 1);
            row(md, dir, configs, "batch", depth, "memory budget of the batch (GiB)", "budget_gib", 1);
            row(md, dir, configs, "batch", depth, "sequences in the budget", "seqs", 1);
            row(md, dir, configs, "batch", depth, "decode tokens/s, all sequences, over all steps", "decode_tok_s", 1);
            row(md, dir, configs, "batch", depth, "decode tokens/s, all sequences, steady", STEADY, 1);
            row(md, dir, configs, "batch", depth, "step ms p50", "step_ms_p50", 1);
        }
        Files.writeString(dir.resolve("speed.md"), md.toString());
        plot(dir, configs);
        System.out.println("wrote " + dir.resolve("speed.md") + " and " + dir.resolve("speed.png"));
    }

    /** The configurations with at least one file in the folder, in column order. */
    static List<String> measured(Path dir) throws IOException {
        List<String> configs = new ArrayList<>();
        for (String c : ALL_CONFIGS) {
            boolean any = false;
            for (int depth : DEPTHS) {
                any |= !read(dir, "single", depth, c).isEmpty() || !read(dir, "batch", depth, c).isEmpty();
            }
            if (any) {
                configs.add(c);
            }
        }
        return configs;
    }

    private static void row(StringBuilder md, Path dir, List<String> configs, String phase, int depth, String label,
            String key, double scale) throws IOException {
        Double[] v = new Double[configs.size()];
        boolean any = false;
        for (int i = 0; i < v.length; i++) {
            Map<String, String> m = read(dir, phase, depth, configs.get(i));
            String s = key.equals(STEADY) ? steady(m) : m.get(key);
            if (s == null && key.equals("kv_used_bytes") && !m.isEmpty()) {
                s = m.get("kv_alloc_bytes");
            }
            v[i] = s == null ? null : Double.parseDouble(s) * scale;
            any |= v[i] != null;
        }
        if (!any) {
            return;
        }
        md.append("| ").append(label).append(" | ").append(depth / 1024).append("K |");
        for (Double x : v) {
            md.append(' ').append(x == null ? "-" : format(x)).append(" |");
        }
        int f16 = configs.indexOf("f16");
        int deltakv = configs.indexOf("deltakv");
        md.append(f16 < 0 || deltakv < 0 || v[f16] == null || v[deltakv] == null ? " - |\n"
                : String.format(Locale.ROOT, " %.2fx |%n", v[deltakv] / v[f16]));
    }

    private static final String STEADY = "steady_tok_s";

    /** Tokens/s of a typical step: sequences x 1000 / p50 (null without a p50). */
    private static String steady(Map<String, String> m) {
        String p50 = m.get("step_ms_p50");
        double seqs = Double.parseDouble(m.getOrDefault("seqs", "1"));
        return p50 == null ? null : String.valueOf(seqs * 1000.0 / Double.parseDouble(p50));
    }

    static Map<String, String> read(Path dir, String phase, int depth, String config) throws IOException {
        Path f = dir.resolve("speed-" + phase + "-" + depth + "-" + config + ".txt");
        Map<String, String> m = new HashMap<>();
        if (Files.exists(f)) {
            for (String line : Files.readAllLines(f)) {
                int eq = line.indexOf('=');
                if (eq > 0) {
                    m.put(line.substring(0, eq), line.substring(eq + 1));
                }
            }
        }
        return m;
    }

    private static String format(double x) {
        return x >= 100 || x == Math.rint(x) ? String.format(Locale.ROOT, "%.0f", x) : String.format(Locale.ROOT, "%.2f", x);
    }

    /** Bars: steady decode tokens/s per configuration, batch 1 and the largest batch in the budget, at each depth. */
    private static void plot(Path dir, List<String> configs) throws IOException {
        String[][] groups = {{"single", "32768", "batch 1, 32K"}, {"single", "131072", "batch 1, 128K"},
            {"batch", "32768", "max batch, 32K"}, {"batch", "131072", "max batch, 128K"}};
        double max = 1;
        double[][] v = new double[groups.length][configs.size()];
        for (int gi = 0; gi < groups.length; gi++) {
            for (int ci = 0; ci < configs.size(); ci++) {
                Map<String, String> m = read(dir, groups[gi][0], Integer.parseInt(groups[gi][1]), configs.get(ci));
                String s = steady(m);
                v[gi][ci] = s == null ? -1 : Double.parseDouble(s);
                max = Math.max(max, v[gi][ci]);
            }
        }
        int w = 960;
        int h = 520;
        int left = 70;
        int top = 50;
        int pw = w - left - 180;
        int ph = h - top - 80;
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = Plot.canvas(img, "Steady decode tokens/s on one H200 (Llama-3.1-8B shape, random weights)", left);
        double step = Math.pow(10, Math.floor(Math.log10(max)));
        double axisMax = Math.ceil(max / step) * step;
        for (double y = 0; y <= axisMax + 1e-9; y += step / 2) {
            int py = top + ph - (int) (ph * y / axisMax);
            g.setColor(new Color(230, 230, 230));
            g.drawLine(left, py, left + pw, py);
            g.setColor(Color.BLACK);
            g.drawString(String.format(Locale.ROOT, "%.0f", y), left - 40, py + 4);
        }
        g.drawRect(left, top, pw, ph);
        Map<String, Color> colors = Map.of("f16", new Color(31, 119, 180), "q8_0", new Color(255, 127, 14),
                "q4_0", new Color(44, 160, 44), "deltakv-reference", new Color(230, 150, 150),
                "deltakv-noreuse", new Color(190, 120, 200), "deltakv-unroll1", new Color(140, 86, 75),
                "deltakv-unroll4", new Color(188, 189, 34), "deltakv-sort", new Color(127, 127, 127),
                "deltakv", new Color(214, 39, 40));
        int gw = pw / groups.length;
        int bw = (gw - 30) / Math.max(1, configs.size());
        for (int gi = 0; gi < groups.length; gi++) {
            int gx = left + gi * gw + 15;
            for (int ci = 0; ci < configs.size(); ci++) {
                if (v[gi][ci] < 0) {
                    continue;
                }
                int bh = (int) (ph * v[gi][ci] / axisMax);
                g.setColor(colors.get(configs.get(ci)));
                g.fillRect(gx + ci * bw, top + ph - bh, bw - 4, bh);
                g.setColor(Color.BLACK);
                g.drawString(String.format(Locale.ROOT, "%.0f", v[gi][ci]), gx + ci * bw, top + ph - bh - 4);
            }
            g.drawString(groups[gi][2], gx, top + ph + 20);
        }
        for (int ci = 0; ci < configs.size(); ci++) {
            g.setColor(colors.get(configs.get(ci)));
            g.fillRect(left + pw + 20, top + 10 + 20 * ci, 12, 12);
            g.setColor(Color.BLACK);
            g.drawString(configs.get(ci), left + pw + 38, top + 21 + 20 * ci);
        }
        g.dispose();
        ImageIO.write(img, "png", dir.resolve("speed.png").toFile());
    }
}
