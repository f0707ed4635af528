package io.github.deltakv.langchain4j;

import io.github.deltakv.langchain4j.internal.StopSequences;
import io.github.deltakv.langchain4j.internal.Utf8Accumulator;

/**
 * An answer's text as its tokens arrive: token pieces to UTF-8 text, stop strings cut off, and the part that is
 * final (that no stop string can still claim) handed out as it grows.
 */
final class AnswerText {

    private final StopSequences stops;
    private final Utf8Accumulator utf8 = new Utf8Accumulator();
    private final StringBuilder text = new StringBuilder();
    private int emitted;
    private boolean stopped;

    AnswerText(StopSequences stops) {
        this.stops = stops;
    }

    /** Adds a token's bytes; returns the text that became final ("" if none). */
    String add(byte[] piece) {
        text.append(utf8.append(piece));
        int stop = stops.firstMatch(text);
        if (stop >= 0) {
            text.setLength(stop);
            stopped = true;
            return emit(text.length());
        }
        return emit(stops.safeLength(text));
    }

    /** Whether a stop string appeared: the answer ends before it. */
    boolean stopped() {
        return stopped;
    }

    /** After the last token: the held-back tail, final now. */
    String finish() {
        if (!stopped) {
            text.append(utf8.flush());
        }
        return emit(text.length());
    }

    String text() {
        return text.toString();
    }

    private String emit(int upTo) {
        if (upTo <= emitted) {
            return "";
        }
        String out = text.substring(emitted, upTo);
        emitted = upTo;
        return out;
    }
}
