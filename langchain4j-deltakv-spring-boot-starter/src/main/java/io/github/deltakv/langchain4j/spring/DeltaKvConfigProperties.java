package io.github.deltakv.langchain4j.spring;

import java.nio.file.Path;
import java.util.List;

/**
 * {@code langchain4j.deltakv.delta-kv.*}: DeltaKV compressed KV memory, on when {@code compressor-path} is set. The
 * other values override the side file's settings; unset, the side file's apply.
 */
public class DeltaKvConfigProperties {

    /** The compressor side file (GGUF, general.type = deltakv) made for the model; setting it turns DeltaKV on. */
    private Path compressorPath;

    /** Exact tokens at the start of each conversation (default: the side file's; the paper uses 8). */
    private Integer sinkTokens;

    /** Recent tokens kept exact, also the compression block size (default: the side file's; the paper uses 128). */
    private Integer recentTokens;

    /** Reference tokens averaged per compressed token, 1 to 8 (default: the side file's; the paper uses 4). */
    private Integer neighbors;

    /** One reference token every this many tokens of a block, at least 2 (default: the side file's; the paper uses 10). */
    private Integer centerStride;

    /** Compressed tokens rebuilt per generated token (default: the side file's, usually 2048). */
    private Integer topK;

    /**
     * Top-k as a fraction of the context, in [0, 1]: each generated token rebuilds at least this fraction of its
     * conversation's tokens (rounded up to a multiple of 256) and at least top-k; the paper's runs used about 0.17
     * (default: the side file's, usually 0).
     */
    private Double topKFraction;

    /** Latent storage bits: 16 (F16), 8 or 4 (default: the side file's). */
    private Integer latentBits;

    /** Layers kept uncompressed, layer 0 among them (default: the side file's). */
    private List<Integer> fullLayers;

    /** Layers a generation step compresses of a block due for compression; 0 compresses it at once (default 1). */
    private Integer compressLayersPerStep;

    public Path getCompressorPath() { return compressorPath; }
    public void setCompressorPath(Path compressorPath) { this.compressorPath = compressorPath; }
    public Integer getSinkTokens() { return sinkTokens; }
    public void setSinkTokens(Integer sinkTokens) { this.sinkTokens = sinkTokens; }
    public Integer getRecentTokens() { return recentTokens; }
    public void setRecentTokens(Integer recentTokens) { this.recentTokens = recentTokens; }
    public Integer getNeighbors() { return neighbors; }
    public void setNeighbors(Integer neighbors) { this.neighbors = neighbors; }
    public Integer getCenterStride() { return centerStride; }
    public void setCenterStride(Integer centerStride) { this.centerStride = centerStride; }
    public Integer getTopK() { return topK; }
    public void setTopK(Integer topK) { this.topK = topK; }
    public Double getTopKFraction() { return topKFraction; }
    public void setTopKFraction(Double topKFraction) { this.topKFraction = topKFraction; }
    public Integer getLatentBits() { return latentBits; }
    public void setLatentBits(Integer latentBits) { this.latentBits = latentBits; }
    public List<Integer> getFullLayers() { return fullLayers; }
    public void setFullLayers(List<Integer> fullLayers) { this.fullLayers = fullLayers; }
    public Integer getCompressLayersPerStep() { return compressLayersPerStep; }
    public void setCompressLayersPerStep(Integer compressLayersPerStep) { this.compressLayersPerStep = compressLayersPerStep; }
}
