package io.github.deltakv.calibration;

import org.ejml.data.DMatrixRBlock;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.block.MatrixOps_DDRB;
import org.ejml.concurrency.EjmlConcurrency;
import org.ejml.dense.block.MatrixOps_MT_DDRB;
import org.ejml.dense.block.decomposition.hessenberg.TridiagonalDecompositionHouseholder_MT_DDRB;
import org.ejml.dense.row.CommonOps_DDRM;
import org.ejml.dense.row.CommonOps_MT_DDRM;
import org.ejml.dense.row.decomposition.eig.symm.SymmetricQrAlgorithm_DDRM;

import java.util.Arrays;
import java.util.Random;

/**
 * Principal directions of a set of vectors, the numerics by EJML, in double precision:
 * <ol>
 * <li>the covariance: the rows, centred on the mean of the first rows added, multiplied into {@code X^T X} a block
 * of rows at a time (EJML's multi-threaded inner product);</li>
 * <li>EJML's blocked, multi-threaded Householder reduction of the covariance C to a tridiagonal T = Q^T C Q, then
 * all the eigenvalues of T by EJML's implicit symmetric QR algorithm (no vectors: O(n^2));</li>
 * <li>only the top-d eigenvectors: of T by inverse iteration (a banded LU solve per step, O(n); re-orthogonalized
 * within clusters of close eigenvalues, as LAPACK's dstein), then turned back by Q (EJML's blocked product).</li>
 * </ol>
 * The reduction is the O(n^3) part (4n^3/3); the QR algorithm's eigenvector accumulation (about 6n^3 more),
 * which computes all n directions, is what this skips.
 */
final class Pca {

    /**
     * The threads EJML's multi-threaded operations use (its pool is shared by the process). Its default is the
     * common fork-join pool's parallelism, one less than the processors: one thread on a 2-core machine.
     */
    static void useThreads(int threads) {
        if (EjmlConcurrency.getMaxThreads() != threads) { // a new pool each time would leave the old one's threads
            EjmlConcurrency.setMaxThreads(threads);
        }
    }

    // rows centred and multiplied at a time: bounds the copy at BLOCK * n doubles
    private static final int BLOCK = 256;
    // inverse iteration: steps per vector, and the eigenvalue gap (relative to |T|) below which vectors are
    // re-orthogonalized against each other (LAPACK dstein's choices)
    private static final int STEPS = 3;
    private static final double CLUSTER = 1e-3;
    private static final double EPS = Math.ulp(1.0);

    private final int n;
    private final double[] shift; // the mean of the first rows added
    private final double[] sum;   // of x - shift
    private final DMatrixRMaj cross; // sum of (x - shift)(x - shift)^T, n x n
    private final float[] min;
    private final float[] max;
    private DMatrixRMaj block;   // scratch: a block of centred rows, and its X^T X
    private DMatrixRMaj product;
    private long rows;
    private boolean shifted;

    Pca(int n) {
        if (n < 1) {
            throw new IllegalArgumentException("width must be positive, got " + n);
        }
        this.n = n;
        this.shift = new double[n];
        this.sum = new double[n];
        this.cross = new DMatrixRMaj(n, n);
        this.min = new float[n];
        this.max = new float[n];
        Arrays.fill(min, Float.POSITIVE_INFINITY);
        Arrays.fill(max, Float.NEGATIVE_INFINITY);
    }

    /** Adds {@code count} rows of width n from {@code data} (row-major). */
    void add(float[] data, int count) {
        if (count < 0 || (long) count * n > data.length) {
            throw new IllegalArgumentException(count + " rows of width " + n + " need " + (long) count * n
                    + " values, got " + data.length);
        }
        if (count == 0) {
            return;
        }
        if (!shifted) {
            // centring on a first estimate of the mean keeps sum(x x^T)/rows - mean mean^T from cancelling
            for (int r = 0; r < count; r++) {
                for (int i = 0; i < n; i++) {
                    shift[i] += data[r * n + i];
                }
            }
            for (int i = 0; i < n; i++) {
                shift[i] /= count;
            }
            shifted = true;
        }
        if (block == null) {
            block = new DMatrixRMaj(BLOCK, n);
            product = new DMatrixRMaj(n, n);
        }
        for (int first = 0; first < count; first += BLOCK) {
            int m = Math.min(BLOCK, count - first);
            block.reshape(m, n);
            for (int r = 0; r < m; r++) {
                int o = (first + r) * n;
                for (int i = 0; i < n; i++) {
                    float x = data[o + i];
                    min[i] = Math.min(min[i], x);
                    max[i] = Math.max(max[i], x);
                    double c = x - shift[i];
                    block.data[r * n + i] = c;
                    sum[i] += c;
                }
            }
            CommonOps_MT_DDRM.multInner(block, product); // block^T block
            CommonOps_DDRM.addEquals(cross, product);
        }
        rows += count;
    }

    long rows() {
        return rows;
    }

