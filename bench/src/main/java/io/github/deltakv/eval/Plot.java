package io.github.deltakv.eval;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

import javax.imageio.ImageIO;

/** The accuracy suite's PNG: accuracy against KV memory, one colour per configuration, one mark per length. */
final class Plot {

    private Plot() {
    }

    /** A white canvas with its title at (x, 30), ready to draw on in black, 12-point sans-serif. */
    static Graphics2D canvas(BufferedImage img, String title, int x) {
        Graphics2D g = img.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, img.getWidth(), img.getHeight());
        g.setColor(Color.BLACK);
        g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 16));
        g.drawString(title, x, 30);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        return g;
    }

    static void write(Path png, List<AccuracySuite.Outcome> outcomes, List<Integer> lengths) throws IOException {
        int w = 900;
        int h = 560;
        int left = 80;
        int right = 220;
        int top = 50;
        int bottom = 70;
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = canvas(img, "Accuracy against KV memory (kvtiny)", left);
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
            new Color(148, 103, 189), new Color(140, 86, 75), new Color(227, 119, 194), new Color(127, 127, 127),
            new Color(188, 189, 34), new Color(23, 190, 207), new Color(0, 0, 128), new Color(128, 0, 0),
            new Color(0, 128, 128), new Color(255, 215, 0), new Color(0, 0, 0), new Color(135, 206, 250)};
        int[] shapes = {0, 1, 2};
        for (int li = 0; li < lengths.size(); li++) {
            for (int oi = 0; oi < outcomes.size(); oi++) {
                AccuracySuite.Outcome o = outcomes.get(oi);
                int[] t = Report.total(o, lengths.get(li));
                if (t[1] == 0) {
                    continue;
                }
                double acc = (double) t[0] / t[1];
                double mem = Math.min(1, Report.memoryRatio(o, lengths.get(li)));
                int x = left + (int) (pw * mem);
                int y = top + ph - (int) (ph * acc);
                g.setColor(colors[oi % colors.length]);
                double[] ci = Report.wilson(t[0], t[1]);
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
