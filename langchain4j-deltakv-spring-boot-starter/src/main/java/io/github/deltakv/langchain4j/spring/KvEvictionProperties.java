package io.github.deltakv.langchain4j.spring;

/**
 * {@code langchain4j.deltakv.kv-eviction.*}: StreamingLLM's sink + recent-window eviction on the stock cache, the
 * baseline DeltaKV is measured against; on when {@code recent-tokens} is set above 0. Not with DeltaKV; the engine
 * then serves one call at a time.
 */
public class KvEvictionProperties {

    /** Tokens at the start of the context the cache always keeps. */
    private Integer sinkTokens;

    /** Last tokens the cache keeps; set above 0 to turn eviction on. */
    private Integer recentTokens;

    public Integer getSinkTokens() { return sinkTokens; }
    public void setSinkTokens(Integer sinkTokens) { this.sinkTokens = sinkTokens; }
    public Integer getRecentTokens() { return recentTokens; }
    public void setRecentTokens(Integer recentTokens) { this.recentTokens = recentTokens; }
}
