package io.github.deltakv.langchain4j;

/**
 * What the DeltaKV memory holds, by class of bytes, and how that compares with the stock F16 cache.
 *
 * @param tokens                tokens held
 * @param compressedTokens      of those, stored as latents in the compressed layers
 * @param referenceTokens       reference tokens (sink and centers), kept exact
 * @param recentTokens          recent tokens not compressed yet
 * @param bytesFullLayers       ordinary cache of the full layers
 * @param bytesExactRows        compressed layers: exact rows of sink, references and recent tokens
 * @param bytesLatents          compressed layers: latent codes
 * @param bytesReferenceIds     compressed layers: reference ids of the compressed tokens
 * @param bytesStock            what a stock F16 cache needs for the same tokens
 * @param bytesAllocated        allocated for the whole context
 * @param bytesAllocatedStock   what a stock F16 cache allocates for the same context size
 * @param bytesCompressor       the compressor's weights, loaded with the context (not in bytesAllocated)
 */
public record DeltaKvStats(long tokens, long compressedTokens, long referenceTokens, long recentTokens,
                           long bytesFullLayers, long bytesExactRows, long bytesLatents, long bytesReferenceIds,
                           long bytesStock, long bytesAllocated, long bytesAllocatedStock, long bytesCompressor) {

    /** Bytes the held tokens occupy. */
    public long bytesUsed() {
        return bytesFullLayers + bytesExactRows + bytesLatents + bytesReferenceIds;
    }

    /** Bytes used as a fraction of the stock F16 cache for the same tokens (0 when empty). */
    public double usedRatio() {
        return bytesStock == 0 ? 0 : (double) bytesUsed() / bytesStock;
    }

    /** Bytes allocated as a fraction of a stock F16 cache of the same context size. */
    public double allocatedRatio() {
        return bytesAllocatedStock == 0 ? 0 : (double) bytesAllocated / bytesAllocatedStock;
    }

    /** Bytes allocated with the compressor's weights, as a fraction of a stock F16 cache of the same context size. */
    public double allocatedWithCompressorRatio() {
        return bytesAllocatedStock == 0 ? 0 : (double) (bytesAllocated + bytesCompressor) / bytesAllocatedStock;
    }

    static DeltaKvStats fromNative(long[] s, int offset) {
        return new DeltaKvStats(s[offset], s[offset + 1], s[offset + 2], s[offset + 3], s[offset + 4], s[offset + 5],
                s[offset + 6], s[offset + 7], s[offset + 8], s[offset + 9], s[offset + 10], s[offset + 11]);
    }

    @Override
    public String toString() {
        return String.format("DeltaKV: %d tokens (%d compressed, %d references, %d recent), %.2f MiB used = %.1f%% "
                + "of stock F16; %.2f MiB allocated = %.1f%% of stock (and %.2f MiB of compressor weights)", tokens,
                compressedTokens, referenceTokens, recentTokens, bytesUsed() / 1048576.0, 100 * usedRatio(),
                bytesAllocated / 1048576.0, 100 * allocatedRatio(), bytesCompressor / 1048576.0);
    }
}
