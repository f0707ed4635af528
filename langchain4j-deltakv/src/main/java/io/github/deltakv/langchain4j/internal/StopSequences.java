package io.github.deltakv.langchain4j.internal;

import java.util.List;

/**
 * Stop strings over growing text: finds the first stop string, and tells how much of the text is
 * safe to stream (the tail that could still become a stop string is held back).
 */
public final class StopSequences {

    private final List<String> stops;

    public StopSequences(List<String> stops) {
        this.stops = stops == null ? List.of() : stops.stream().filter(s -> s != null && !s.isEmpty()).toList();
    }

    /** Index of the earliest stop string in {@code text}, or -1. */
    public int firstMatch(CharSequence text) {
        String s = text.toString();
        int best = -1;
        for (String stop : stops) {
            int i = s.indexOf(stop);
            if (i >= 0 && (best < 0 || i < best)) {
                best = i;
            }
        }
        return best;
    }

    /** Length of the prefix of {@code text} that no stop string can still start in. */
    public int safeLength(CharSequence text) {
        int n = text.length();
        int hold = 0;
        for (String stop : stops) {
            for (int k = Math.min(stop.length() - 1, n); k > hold; k--) {
                if (text.subSequence(n - k, n).toString().equals(stop.substring(0, k))) {
                    hold = k;
                    break;
                }
            }
        }
        return n - hold;
    }
}
