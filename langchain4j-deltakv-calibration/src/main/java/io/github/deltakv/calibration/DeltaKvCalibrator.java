package io.github.deltakv.calibration;

import io.github.deltakv.langchain4j.DeltaKvException;
import io.github.deltakv.langchain4j.internal.GenerationListener;
import io.github.deltakv.langchain4j.internal.LlamaNative;
import io.github.deltakv.langchain4j.internal.NativeLoader;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BiConsumer;

/**
 * Makes a DeltaKV compressor for any GGUF model without training (our addition to the paper): the model
 * reads calibration text through a DeltaKV memory with the identity compressor, so each compressed token's
 * stored latent is its {@code [K_pre | V]} minus the mean of its nearest references, chosen by the same
 * rule as at run time; per layer the top-{@code latentDim} principal directions of those residuals become
 * a linear encoder E and decoder D = E^T, with a decoder bias for their mean. Deterministic: the same
 * model, text and settings give the same file.
 *
 * <pre>{@code
 * DeltaKvCalibrator.Result r = DeltaKvCalibrator.builder()
 *         .modelPath(Path.of("model.gguf")).latentDim(64).latentBits(4).fullLayers(List.of(0, 4))
 *         .build().calibrate(Path.of("model.deltakv.gguf"));
 * }</pre>
 */
public final class DeltaKvCalibrator {

    /**
     * What calibration measured: tokens read, the full layers (given or chosen), and per compressed layer the
     * residual variance kept.
     */
    public record Result(Path sideFile, int tokens, List<Integer> fullLayers, Map<Integer, Double> varianceKept,
                         long residualsPerLayer) {
    }

    private final Path modelPath;
    private final String text;
    private final int maxTokens;
    private final int latentDim;
    private final int latentBits;
    private final boolean rotateLatents;
    private final List<Integer> givenFullLayers;
    private final Integer fullLayerCount;
    private final int sink;
    private final int recent;
    private final int neighbors;
    private final int stride;
    private final int topK;
    private final int threads;
    private final int gpuLayers;
    private final BiConsumer<String, Double> progress;

    private DeltaKvCalibrator(Builder b) {
        if (b.modelPath == null || !Files.isRegularFile(b.modelPath)) {
            throw new DeltaKvException("model file not found: " + b.modelPath);
        }
        this.modelPath = b.modelPath;
        this.text = b.text != null ? b.text : defaultText();
        this.maxTokens = positive(b.maxTokens, 8192, "maxTokens");
        this.latentDim = positive(b.latentDim, 0, "latentDim");
        this.latentBits = b.latentBits == null ? 4 : b.latentBits;
        this.rotateLatents = Boolean.TRUE.equals(b.rotateLatents);
        if (latentBits != 4 && latentBits != 8 && latentBits != 16) {
            throw new IllegalArgumentException("latentBits must be 4, 8 or 16, got " + latentBits);
        }
        if (latentBits != 16 && latentDim % 32 != 0) {
            throw new IllegalArgumentException("int" + latentBits + " latents need latentDim to be a multiple of 32, got "
                    + latentDim);
        }
        this.givenFullLayers = b.fullLayers == null ? null : List.copyOf(b.fullLayers);
        if (givenFullLayers != null && !givenFullLayers.contains(0)) {
            throw new IllegalArgumentException("layer 0 must be a full layer: " + givenFullLayers);
        }
        this.fullLayerCount = b.fullLayerCount;
        if (fullLayerCount != null && (givenFullLayers != null || fullLayerCount < 1)) {
            throw new IllegalArgumentException("give either fullLayers or a positive fullLayerCount, got "
                    + givenFullLayers + " and " + fullLayerCount);
        }
        this.sink = positive(b.sink, 8, "sink");
        this.recent = positive(b.recent, 128, "recent");
        this.neighbors = positive(b.neighbors, 4, "neighbors");
        this.stride = positive(b.stride, 10, "stride");
        this.topK = positive(b.topK, 2048, "topK");
        this.threads = positive(b.threads, Runtime.getRuntime().availableProcessors(), "threads");
        this.gpuLayers = b.gpuLayers == null ? -1 : b.gpuLayers;
        this.progress = b.progress == null ? (stage, fraction) -> { } : b.progress;
    }

    private static int positive(Integer v, int dflt, String name) {
        if (v == null) {
            if (dflt <= 0) {
                throw new IllegalArgumentException(name + " is required");
            }
            return dflt;
        }
        if (v <= 0) {
            throw new IllegalArgumentException(name + " must be positive, got " + v);
        }
        return v;
    }

