package io.github.deltakv.calibration;

/**
 * The solver {@link Pca} had before EJML, kept as the reference its results are checked against: the mean and
 * covariance accumulated row by row in scalar loops, then the eigenvectors of the covariance by cyclic Jacobi
 * rotations (O(n^3) per sweep, all n directions; a 1024-wide covariance of 7936 rows took 174 s on a shared 2-vCPU
 * machine, PcaBench --solver jacobi --width 1024, where {@link Pca} takes under 2 s).
 */
final class JacobiReference {

    private final int n;
    private final double[] sum;
    private final double[] cross; // upper triangle of sum of x x^T, row-major n x n
    private long rows;

    JacobiReference(int n) {
        this.n = n;
        this.sum = new double[n];
        this.cross = new double[n * n];
    }

    /** Adds {@code count} rows of width n from {@code data} (row-major). */
    void add(float[] data, int count) {
        for (int r = 0; r < count; r++) {
            int o = r * n;
            for (int i = 0; i < n; i++) {
                double xi = data[o + i];
                sum[i] += xi;
                int base = i * n;
                for (int j = i; j < n; j++) {
                    cross[base + j] += xi * data[o + j];
                }
            }
        }
        rows += count;
    }

    double[] mean() {
        double[] m = new double[n];
        for (int i = 0; i < n; i++) {
            m[i] = sum[i] / rows;
        }
        return m;
    }

    /** Eigenvalues (descending) and, row by row, the matching unit eigenvectors (signs as the rotations leave them). */
    Pca.Result decompose() {
        double[] m = mean();
        double[][] a = new double[n][n];
        for (int i = 0; i < n; i++) {
            for (int j = i; j < n; j++) {
                double c = cross[i * n + j] / rows - m[i] * m[j];
                a[i][j] = c;
                a[j][i] = c;
            }
        }
        double[][] v = new double[n][n];
        for (int i = 0; i < n; i++) {
            v[i][i] = 1;
        }
        for (int sweep = 0; sweep < 100; sweep++) {
            double off = 0;
            double diag = 0;
            for (int p = 0; p < n; p++) {
                diag += a[p][p] * a[p][p];
                for (int q = p + 1; q < n; q++) {
                    off += a[p][q] * a[p][q];
                }
            }
            if (off <= 1e-24 * Math.max(diag, 1e-300)) {
                break;
            }
            for (int p = 0; p < n; p++) {
                for (int q = p + 1; q < n; q++) {
                    if (Math.abs(a[p][q]) > 1e-300) {
                        rotate(a, v, p, q);
                    }
                }
            }
        }
        Integer[] order = new Integer[n];
        for (int i = 0; i < n; i++) {
            order[i] = i;
        }
        java.util.Arrays.sort(order, (x, y) -> Double.compare(a[y][y], a[x][x]));
        double[] values = new double[n];
        double[][] vectors = new double[n][n];
        for (int k = 0; k < n; k++) {
            values[k] = a[order[k]][order[k]];
            for (int i = 0; i < n; i++) {
                vectors[k][i] = v[i][order[k]];
            }
        }
        return new Pca.Result(values, vectors);
    }

    // one Jacobi rotation zeroing a[p][q] (a symmetric); v accumulates the rotations (columns = eigenvectors)
    private void rotate(double[][] a, double[][] v, int p, int q) {
        double theta = (a[q][q] - a[p][p]) / (2 * a[p][q]);
        double t = Math.signum(theta) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        if (theta == 0) {
            t = 1;
        }
        double c = 1 / Math.sqrt(t * t + 1);
        double s = t * c;
        for (int k = 0; k < n; k++) {
            double akp = a[k][p];
            double akq = a[k][q];
            a[k][p] = c * akp - s * akq;
            a[k][q] = s * akp + c * akq;
        }
        for (int k = 0; k < n; k++) {
            double apk = a[p][k];
            double aqk = a[q][k];
            a[p][k] = c * apk - s * aqk;
            a[q][k] = s * apk + c * aqk;
        }
        for (int k = 0; k < n; k++) {
            double vkp = v[k][p];
            double vkq = v[k][q];
            v[k][p] = c * vkp - s * vkq;
            v[k][q] = s * vkp + c * vkq;
        }
    }
}
