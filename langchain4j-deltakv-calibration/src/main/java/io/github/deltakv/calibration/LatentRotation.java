package io.github.deltakv.calibration;

import java.util.Random;

/**
 * A fixed orthonormal rotation of the latent space. PCA puts most of a token's latent energy in its first channels; a
 * group of 32 int4 codes shares one scale, set by its largest value, so the small channels of that group are coarse.
 * Rotating the latent basis spreads the energy over the channels and lowers the quantisation error, while the
 * compressor computes the same thing: with E' = R E and D' = E'^T, D' E' = E^T R^T R E = E^T E.
 */
final class LatentRotation {

    private LatentRotation() {
    }

    /** A d x d orthonormal matrix: Gram-Schmidt on seeded Gaussian rows (the same for the same d and seed). */
    static double[][] of(int d, long seed) {
        Random random = new Random(seed);
        double[][] r = new double[d][d];
        for (int i = 0; i < d; i++) {
            for (int j = 0; j < d; j++) {
                r[i][j] = random.nextGaussian();
            }
            for (int pass = 0; pass < 2; pass++) { // twice: orthogonal to rounding
                for (int k = 0; k < i; k++) {
                    double dot = 0;
                    for (int j = 0; j < d; j++) {
                        dot += r[i][j] * r[k][j];
                    }
                    for (int j = 0; j < d; j++) {
                        r[i][j] -= dot * r[k][j];
                    }
                }
            }
            double norm = 0;
            for (int j = 0; j < d; j++) {
                norm += r[i][j] * r[i][j];
            }
            norm = Math.sqrt(norm);
            for (int j = 0; j < d; j++) {
                r[i][j] /= norm;
            }
        }
        return r;
    }

    /** R E: the rotated directions, for E's first d rows (each of width n). */
    static double[][] apply(double[][] r, double[][] directions) {
        int d = r.length;
        int n = directions[0].length;
        double[][] out = new double[d][n];
        for (int i = 0; i < d; i++) {
            for (int k = 0; k < d; k++) {
                double w = r[i][k];
                if (w != 0) {
                    for (int j = 0; j < n; j++) {
                        out[i][j] += w * directions[k][j];
                    }
                }
            }
        }
        return out;
    }
}