    /** The built-in calibration text: three State of the Union addresses (public domain). */
    public static String defaultText() {
        try (InputStream in = DeltaKvCalibrator.class.getResourceAsStream("default-calibration-text.txt")) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException | NullPointerException e) {
            throw new IllegalStateException("the built-in calibration text is missing from the jar", e);
        }
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Calibrates and writes the side file to {@code out}. */
    public Result calibrate(Path out) throws IOException {
        NativeLoader.load();
        long model = 0;
        long session = 0;
        Path identity = Files.createTempFile("deltakv-identity", ".gguf");
        try {
            progress.accept("load model", 0.0);
            model = LlamaNative.loadModel(modelPath.toString(), gpuLayers, f -> {
                progress.accept("load model", (double) f);
                return true;
            });
            ModelShape shape = ModelShape.of(model).withIdentity(ModelIdentity.of(modelPath));
            int[] all = LlamaNative.tokenize(model, text.getBytes(StandardCharsets.UTF_8), true, false);
            int[] tokens = Arrays.copyOf(all, Math.min(all.length, maxTokens));
            if (tokens.length < sink + 2 * recent + 1) {
                throw new IllegalArgumentException("calibration text too short: " + tokens.length + " tokens, at least "
                        + (sink + 2 * recent + 1) + " needed");
            }
            List<Integer> fullLayers = givenFullLayers;
            if (fullLayers == null && fullLayerCount != null) {
                // spec 3.1: the layers whose attention overlaps most with the layers after them
                progress.accept("choose " + fullLayerCount + " full layers", 0.0);
                int topK = Math.max(1, Math.min(2048, (tokens.length - sink - recent) / 8));
                int probe = Math.min(32, Math.max(1, tokens.length / 8));
                fullLayers = Arrays.stream(LlamaNative.selectFullLayers(model, tokens, probe, fullLayerCount, topK, sink,
                        recent, threads)).boxed().toList();
                progress.accept("choose " + fullLayerCount + " full layers", 1.0);
            }
            if (fullLayers == null) {
                fullLayers = List.of(0);
            }
            final List<Integer> full = fullLayers;
            if (latentDim > shape.kvDim()) {
                throw new IllegalArgumentException("latentDim " + latentDim + " exceeds the model's [K | V] width "
                        + shape.kvDim());
            }
            if (full.stream().anyMatch(l -> l < 0 || l >= shape.layers())) {
                throw new IllegalArgumentException("full layers " + fullLayers + " outside the model's " + shape.layers()
                        + " layers");
            }
            DeltaKvSideFile.Settings settings = new DeltaKvSideFile.Settings(fullLayers, shape.kvDim(), 16, sink, recent,
                    neighbors, stride, topK);
            DeltaKvSideFile.writeIdentity(identity, shape, settings);

            int ctx = tokens.length + 16;
            session = LlamaNative.newSession(model, ctx, ctx, threads, -1, identity.toString(),
                    new int[] {sink, recent, neighbors, stride, topK, 16, -1}, -1f,
                    fullLayers.stream().mapToInt(Integer::intValue).toArray(), 1, 1);

            // the text as one prompt (exact prefill), then one more token: its call compresses the prompt
            progress.accept("read " + tokens.length + " tokens", 0.0);
            float[] greedy = {0f, 1f, 0f, 1f, 0f, 0f};
            int[] oneToken = {1, 0, 1};
            LlamaNative.generate(session, tokens, 0, greedy, oneToken, 0, null, 0, QUIET);
            int[] plusOne = Arrays.copyOf(tokens, tokens.length + 1);
            plusOne[tokens.length] = tokens[0];
            LlamaNative.generate(session, plusOne, tokens.length, greedy, oneToken, 0, null, 0, QUIET);
            progress.accept("read " + tokens.length + " tokens", 1.0);

            int kvDim = shape.kvDim();
            Map<Integer, DeltaKvSideFile.LinearLayer> layers = new LinkedHashMap<>();
            Map<Integer, Double> kept = new LinkedHashMap<>();
            List<Integer> compressed = new ArrayList<>();
            for (int il = 0; il < shape.layers(); il++) {
                if (!fullLayers.contains(il)) {
                    compressed.add(il);
                }
            }
            long residuals = 0;
            Pca.useThreads(threads);
            for (int i = 0; i < compressed.size(); i++) {
                int il = compressed.get(i);
                progress.accept("layer " + il, (double) i / compressed.size());
                float[] rows = LlamaNative.deltaKvLatents(session, il);
                if (rows == null || rows.length == 0) {
                    throw new DeltaKvException("no residuals collected in layer " + il);
                }
                Pca pca = new Pca(kvDim);
                pca.add(rows, rows.length / kvDim);
                residuals = pca.rows();
                Pca.Result eig;
                try {
                    eig = pca.decompose(latentDim);
                } catch (IllegalStateException e) {
                    throw new DeltaKvException("layer " + il + ": " + e.getMessage(), e);
                }
                layers.put(il, linear(eig, pca.mean(), kvDim));
                kept.put(il, eig.explained(latentDim));
            }
            progress.accept("layers", 1.0);
            DeltaKvSideFile.writeLinear(out, shape, new DeltaKvSideFile.Settings(fullLayers, latentDim, latentBits, sink,
                    recent, neighbors, stride, topK), layers);
            return new Result(out, tokens.length, fullLayers, kept, residuals);
        } finally {
            if (session != 0) {
                LlamaNative.freeSession(session);
            }
            if (model != 0) {
                LlamaNative.freeModel(model);
            }
            Files.deleteIfExists(identity);
        }
    }

