package io.github.deltakv.langchain4j;

/**
 * KV-cache memory of a model's context after a call.
 *
 * @param contextSize    the context size in tokens
 * @param tokensHeld     tokens whose keys and values the cache holds now
 * @param bytesAllocated bytes allocated for the KV cache (all of the context, all devices)
 * @param bytesHeld      bytes of the keys and values of the tokens held
 * @param deltaKv        the DeltaKV memory by class, or null with the stock cache
 */
public record KvMemoryStats(int contextSize, int tokensHeld, long bytesAllocated, long bytesHeld, DeltaKvStats deltaKv) {

    /** Stats of a stock cache. */
    public KvMemoryStats(int contextSize, int tokensHeld, long bytesAllocated, long bytesHeld) {
        this(contextSize, tokensHeld, bytesAllocated, bytesHeld, null);
    }

    /** Bytes the cache holds per token (0 when it holds none). */
    public double bytesPerToken() {
        return tokensHeld == 0 ? 0 : (double) bytesHeld / tokensHeld;
    }

    @Override
    public String toString() {
        String stock = String.format("KV cache: %d of %d tokens held, %.2f MiB held, %.2f MiB allocated",
                tokensHeld, contextSize, bytesHeld / 1048576.0, bytesAllocated / 1048576.0);
        return deltaKv == null ? stock : stock + "; " + deltaKv;
    }
}
