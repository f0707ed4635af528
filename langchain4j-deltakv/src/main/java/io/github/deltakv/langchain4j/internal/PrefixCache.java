package io.github.deltakv.langchain4j.internal;

import io.github.deltakv.langchain4j.PrefixCacheStats;

import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Conversations set aside: the KV state of earlier token sequences, bounded by bytes, least recently
 * used out. When a call's prompt shares a longer prefix with a cached sequence than with the one the
 * context holds, that state is restored instead of evaluating the prefix again.
 */
public final class PrefixCache {

    /** A cached sequence: its tokens and its saved KV state. */
    public record Entry(int[] tokens, byte[] state) {
    }

    private final long maxBytes;
    private final LinkedHashMap<Long, Entry> entries = new LinkedHashMap<>(16, 0.75f, true);
    private long bytes;
    private long nextKey;
    private long hits;
    private long tokensRestored;

    public PrefixCache(long maxBytes) {
        this.maxBytes = maxBytes;
    }

    public boolean enabled() {
        return maxBytes > 0;
    }

    /** Sets a sequence aside; the least recently used ones go when the budget is exceeded. */
    public void put(int[] tokens, byte[] state) {
        if (state.length > maxBytes) {
            return;
        }
        entries.put(nextKey++, new Entry(tokens, state));
        bytes += state.length;
        Iterator<Map.Entry<Long, Entry>> it = entries.entrySet().iterator();
        while (bytes > maxBytes && it.hasNext()) {
            bytes -= it.next().getValue().state().length;
            it.remove();
        }
    }

    /**
     * Takes out the cached sequence sharing the longest prefix with {@code prompt}, if that prefix is longer than
     * {@code atLeast} tokens and at least half of the cached sequence (the prompt continues that conversation, rather
     * than sharing only a template's opening with it); null otherwise.
     */
    public Entry takeBest(int[] prompt, int atLeast) {
        Long bestKey = null;
        int best = atLeast;
        for (Map.Entry<Long, Entry> e : entries.entrySet()) {
            int shared = commonPrefix(e.getValue().tokens(), prompt);
            if (shared > best && 2 * shared >= e.getValue().tokens().length) {
                best = shared;
                bestKey = e.getKey();
            }
        }
        if (bestKey == null) {
            return null;
        }
        Entry entry = entries.remove(bestKey);
        bytes -= entry.state().length;
        hits++;
        tokensRestored += best;
        return entry;
    }

    public PrefixCacheStats stats() {
        return new PrefixCacheStats(entries.size(), bytes, maxBytes, hits, tokensRestored);
    }

    public static int commonPrefix(int[] a, int[] b) {
        int n = Math.min(a.length, b.length);
        int i = 0;
        while (i < n && a[i] == b[i]) {
            i++;
        }
        return i;
    }
}
