package io.github.deltakv.eval;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import javax.imageio.ImageIO;

/** The accuracy suite's outputs: a Markdown table and a PNG plot of accuracy against KV memory. */
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
        plot(out.resolve("accuracy.png"), outcomes, lengths);
    }

    static void plot(Path png, List<AccuracySuite.Outcome> outcomes, List<Integer> lengths) throws IOException {
        int w = 900;
        int h = 560;
        int left = 80;
        int right = 220;
        int top = 50;
        int bottom = 70;
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, w, h);
        g.setColor(Color.BLACK);
        g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 16));
        g.drawString("Accuracy against KV memory (kvtiny, shared eval set)", left, 30);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        int pw = w - left - right;
        int ph = h - top - bottom;
        g.drawRect(left, top, pw, ph);
        for (int i = 0; i <= 10; i++) {
            int x = left + pw * i / 10;
            int y = top + ph - ph * i / 10;
            g.setColor(new Color(230, 230, 230));
            g.drawLine(x, top, x, top + ph);
            g.drawLine(left, y, left + pw, y);
            g.setColor(Color.BLACK);
            g.drawString(String.valueOf(i * 10), x - 8, top + ph + 18);
            g.drawString(String.valueOf(i * 10), left - 28, y + 4);
        }
        g.drawString("KV memory, % of the F16 cache", left + pw / 2 - 90, h - 25);
        g.drawString("accuracy %", 10, top - 10);
        Color[] colors = {new Color(31, 119, 180), new Color(255, 127, 14), new Color(44, 160, 44), new Color(214, 39, 40),
            new Color(148, 103, 189), new Color(140, 86, 75), new Color(227, 119, 194), new Color(127, 127, 127)};
        int[] shapes = {0, 1, 2};
        for (int li = 0; li < lengths.size(); li++) {
            for (int oi = 0; oi < outcomes.size(); oi++) {
                AccuracySuite.Outcome o = outcomes.get(oi);
                int[] t = total(o, lengths.get(li));
                if (t[1] == 0) {
                    continue;
                }
                double acc = (double) t[0] / t[1];
                double mem = Math.min(1, memoryRatio(o, lengths.get(li)));
                int x = left + (int) (pw * mem);
                int y = top + ph - (int) (ph * acc);
                g.setColor(colors[oi % colors.length]);
                double[] ci = wilson(t[0], t[1]);
                g.setStroke(new BasicStroke(1));
                g.drawLine(x, top + ph - (int) (ph * ci[0]), x, top + ph - (int) (ph * ci[1]));
                switch (shapes[li % shapes.length]) {
                    case 0 -> g.fillOval(x - 5, y - 5, 10, 10);
                    case 1 -> g.fillRect(x - 5, y - 5, 10, 10);
                    default -> g.fillPolygon(new int[] {x, x - 6, x + 6}, new int[] {y - 6, y + 5, y + 5}, 3);
                }
            }
        }
        int ly = top + 10;
        for (int oi = 0; oi < outcomes.size(); oi++) {
            g.setColor(colors[oi % colors.length]);
            g.fillRect(left + pw + 20, ly, 12, 12);
            g.setColor(Color.BLACK);
            g.drawString(outcomes.get(oi).config(), left + pw + 38, ly + 11);
            ly += 20;
        }
        ly += 10;
        String[] marks = {"circle", "square", "triangle"};
        for (int li = 0; li < lengths.size(); li++) {
            g.drawString(marks[li % 3] + ": " + lengths.get(li) + " tokens", left + pw + 20, ly + 11);
            ly += 18;
        }
        g.drawString("bars: 95% Wilson interval", left + pw + 20, ly + 11);
        g.dispose();
        ImageIO.write(img, "png", png.toFile());
    }
}
