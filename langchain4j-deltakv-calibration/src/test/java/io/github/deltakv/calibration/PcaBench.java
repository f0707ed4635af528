package io.github.deltakv.calibration;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Random;

/**
 * Times the PCA of a calibration (not a test): per layer, the rows added (covariance) and the decomposition (top
 * {@code --dim} directions), for the EJML solver ({@link Pca}) or the Jacobi one it replaced
 * ({@link JacobiReference}, all directions). The defaults are a Llama-3.1-8B-shaped calibration: 32 layers,
 * {@code [K_pre | V]} 2048 wide (8 KV heads of 128, twice), 7936 residuals per layer (8192 tokens less the sink and
 * the recent window), latent width 512 (the paper's for that model). The rows are synthetic residuals with a
 * falling spectrum: z with column scales from 1 to 0.03, turned by two random reflections.
 *
 * <pre>
 * mvn -B -q -pl langchain4j-deltakv-calibration test-compile exec:java -Dexec.classpathScope=test \
 *     -Dexec.mainClass=io.github.deltakv.calibration.PcaBench \
 *     -Dexec.args="--solver ejml --layers 32 --width 2048 --rows 7936 --dim 512 --csv pca-ejml.csv"
 * </pre>
 */
public final class PcaBench {

    public static void main(String[] args) throws IOException {
        String solver = "ejml";
        int layers = 32;
        int width = 2048;
        int rows = 7936;
        int dim = 512;
        Path csv = null;
        int threads = Runtime.getRuntime().availableProcessors();
        for (int i = 0; i < args.length; i += 2) {
            String value = args[i + 1];
            switch (args[i]) {
                case "--solver" -> solver = value;
                case "--layers" -> layers = Integer.parseInt(value);
                case "--width" -> width = Integer.parseInt(value);
                case "--rows" -> rows = Integer.parseInt(value);
                case "--dim" -> dim = Integer.parseInt(value);
                case "--csv" -> csv = Path.of(value);
                case "--threads" -> threads = Integer.parseInt(value);
                default -> throw new IllegalArgumentException("unknown option " + args[i]
                        + " (--solver ejml|jacobi, --layers, --width, --rows, --dim, --threads, --csv)");
            }
        }
        if (!solver.equals("ejml") && !solver.equals("jacobi")) {
            throw new IllegalArgumentException("--solver ejml or jacobi, got " + solver);
        }
        if (dim < 1 || dim > width) {
            throw new IllegalArgumentException("--dim must be within 1..width, got " + dim);
        }
        Pca.useThreads(threads); // as the calibrator does with its threads setting
        System.out.printf(Locale.ROOT, "%s: %d layers, width %d, %d rows each, %s directions, %d processors, %d threads%n",
                solver, layers, width, rows, solver.equals("ejml") ? "top " + dim : "all " + width,
                Runtime.getRuntime().availableProcessors(), threads);
        StringBuilder table = new StringBuilder("solver,layer,width,rows,dim,add_s,decompose_s\n");
        double addTotal = 0;
        double decomposeTotal = 0;
        for (int layer = 0; layer < layers; layer++) {
            float[] data = residuals(width, rows, layer);
            long t0 = System.nanoTime();
            double top;
            long t1;
            if (solver.equals("ejml")) {
                Pca pca = new Pca(width);
                pca.add(data, rows);
                t1 = System.nanoTime();
                top = pca.decompose(dim).values()[0];
            } else {
                JacobiReference pca = new JacobiReference(width);
                pca.add(data, rows);
                t1 = System.nanoTime();
                top = pca.decompose().values()[0];
            }
            long t2 = System.nanoTime();
            double add = (t1 - t0) / 1e9;
            double decompose = (t2 - t1) / 1e9;
            addTotal += add;
            decomposeTotal += decompose;
            System.out.printf(Locale.ROOT, "layer %2d: add %6.2f s, decompose %7.2f s (top eigenvalue %.4f)%n", layer,
                    add, decompose, top);
            table.append(String.format(Locale.ROOT, "%s,%d,%d,%d,%d,%.3f,%.3f%n", solver, layer, width, rows, dim,
                    add, decompose));
        }
        System.out.printf(Locale.ROOT, "total: add %.1f s, decompose %.1f s, both %.1f s%n", addTotal, decomposeTotal,
                addTotal + decomposeTotal);
        if (csv != null) {
            Files.writeString(csv, table);
        }
    }

    // rows x = H2 H1 diag(s) z, z standard normal, s_j = 0.03^(j / n), H1 and H2 random reflections
    static float[] residuals(int n, int count, long seed) {
        Random random = new Random(seed);
        double[] u1 = unit(n, random);
        double[] u2 = unit(n, random);
        float[] data = new float[count * n];
        double[] x = new double[n];
        for (int r = 0; r < count; r++) {
            for (int j = 0; j < n; j++) {
                x[j] = random.nextGaussian() * Math.pow(0.03, (double) j / n);
            }
            reflect(x, u1);
            reflect(x, u2);
            for (int j = 0; j < n; j++) {
                data[r * n + j] = (float) x[j];
            }
        }
        return data;
    }

    private static double[] unit(int n, Random random) {
        double[] u = new double[n];
        double norm = 0;
        for (int i = 0; i < n; i++) {
            u[i] = random.nextGaussian();
            norm += u[i] * u[i];
        }
        for (int i = 0; i < n; i++) {
            u[i] /= Math.sqrt(norm);
        }
        return u;
    }

    // x = (I - 2 u u^T) x
    private static void reflect(double[] x, double[] u) {
        double dot = 0;
        for (int i = 0; i < x.length; i++) {
            dot += u[i] * x[i];
        }
        for (int i = 0; i < x.length; i++) {
            x[i] -= 2 * dot * u[i];
        }
    }
}