    // E = the top-d directions (rows; rotated when asked), D = E^T, bias b = (I - D E) mu: x^ = D E (x - r) + b + r
    private DeltaKvSideFile.LinearLayer linear(Pca.Result eig, double[] mu, int n) {
        int d = latentDim;
        double[][] e = Arrays.copyOf(eig.vectors(), d);
        if (rotateLatents) {
            e = LatentRotation.apply(LatentRotation.of(d, ROTATION_SEED), e);
        }
        return linear(e, mu, n);
    }

    static DeltaKvSideFile.LinearLayer linear(double[][] e, double[] mu, int n) {
        int d = e.length;
        float[] enc = new float[d * n];
        float[] dec = new float[n * d];
        for (int j = 0; j < d; j++) {
            for (int i = 0; i < n; i++) {
                enc[j * n + i] = (float) e[j][i];
                dec[i * d + j] = (float) e[j][i];
            }
        }
        double[] proj = new double[d];
        for (int j = 0; j < d; j++) {
            for (int i = 0; i < n; i++) {
                proj[j] += e[j][i] * mu[i];
            }
        }
        float[] bias = new float[n];
        for (int i = 0; i < n; i++) {
            double back = 0;
            for (int j = 0; j < d; j++) {
                back += e[j][i] * proj[j];
            }
            bias[i] = (float) (mu[i] - back);
        }
        return new DeltaKvSideFile.LinearLayer(enc, dec, bias);
    }

    /** The seed of the latent rotation: fixed, so that a calibration is reproducible. */
    private static final long ROTATION_SEED = 20261208L;

    private static final GenerationListener QUIET = new GenerationListener() {
        @Override
        public boolean onToken(int token, byte[] piece) {
            return true;
        }

        @Override
        public void onPrefill(int done, int total) {
        }
    };

    public static final class Builder {
        private Path modelPath;
        private String text;
        private Integer maxTokens;
        private Integer latentDim;
        private Integer latentBits;
        private Boolean rotateLatents;
        private List<Integer> fullLayers;
        private Integer fullLayerCount;
        private Integer sink;
        private Integer recent;
        private Integer neighbors;
        private Integer stride;
        private Integer topK;
        private Integer threads;
        private Integer gpuLayers;
        private BiConsumer<String, Double> progress;

        private Builder() {
        }

        public Builder modelPath(Path modelPath) {
            this.modelPath = modelPath;
            return this;
        }

        /** Calibration text (default: {@link #defaultText()}). */
        public Builder text(String text) {
            this.text = text;
            return this;
        }

        /** Tokens of the text read (default 8192; the context is sized to them). */
        public Builder maxTokens(Integer maxTokens) {
            this.maxTokens = maxTokens;
            return this;
        }

        /** Latent width d (required; a multiple of 32 for int4 and int8). */
        public Builder latentDim(Integer latentDim) {
            this.latentDim = latentDim;
            return this;
        }

        /** 4 (default), 8 or 16. */
        public Builder latentBits(Integer latentBits) {
            this.latentBits = latentBits;
            return this;
        }

        /**
         * Rotate the latent space (default false): the same compressor in a basis where each token's latent energy is
         * spread over the channels, so that int4 groups quantise it with less error ({@code LatentRotation}).
         */
        public Builder rotateLatents(Boolean rotateLatents) {
            this.rotateLatents = rotateLatents;
            return this;
        }

        /** Layers kept uncompressed (default {0}, or chosen: {@link #fullLayerCount}). */
        public Builder fullLayers(List<Integer> fullLayers) {
            this.fullLayers = fullLayers;
            return this;
        }

        /**
         * Choose this many full layers from the model's attention on the calibration text (DeltaKV spec 3.1:
         * the layers whose top attended tokens overlap most with those of the layers they choose for).
         */
        public Builder fullLayerCount(Integer fullLayerCount) {
            this.fullLayerCount = fullLayerCount;
            return this;
        }

        public Builder sink(Integer sink) {
            this.sink = sink;
            return this;
        }

        public Builder recent(Integer recent) {
            this.recent = recent;
            return this;
        }

        public Builder neighbors(Integer neighbors) {
            this.neighbors = neighbors;
            return this;
        }

        public Builder stride(Integer stride) {
            this.stride = stride;
            return this;
        }

        public Builder topK(Integer topK) {
            this.topK = topK;
            return this;
        }

        public Builder threads(Integer threads) {
            this.threads = threads;
            return this;
        }

        public Builder gpuLayers(Integer gpuLayers) {
            this.gpuLayers = gpuLayers;
            return this;
        }

        /** Progress: a stage name and its fraction done. */
        public Builder progress(BiConsumer<String, Double> progress) {
            this.progress = progress;
            return this;
        }

        public DeltaKvCalibrator build() {
            return new DeltaKvCalibrator(this);
        }
    }
}
