package io.github.deltakv.langchain4j.internal;

import io.github.deltakv.langchain4j.PrefixCacheStats;

import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.LongConsumer;

/**
 * Conversations set aside: the KV state of earlier token sequences, bounded by bytes, least recently
 * used out. When a call's prompt shares a longer prefix with a cached sequence than with the one the
 * context holds, that state is restored instead of evaluating the prefix again. States are native memory
 * (handles, any size, outside the Java heap); the cache frees the ones it drops, the caller the ones it takes.
 */
public final class PrefixCache {

    /** A cached sequence: its tokens and the handle and size of its saved KV state. */
    public record Entry(int[] tokens, long state, long bytes) {
    }

    private final long maxBytes;
    private final LongConsumer free;
    private final LinkedHashMap<Long, Entry> entries = new LinkedHashMap<>(16, 0.75f, true);
    private long bytes;
    private long nextKey;
    private long hits;
    private long tokensRestored;

    /** A cache of {@code maxBytes} (0: off) that frees the states it drops with {@code free}. */
    public PrefixCache(long maxBytes, LongConsumer free) {
        this.maxBytes = maxBytes;
        this.free = free;
    }

    public boolean enabled() {
        return maxBytes > 0;
    }

    /** Whether a state of {@code stateBytes} can be kept at all (ask before copying it). */
    public boolean fits(long stateBytes) {
        return stateBytes <= maxBytes;
    }

    /** Sets a sequence aside (the cache owns the state from now); the least recently used go beyond the budget. */
    public void put(int[] tokens, long state, long stateBytes) {
        if (!fits(stateBytes)) {
            free.accept(state);
            return;
        }
        entries.put(nextKey++, new Entry(tokens, state, stateBytes));
        bytes += stateBytes;
        Iterator<Map.Entry<Long, Entry>> it = entries.entrySet().iterator();
        while (bytes > maxBytes && it.hasNext()) {
            Entry dropped = it.next().getValue();
            it.remove();
            bytes -= dropped.bytes();
            free.accept(dropped.state());
        }
    }

    /** Drops and frees every state. */
    public void clear() {
        entries.values().forEach(e -> free.accept(e.state()));
        entries.clear();
        bytes = 0;
    }

    /**
     * Takes out the cached sequence sharing the longest prefix with {@code prompt}, if that prefix is longer than
     * {@code atLeast} tokens and at least half of the cached sequence (the prompt continues that conversation, rather
     * than sharing only a template's opening with it); null otherwise. The caller owns the entry's state.
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
        bytes -= entry.bytes();
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
