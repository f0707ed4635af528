package io.github.deltakv.langchain4j;

/**
 * The prefix cache of an engine: conversations set aside (their KV state in host memory) so that
 * switching back to one does not evaluate its history again.
 *
 * @param entries        conversations held
 * @param bytes          bytes they take
 * @param maxBytes       the budget (least recently used out beyond it)
 * @param hits           calls that restored a conversation
 * @param tokensRestored prompt tokens those restores saved from evaluation
 */
public record PrefixCacheStats(int entries, long bytes, long maxBytes, long hits, long tokensRestored) {
}
