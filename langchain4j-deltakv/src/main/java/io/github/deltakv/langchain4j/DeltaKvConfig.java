package io.github.deltakv.langchain4j;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * DeltaKV compressed KV memory for a model: the compressor side file made for that model and, where
 * given, overrides of its settings (null keeps the side file's value). Full layers keep an ordinary
 * cache; in every other layer old tokens are stored as small latents of their residual against a few
 * exact reference tokens, and at each step only the top-k most relevant are rebuilt.
 *
 * <pre>{@code
 * DeltaKvChatModel model = DeltaKvChatModel.builder()
 *         .modelPath(Path.of("model.gguf"))
 *         .deltaKv(DeltaKvConfig.builder().compressorPath(Path.of("model.deltakv.gguf")).build())
 *         .build();
 * }</pre>
 *
 * <p>Prompt evaluation is exact for a prompt that fits one batch ({@code batchSize}); a longer prompt
 * attends to its earlier, already compressed part through reconstruction.
 */
public final class DeltaKvConfig {

    private final Path compressorPath;
    private final Integer sinkTokens;
    private final Integer recentTokens;
    private final Integer neighbors;
    private final Integer centerStride;
    private final Integer topK;
    private final Double topKFraction;
    private final Integer latentBits;
    private final List<Integer> fullLayers;
    private final Integer compressLayersPerStep;

    private DeltaKvConfig(Builder b) {
        if (b.compressorPath == null) {
            throw new IllegalArgumentException("compressorPath is required");
        }
        if (!Files.isRegularFile(b.compressorPath)) {
            throw new DeltaKvException("DeltaKV compressor file not found: " + b.compressorPath.toAbsolutePath());
        }
        this.compressorPath = b.compressorPath;
        this.sinkTokens = check(b.sinkTokens, 0, "sinkTokens");
        this.recentTokens = check(b.recentTokens, 1, "recentTokens");
        this.neighbors = check(b.neighbors, 1, "neighbors");
        if (b.neighbors != null && b.neighbors > 8) {
            throw new IllegalArgumentException("neighbors must be at most 8, got " + b.neighbors);
        }
        // a stride of 1 makes every token a reference: nothing would be compressed
        this.centerStride = check(b.centerStride, 2, "centerStride");
        this.topK = check(b.topK, 1, "topK");
        if (b.topKFraction != null && !(b.topKFraction >= 0 && b.topKFraction <= 1)) {
            throw new IllegalArgumentException("topKFraction must be in [0, 1], got " + b.topKFraction);
        }
        this.topKFraction = b.topKFraction;
        if (b.latentBits != null && b.latentBits != 4 && b.latentBits != 8 && b.latentBits != 16) {
            throw new IllegalArgumentException("latentBits must be 4, 8 or 16, got " + b.latentBits);
        }
        this.latentBits = b.latentBits;
        if (b.fullLayers != null) {
            if (b.fullLayers.isEmpty() || b.fullLayers.stream().anyMatch(l -> l == null || l < 0)) {
                throw new IllegalArgumentException("fullLayers must name at least one layer, none negative: "
                        + b.fullLayers);
            }
        }
        this.fullLayers = b.fullLayers == null ? null : List.copyOf(b.fullLayers);
        this.compressLayersPerStep = check(b.compressLayersPerStep, 0, "compressLayersPerStep");
    }

    private static Integer check(Integer value, int min, String name) {
        if (value != null && value < min) {
            throw new IllegalArgumentException(name + " must be >= " + min + ", got " + value);
        }
        return value;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** A config of this side file with its own settings. */
    public static DeltaKvConfig of(Path compressorPath) {
        return builder().compressorPath(compressorPath).build();
    }

    public Path compressorPath() {
        return compressorPath;
    }

    public Integer sinkTokens() {
        return sinkTokens;
    }

    public Integer recentTokens() {
        return recentTokens;
    }

    public Integer neighbors() {
        return neighbors;
    }

    public Integer centerStride() {
        return centerStride;
    }

    public Integer topK() {
        return topK;
    }

    public Double topKFraction() {
        return topKFraction;
    }

    public Integer latentBits() {
        return latentBits;
    }

    public List<Integer> fullLayers() {
        return fullLayers;
    }

    public Integer compressLayersPerStep() {
        return compressLayersPerStep;
    }

    /**
     * The settings in the native order {sink, recent, neighbors, stride, top-k, latent bits, layers compressed per
     * step}; -1 = the side file's (the default).
     */
    int[] nativeSettings() {
        return new int[] {orMinusOne(sinkTokens), orMinusOne(recentTokens), orMinusOne(neighbors),
            orMinusOne(centerStride), orMinusOne(topK), orMinusOne(latentBits), orMinusOne(compressLayersPerStep)};
    }

    float nativeTopKFraction() {
        return topKFraction == null ? -1f : topKFraction.floatValue();
    }

    int[] nativeFullLayers() {
        return fullLayers == null ? null : fullLayers.stream().mapToInt(Integer::intValue).toArray();
    }

    private static int orMinusOne(Integer v) {
        return v == null ? -1 : v;
    }

    @Override
    public String toString() {
        return "DeltaKvConfig{compressor=" + compressorPath + ", sink=" + sinkTokens + ", recent=" + recentTokens
                + ", neighbors=" + neighbors + ", stride=" + centerStride + ", topK=" + topK + ", topKFraction=" + topKFraction + ", latentBits="
                + latentBits + ", fullLayers=" + fullLayers + ", compressLayersPerStep=" + compressLayersPerStep + "}";
    }

    public static final class Builder {
        private Path compressorPath;
        private Integer sinkTokens;
        private Integer recentTokens;
        private Integer neighbors;
        private Integer centerStride;
        private Integer topK;
        private Double topKFraction;
        private Integer latentBits;
        private List<Integer> fullLayers;
        private Integer compressLayersPerStep;

        private Builder() {
        }

        /** The compressor side file (GGUF, general.type = deltakv) made for the model (required). */
        public Builder compressorPath(Path compressorPath) {
            this.compressorPath = compressorPath;
            return this;
        }

        /** Exact tokens at the start of each conversation (the paper: 8). */
        public Builder sinkTokens(Integer sinkTokens) {
            this.sinkTokens = sinkTokens;
            return this;
        }

        /** Recent tokens kept exact, also the compression block size (the paper: 128). */
        public Builder recentTokens(Integer recentTokens) {
            this.recentTokens = recentTokens;
            return this;
        }

        /** Reference tokens averaged per compressed token (the paper: 4). */
        public Builder neighbors(Integer neighbors) {
            this.neighbors = neighbors;
            return this;
        }

        /** One reference token every this many tokens of a block (the paper: 10). */
        public Builder centerStride(Integer centerStride) {
            this.centerStride = centerStride;
            return this;
        }

        /** Compressed tokens rebuilt per generated token (default: the side file's, usually 2048). */
        public Builder topK(Integer topK) {
            this.topK = topK;
            return this;
        }

        /**
         * Top-k as a fraction of the context: each generated token rebuilds at least this fraction of its
         * conversation's tokens (rounded up to a multiple of 256), and at least {@link #topK} (the paper's runs used
         * about 0.17). Default: the side file's, usually none (0).
         */
        public Builder topKFraction(Double topKFraction) {
            this.topKFraction = topKFraction;
            return this;
        }

        /** Latent storage: 16 (F16), 8 (8-bit) or 4 (4-bit); 8 and 4 in groups of 32. */
        public Builder latentBits(Integer latentBits) {
            this.latentBits = latentBits;
            return this;
        }

        /** Layers kept uncompressed; layer 0 among them. */
        public Builder fullLayers(List<Integer> fullLayers) {
            this.fullLayers = fullLayers;
            return this;
        }

        /**
         * DeltaKV layers that a generation step compresses of a block of recent tokens due for compression (default
         * 1): the block stays exact until every layer is done, so that no step carries the whole compression and the
         * stream keeps an even pace; 0 compresses a block at once, in the step that fills the window.
         */
        public Builder compressLayersPerStep(Integer compressLayersPerStep) {
            this.compressLayersPerStep = compressLayersPerStep;
            return this;
        }

        public DeltaKvConfig build() {
            return new DeltaKvConfig(this);
        }
    }
}