    double[] mean() {
        double[] m = new double[n];
        for (int i = 0; i < n; i++) {
            m[i] = shift[i] + sum[i] / rows;
        }
        return m;
    }

    /**
     * All n eigenvalues of the covariance (descending) and, row by row, the unit eigenvectors of the first d of
     * them, each signed so that its largest-magnitude component (the first of equals) is positive.
     */
    record Result(double[] values, double[][] vectors) {

        /** Fraction of the variance the first d directions keep. */
        double explained(int d) {
            double top = 0;
            double all = 0;
            for (int i = 0; i < values.length; i++) {
                all += Math.max(0, values[i]);
                top += i < d ? Math.max(0, values[i]) : 0;
            }
            return all == 0 ? 1 : top / all;
        }
    }

    /**
     * The eigenvalues of the covariance and its top-d directions. Refused (IllegalStateException) when no rows were
     * added or all the rows are equal (no direction has variance). With fewer rows than the width the covariance
     * has rank below n: the directions past its rank have eigenvalue 0 (to rounding) and are an orthonormal
     * completion, deterministic but otherwise arbitrary.
     */
    Result decompose(int d) {
        if (d < 1 || d > n) {
            throw new IllegalArgumentException("directions must be within 1.." + n + ", got " + d);
        }
        if (rows == 0) {
            throw new IllegalStateException("no rows added: no principal directions");
        }
        boolean varies = false;
        for (int i = 0; i < n && !varies; i++) {
            varies = min[i] != max[i];
        }
        if (!varies) {
            throw new IllegalStateException("all " + rows + " rows are equal: no direction has variance");
        }

        // covariance = sum((x - s)(x - s)^T) / rows - (mean - s)(mean - s)^T
        DMatrixRMaj cov = cross.copy();
        CommonOps_DDRM.scale(1.0 / rows, cov);
        double[] delta = new double[n];
        for (int i = 0; i < n; i++) {
            delta[i] = sum[i] / rows;
        }
        DMatrixRMaj dm = DMatrixRMaj.wrap(n, 1, delta);
        CommonOps_DDRM.multAddTransB(-1, dm, dm, cov);

        // C = Q T Q^T, T tridiagonal (diagonal a, off-diagonal b)
        DMatrixRBlock blocked = MatrixOps_DDRB.convert(cov);
        TridiagonalDecompositionHouseholder_MT_DDRB tri = new TridiagonalDecompositionHouseholder_MT_DDRB();
        if (!tri.decompose(blocked)) {
            throw new IllegalStateException("the tridiagonal reduction of a " + n + "-wide covariance failed");
        }
        double[] a = new double[n];
        double[] b = new double[Math.max(0, n - 1)];
        tri.getDiagonal(a, b);

        SymmetricQrAlgorithm_DDRM qr = new SymmetricQrAlgorithm_DDRM();
        qr.setFastEigenvalues(true);
        if (!qr.process(n, a.clone(), b.clone())) {
            throw new IllegalStateException("the eigenvalues of a " + n + "-wide covariance did not converge");
        }
        double[] values = new double[n];
        for (int i = 0; i < n; i++) {
            values[i] = qr.getEigenvalue(i);
        }
        Arrays.sort(values);
        for (int i = 0; i < n / 2; i++) {
            double t = values[i];
            values[i] = values[n - 1 - i];
            values[n - 1 - i] = t;
        }

        // top-d eigenvectors of T (rows of z), then v = Q z, i.e. V = Z Q^T
        DMatrixRMaj z = new DMatrixRMaj(d, n);
        new InverseIteration(a, b).vectors(values, d, z);
        DMatrixRBlock q = tri.getQ(null, false);
        DMatrixRBlock vb = new DMatrixRBlock(d, n, q.blockLength);
        MatrixOps_MT_DDRB.multTransB(MatrixOps_DDRB.convert(z, q.blockLength), q, vb);
        DMatrixRMaj v = MatrixOps_DDRB.convert(vb, (DMatrixRMaj) null);

        double[][] vectors = new double[d][];
        for (int k = 0; k < d; k++) {
            vectors[k] = signed(Arrays.copyOfRange(v.data, k * n, (k + 1) * n));
        }
        return new Result(values, vectors);
    }

    // flips v so that its largest-magnitude component (the first of equals) is positive
    private static double[] signed(double[] v) {
        int big = 0;
        for (int i = 1; i < v.length; i++) {
            if (Math.abs(v[i]) > Math.abs(v[big])) {
                big = i;
            }
        }
        if (v[big] < 0) {
            for (int i = 0; i < v.length; i++) {
                v[i] = -v[i];
            }
        }
        return v;
    }

    /**
     * Eigenvectors of a symmetric tridiagonal matrix for given eigenvalues: per eigenvalue an LU factorization of
     * T - lambda I with partial pivoting (tiny pivots replaced by eps |T|), a fixed number of solves from a seeded
     * start, each re-orthogonalized against the vectors already found in the eigenvalue's cluster.
     */
    private static final class InverseIteration {

