package io.github.deltakv.calibration;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

class PcaTest {

    /**
     * Rows x = mean + R diag(s) z with z standard normal, R a random rotation and s falling geometrically from 1 to
     * 0.03: a covariance with random directions and well-separated eigenvalues, 1 down to about 0.001.
     */
    static float[] rows(int n, int count, long seed) {
        Random random = new Random(seed);
        double[][] rotation = randomRotation(n, random);
        double[] mean = new double[n];
        for (int i = 0; i < n; i++) {
            mean[i] = random.nextGaussian();
        }
        float[] data = new float[count * n];
        double[] z = new double[n];
        for (int r = 0; r < count; r++) {
            for (int j = 0; j < n; j++) {
                z[j] = random.nextGaussian() * Math.pow(0.03, (double) j / n);
            }
            for (int i = 0; i < n; i++) {
                double x = mean[i];
                for (int j = 0; j < n; j++) {
                    x += rotation[i][j] * z[j];
                }
                data[r * n + i] = (float) x;
            }
        }
        return data;
    }

    // Gram-Schmidt on Gaussian columns
    private static double[][] randomRotation(int n, Random random) {
        double[][] q = new double[n][n]; // q[j] = column j
        for (int j = 0; j < n; j++) {
            for (int i = 0; i < n; i++) {
                q[j][i] = random.nextGaussian();
            }
            for (int pass = 0; pass < 2; pass++) {
                for (int k = 0; k < j; k++) {
                    double dot = dot(q[j], q[k]);
                    for (int i = 0; i < n; i++) {
                        q[j][i] -= dot * q[k][i];
                    }
                }
            }
            double norm = Math.sqrt(dot(q[j], q[j]));
            for (int i = 0; i < n; i++) {
                q[j][i] /= norm;
            }
        }
        double[][] rotation = new double[n][n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                rotation[i][j] = q[j][i];
            }
        }
        return rotation;
    }

    private static double dot(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            s += a[i] * b[i];
        }
        return s;
    }

    @ParameterizedTest
    @ValueSource(ints = {16, 64, 256})
    void equalsTheJacobiSolver(int n) {
        int count = 4 * n + 100;
        Solved both = solve(rows(n, count, n), n, n);
        Pca.Result got = both.got();
        Pca.Result want = both.want();

        assertThat(both.pca().rows()).isEqualTo(count);
        assertThat(both.pca().mean()).containsExactly(both.reference().mean(), within(1e-12));
        assertThat(got.values()).hasSize(n);
        assertThat(got.vectors()).hasNumberOfRows(n);
        for (int k = 0; k < n; k++) {
            assertThat(got.values()[k]).as("eigenvalue %d", k)
                    .isCloseTo(want.values()[k], within(1e-6 * Math.abs(want.values()[k])));
            // well-separated eigenvalues: each eigenvector is the same up to its sign
            assertThat(Math.abs(dot(got.vectors()[k], want.vectors()[k]))).as("eigenvector %d", k)
                    .isCloseTo(1, within(1e-6));
        }
        for (int d : new int[] {1, n / 4, n / 2, n}) {
            assertThat(got.explained(d)).isCloseTo(want.explained(d), within(1e-9));
        }
    }

    @Test
    void theTopSubspaceEqualsTheJacobiSolvers() {
        int n = 64;
        int d = 16;
        Solved both = solve(rows(n, 400, 7), n, d);
        Pca.Result top = both.got();
        double[][] got = top.vectors();
        double[][] want = both.want().vectors();
        assertThat(got).hasNumberOfRows(d);
        assertThat(top.values()).hasSize(n); // all the eigenvalues, only d directions

        // the projectors onto the first d directions, sum_k v_k v_k^T, are equal (whatever the signs)
        assertThat(projectorDistance(got, want, d)).isLessThan(1e-9);
    }

    @Test
    void vectorsAreOrthonormalAndSignedByTheirLargestComponent() {
        int n = 48;
        Pca pca = new Pca(n);
        pca.add(rows(n, 300, 3), 300);
        Pca.Result result = pca.decompose(n);

        assertOrthonormal(result.vectors());
        for (int a = 0; a < n; a++) {
            double[] v = result.vectors()[a];
            int big = 0;
            for (int i = 1; i < n; i++) {
                big = Math.abs(v[i]) > Math.abs(v[big]) ? i : big;
            }
            assertThat(v[big]).isPositive();
            if (a > 0) {
                assertThat(result.values()[a]).isLessThanOrEqualTo(result.values()[a - 1]);
            }
        }
    }

    @Test
    void rowsAddedInPiecesGiveTheSameResultAsAllAtOnce() {
        int n = 8;
        int count = 2500; // more than one block of rows
        float[] data = rows(n, count, 5);
        Pca once = new Pca(n);
        once.add(data, count);
        Pca pieces = new Pca(n);
        int[] sizes = {1, 1023, 1200, 276};
        for (int first = 0, p = 0; p < sizes.length; first += sizes[p], p++) {
            float[] piece = new float[sizes[p] * n];
            System.arraycopy(data, first * n, piece, 0, piece.length);
            pieces.add(piece, sizes[p]);
        }

        assertThat(pieces.rows()).isEqualTo(count);
        assertThat(pieces.mean()).containsExactly(once.mean(), within(1e-12));
        Pca.Result a = once.decompose(n);
        Pca.Result b = pieces.decompose(n);
        for (int k = 0; k < n; k++) {
            assertThat(b.values()[k]).isCloseTo(a.values()[k], within(1e-12));
            assertThat(b.vectors()[k]).containsExactly(a.vectors()[k], within(1e-9));
        }
    }

    @Test
    void pointsOnALineHaveOneDirection() {
        // x = (1, 2, 3, -1) t + (5, 5, 5, 5), t = 0..9: all the variance along (1, 2, 3, -1) / sqrt(15)
        int n = 4;
        float[] data = new float[10 * n];
        double[] direction = {1, 2, 3, -1};
        for (int t = 0; t < 10; t++) {
            for (int i = 0; i < n; i++) {
                data[t * n + i] = (float) (direction[i] * t + 5);
            }
        }
        Pca pca = new Pca(n);
        pca.add(data, 10);
        Pca.Result result = pca.decompose(1);

        assertThat(pca.mean()).containsExactly(new double[] {9.5, 14, 18.5, 0.5}, within(1e-12));
        // var(t) = 8.25 for t = 0..9, times |direction|^2 = 15
        assertThat(result.values()[0]).isCloseTo(8.25 * 15, within(1e-9));
        assertThat(result.values()[1]).isCloseTo(0, within(1e-9));
        double norm = Math.sqrt(15);
        assertThat(result.vectors()[0]).containsExactly(new double[] {1 / norm, 2 / norm, 3 / norm, -1 / norm},
                within(1e-12));
        assertThat(result.explained(1)).isCloseTo(1, within(1e-12));
    }

    @Test
    void theTopDirectionsAreTheFirstOfAllDirections() {
        int n = 96;
        Pca pca = new Pca(n);
        pca.add(rows(n, 500, 11), 500);
        Pca.Result all = pca.decompose(n);
        Pca.Result top = pca.decompose(10);

        assertThat(top.values()).containsExactly(all.values());
        assertThat(top.vectors()).hasNumberOfRows(10);
        for (int k = 0; k < 10; k++) {
            assertThat(top.vectors()[k]).containsExactly(all.vectors()[k], within(1e-12));
        }
    }

    @Test
    void theSameRowsGiveTheSameResult() {
        int n = 40;
        float[] data = rows(n, 300, 13);
        Pca a = new Pca(n);
        a.add(data, 300);
        Pca b = new Pca(n);
        b.add(data, 300);
        Pca.Result x = a.decompose(8);
        Pca.Result y = b.decompose(8);

        assertThat(x.values()).containsExactly(y.values());
        for (int k = 0; k < 8; k++) {
            assertThat(x.vectors()[k]).containsExactly(y.vectors()[k]);
        }
    }

    @Test
    void explainedVarianceFollowsTheKnownSpectrum() {
        // population eigenvalues s_j^2 = 0.03^(2j/n); 40000 rows put the sample's within a few percent
        int n = 24;
        int count = 40_000;
        Pca pca = new Pca(n);
        pca.add(rows(n, count, 17), count);
        Pca.Result result = pca.decompose(n);

        double total = 0;
        double[] truth = new double[n];
        for (int j = 0; j < n; j++) {
            truth[j] = Math.pow(0.03, 2.0 * j / n);
            total += truth[j];
        }
        double kept = 0;
        double previous = 0;
        for (int d = 1; d <= n; d++) {
            kept += truth[d - 1];
            assertThat(result.values()[d - 1]).as("eigenvalue %d", d - 1).isCloseTo(truth[d - 1],
                    within(0.05 * truth[d - 1]));
            assertThat(result.explained(d)).as("explained(%d)", d).isGreaterThan(previous)
                    .isCloseTo(kept / total, within(0.01));
            previous = result.explained(d);
        }
        assertThat(result.explained(n)).isEqualTo(1.0);
        assertThat(result.explained(0)).isZero();
    }

    @Test
    void repeatedEigenvaluesGiveOrthonormalDirectionsSpanningTheirSpace() {
        // rows +-c_i R e_i: covariance R diag(c_i^2 / n) R^T exactly, eigenvalues 4/n (three times), 1/n (the rest)
        int n = 12;
        double[][] rotation = randomRotation(n, new Random(19));
        float[] data = new float[2 * n * n];
        for (int i = 0; i < n; i++) {
            double c = i < 3 ? 2 : 1;
            for (int sign = 0; sign < 2; sign++) {
                for (int r = 0; r < n; r++) {
                    data[(2 * i + sign) * n + r] = (float) ((sign == 0 ? c : -c) * rotation[r][i]);
                }
            }
        }
        Solved both = solve(data, n, n);
        Pca.Result got = both.got();
        Pca.Result want = both.want();

        assertThat(got.values()).containsExactly(want.values(), within(1e-9));
        assertThat(got.values()[2] - got.values()[3]).isCloseTo(3.0 / n, within(1e-6));
        assertOrthonormal(got.vectors());
        assertThat(residual(covariance(data, n), got)).isLessThan(1e-9);
        assertThat(projectorDistance(got.vectors(), want.vectors(), 3)).isLessThan(1e-9);
    }

    @Test
    void fewerRowsThanTheWidthGiveTheRanksDirectionsThenAnOrthonormalCompletion() {
        // 12 rows of width 40: the covariance has rank 11, its other 29 eigenvalues are 0
        int n = 40;
        int count = 12;
        float[] data = rows(n, count, 23);
        Solved both = solve(data, n, n);
        Pca.Result got = both.got();
        Pca.Result want = both.want();

        for (int k = 0; k < count - 1; k++) {
            assertThat(got.values()[k]).isCloseTo(want.values()[k], within(1e-9 * want.values()[k]));
        }
        for (int k = count - 1; k < n; k++) {
            assertThat(got.values()[k]).isCloseTo(0, within(1e-12));
        }
        assertThat(got.explained(count - 1)).isCloseTo(1, within(1e-12));
        assertOrthonormal(got.vectors());
        assertThat(residual(covariance(data, n), got)).isLessThan(1e-9);
        assertThat(projectorDistance(got.vectors(), want.vectors(), count - 1)).isLessThan(1e-9);
    }

    @Test
    void equalRowsAreRefused() {
        int n = 6;
        float[] data = new float[5 * n];
        for (int r = 0; r < 5; r++) {
            for (int i = 0; i < n; i++) {
                data[r * n + i] = 0.1f * i;
            }
        }
        Pca constant = new Pca(n);
        constant.add(data, 5);
        assertThat(constant.mean()[3]).isCloseTo(0.3, within(1e-6));
        assertThatThrownBy(() -> constant.decompose(2)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("all 5 rows are equal");

        Pca one = new Pca(n);
        one.add(new float[] {1, 2, 3, 4, 5, 6}, 1);
        assertThatThrownBy(() -> one.decompose(1)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("all 1 rows are equal");
    }

    @Test
    void noRowsOrDirectionsOutsideTheWidthAreRefused() {
        Pca pca = new Pca(4);
        assertThatThrownBy(() -> pca.decompose(1)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("no rows");
        pca.add(rows(4, 10, 29), 10);
        assertThatThrownBy(() -> pca.decompose(0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("1..4");
        assertThatThrownBy(() -> pca.decompose(5)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("1..4");
        assertThatThrownBy(() -> pca.add(new float[7], 2)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("2 rows of width 4");
        assertThatThrownBy(() -> new Pca(0)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void aLargeMeanDoesNotCancelTheCovariance() {
        // rows 1000 + small noise: sum(x x^T)/rows - mean mean^T would lose about 12 of 16 digits
        int n = 16;
        int count = 400;
        float[] data = rows(n, count, 31);
        for (int i = 0; i < data.length; i++) {
            data[i] = 1000 + data[i] * 0.5f;
        }
        Pca shifted = new Pca(n);
        shifted.add(data, count);
        Pca.Result got = shifted.decompose(n);
        double[][] c = covariance(data, n);

        assertThat(residual(c, got)).isLessThan(1e-9);
        double trace = 0;
        double sum = 0;
        for (int i = 0; i < n; i++) {
            trace += c[i][i];
            sum += got.values()[i];
        }
        assertThat(sum).isCloseTo(trace, within(1e-9 * trace));
    }

    // the same rows through Pca (top d) and the Jacobi reference (all)
    private record Solved(Pca pca, JacobiReference reference, Pca.Result got, Pca.Result want) {
    }

    private static Solved solve(float[] data, int n, int d) {
        int count = data.length / n;
        Pca pca = new Pca(n);
        pca.add(data, count);
        JacobiReference reference = new JacobiReference(n);
        reference.add(data, count);
        return new Solved(pca, reference, pca.decompose(d), reference.decompose());
    }

    private static void assertOrthonormal(double[][] v) {
        for (int a = 0; a < v.length; a++) {
            for (int b = a; b < v.length; b++) {
                assertThat(dot(v[a], v[b])).as("v%d . v%d", a, b).isCloseTo(a == b ? 1 : 0, within(1e-12));
            }
        }
    }

    // the covariance of the rows (population, divided by the row count), two passes
    private static double[][] covariance(float[] data, int n) {
        int count = data.length / n;
        double[] mean = new double[n];
        for (int r = 0; r < count; r++) {
            for (int i = 0; i < n; i++) {
                mean[i] += data[r * n + i] / (double) count;
            }
        }
        double[][] c = new double[n][n];
        for (int r = 0; r < count; r++) {
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < n; j++) {
                    c[i][j] += (data[r * n + i] - mean[i]) * (data[r * n + j] - mean[j]) / count;
                }
            }
        }
        return c;
    }

    // max over the directions of |C v - lambda v| / |C|
    private static double residual(double[][] c, Pca.Result result) {
        int n = c.length;
        double scale = 0;
        for (double[] row : c) {
            for (double x : row) {
                scale = Math.max(scale, Math.abs(x));
            }
        }
        double worst = 0;
        for (int k = 0; k < result.vectors().length; k++) {
            double[] v = result.vectors()[k];
            double s = 0;
            for (int i = 0; i < n; i++) {
                double cv = 0;
                for (int j = 0; j < n; j++) {
                    cv += c[i][j] * v[j];
                }
                double e = cv - result.values()[k] * v[i];
                s += e * e;
            }
            worst = Math.max(worst, Math.sqrt(s) / scale);
        }
        return worst;
    }

    // max |P - P'| of the projectors onto the first d rows of each
    private static double projectorDistance(double[][] got, double[][] want, int d) {
        int n = got[0].length;
        double worst = 0;
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                double a = 0;
                double b = 0;
                for (int k = 0; k < d; k++) {
                    a += got[k][i] * got[k][j];
                    b += want[k][i] * want[k][j];
                }
                worst = Math.max(worst, Math.abs(a - b));
            }
        }
        return worst;
    }
}
