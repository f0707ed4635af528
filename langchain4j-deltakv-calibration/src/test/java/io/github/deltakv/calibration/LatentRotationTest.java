package io.github.deltakv.calibration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.Arrays;
import java.util.Random;

import org.junit.jupiter.api.Test;

/**
 * The latent rotation is orthonormal and reproducible, leaves what the compressor computes unchanged, and lowers the
 * error of int4 codes (groups of 32 with a scale and a minimum, as the runtime stores them) on PCA-like latents.
 */
class LatentRotationTest {

    @Test
    void the_rotation_is_orthonormal_and_the_same_for_the_same_seed() {
        double[][] r = LatentRotation.of(64, 7);
        for (int i = 0; i < 64; i++) {
            for (int j = 0; j < 64; j++) {
                double dot = 0;
                for (int k = 0; k < 64; k++) {
                    dot += r[i][k] * r[j][k];
                }
                assertThat(dot).isCloseTo(i == j ? 1.0 : 0.0, within(1e-12));
            }
        }
        assertThat(LatentRotation.of(64, 7)).isDeepEqualTo(r);
        assertThat(LatentRotation.of(64, 8)[0][0]).isNotEqualTo(r[0][0]);
    }

    @Test
    void a_rotated_compressor_reconstructs_what_the_plain_one_does() {
        int n = 48;
        int d = 32;
        Random random = new Random(1);
        double[][] e = LatentRotation.of(n, 3); // orthonormal directions of width n; the first d rows taken
        double[][] top = Arrays.copyOf(e, d);
        double[] mu = new double[n];
        for (int i = 0; i < n; i++) {
            mu[i] = random.nextGaussian();
        }
        DeltaKvSideFile.LinearLayer plain = DeltaKvCalibrator.linear(top, mu, n);
        DeltaKvSideFile.LinearLayer rotated = DeltaKvCalibrator.linear(LatentRotation.apply(LatentRotation.of(d, 5), top), mu, n);

        double[] x = new double[n];
        for (int i = 0; i < n; i++) {
            x[i] = random.nextGaussian();
        }
        double[] a = reconstruct(plain, x, n, d);
        double[] b = reconstruct(rotated, x, n, d);
        for (int i = 0; i < n; i++) {
            assertThat(b[i]).isCloseTo(a[i], within(1e-4));
        }
        assertThat(rotated.decoderBias()).containsExactly(plain.decoderBias(), within(1e-5f));
    }

    @Test
    void int4_codes_of_rotated_pca_latents_lose_less() {
        // PCA-like latents: channel variances falling from 100 to 0.01, as the top directions of a residual
        int d = 32;
        Random random = new Random(11);
        double[][] r = LatentRotation.of(d, 20261208L);
        double plainError = 0;
        double rotatedError = 0;
        for (int t = 0; t < 2000; t++) {
            double[] z = new double[d];
            for (int j = 0; j < d; j++) {
                z[j] = random.nextGaussian() * 10 * Math.pow(0.01 / 100, j / (2.0 * (d - 1)));
            }
            double[] rz = new double[d];
            for (int i = 0; i < d; i++) {
                for (int k = 0; k < d; k++) {
                    rz[i] += r[i][k] * z[k];
                }
            }
            plainError += squaredError(z);
            rotatedError += squaredError(rz); // the rotation is orthonormal: errors compare in either basis
        }
        assertThat(rotatedError).isLessThan(0.6 * plainError);
    }

    /** The squared error of one group of 32 as int4 codes with a scale and a minimum (Q4_1). */
    private static double squaredError(double[] v) {
        double min = Double.MAX_VALUE;
        double max = -Double.MAX_VALUE;
        for (double x : v) {
            min = Math.min(min, x);
            max = Math.max(max, x);
        }
        double scale = (max - min) / 15;
        double error = 0;
        for (double x : v) {
            double q = scale == 0 ? min : min + Math.round((x - min) / scale) * scale;
            error += (x - q) * (x - q);
        }
        return error;
    }

    // x^ = D E x + b (the residual x, its reference r = 0)
    private static double[] reconstruct(DeltaKvSideFile.LinearLayer layer, double[] x, int n, int d) {
        double[] z = new double[d];
        for (int j = 0; j < d; j++) {
            for (int i = 0; i < n; i++) {
                z[j] += layer.encoder()[j * n + i] * x[i];
            }
        }
        double[] out = new double[n];
        for (int i = 0; i < n; i++) {
            out[i] = layer.decoderBias()[i];
            for (int j = 0; j < d; j++) {
                out[i] += layer.decoder()[i * d + j] * z[j];
            }
        }
        return out;
    }
}