        private final int n;
        private final double[] a;
        private final double[] b;
        private final double norm; // |T|_1
        // the factorization: U's three diagonals, L's multipliers, and whether rows i and i+1 were swapped
        private final double[] u0;
        private final double[] u1;
        private final double[] u2;
        private final double[] l;
        private final boolean[] swapped;

        InverseIteration(double[] a, double[] b) {
            this.n = a.length;
            this.a = a;
            this.b = b;
            double t = 0;
            for (int i = 0; i < n; i++) {
                double row = Math.abs(a[i]) + (i > 0 ? Math.abs(b[i - 1]) : 0) + (i < n - 1 ? Math.abs(b[i]) : 0);
                t = Math.max(t, row);
            }
            this.norm = t;
            this.u0 = new double[n];
            this.u1 = new double[n];
            this.u2 = new double[n];
            this.l = new double[n];
            this.swapped = new boolean[n];
        }

        /** Rows 0..d-1 of {@code out}: unit eigenvectors for values[0..d-1] (descending). */
        void vectors(double[] values, int d, DMatrixRMaj out) {
            double ortol = CLUSTER * norm;
            double separate = 10 * EPS * norm;
            double tiny = EPS * Math.max(norm, Double.MIN_NORMAL);
            int cluster = 0;
            double previous = 0;
            double[] x = new double[n];
            for (int k = 0; k < d; k++) {
                double lambda = values[k];
                if (k > 0 && values[k - 1] - lambda > ortol) {
                    cluster = k;
                }
                if (k > cluster && previous - lambda < separate) {
                    lambda = previous - separate; // equal eigenvalues: distinct shifts, distinct factorizations
                }
                previous = lambda;
                factor(lambda, tiny);
                Random random = new Random(k + 1L);
                for (int i = 0; i < n; i++) {
                    x[i] = 2 * random.nextDouble() - 1;
                }
                for (int step = 0; step < STEPS; step++) {
                    solve(x);
                    for (int j = cluster; j < k; j++) {
                        double dot = 0;
                        int o = j * n;
                        for (int i = 0; i < n; i++) {
                            dot += x[i] * out.data[o + i];
                        }
                        for (int i = 0; i < n; i++) {
                            x[i] -= dot * out.data[o + i];
                        }
                    }
                    double s = 0;
                    for (int i = 0; i < n; i++) {
                        s += x[i] * x[i];
                    }
                    s = Math.sqrt(s);
                    if (s == 0 || !Double.isFinite(s)) {
                        throw new IllegalStateException("inverse iteration for eigenvalue " + values[k] + " failed");
                    }
                    for (int i = 0; i < n; i++) {
                        x[i] /= s;
                    }
                }
                System.arraycopy(x, 0, out.data, k * n, n);
            }
        }

        // P (T - lambda I) = L U, U upper triangular with two superdiagonals
        private void factor(double lambda, double tiny) {
            for (int i = 0; i < n; i++) {
                u0[i] = a[i] - lambda;
                u1[i] = i < n - 1 ? b[i] : 0;
                u2[i] = 0;
            }
            for (int i = 0; i < n - 1; i++) {
                double below = b[i]; // row i+1, column i
                if (Math.abs(below) > Math.abs(u0[i]) && Math.abs(below) >= tiny) {
                    // swap rows i and i+1, then eliminate column i from the new row i+1
                    double m = u0[i] / below;
                    double r0 = u0[i + 1];
                    double r1 = u1[i + 1];
                    double old1 = u1[i];
                    u0[i] = below;
                    u1[i] = r0;
                    u2[i] = r1;
                    u0[i + 1] = old1 - m * r0;
                    u1[i + 1] = -m * r1;
                    l[i] = m;
                    swapped[i] = true;
                } else {
                    u0[i] = atLeast(u0[i], tiny);
                    double m = below / u0[i];
                    u0[i + 1] -= m * u1[i];
                    l[i] = m;
                    swapped[i] = false;
                }
            }
            u0[n - 1] = atLeast(u0[n - 1], tiny);
        }

        // a pivot no smaller than tiny in magnitude: bounds the growth of a solve at 1 / (eps |T|)
        private static double atLeast(double pivot, double tiny) {
            return Math.abs(pivot) >= tiny ? pivot : pivot < 0 ? -tiny : tiny;
        }

        // x = (T - lambda I)^-1 x
        private void solve(double[] x) {
            for (int i = 0; i < n - 1; i++) {
                if (swapped[i]) {
                    double t = x[i];
                    x[i] = x[i + 1];
                    x[i + 1] = t;
                }
                x[i + 1] -= l[i] * x[i];
            }
            x[n - 1] /= u0[n - 1];
            if (n > 1) {
                x[n - 2] = (x[n - 2] - u1[n - 2] * x[n - 1]) / u0[n - 2];
            }
            for (int i = n - 3; i >= 0; i--) {
                x[i] = (x[i] - u1[i] * x[i + 1] - u2[i] * x[i + 2]) / u0[i];
            }
        }
    }
}
