package io.github.deltakv.langchain4j.internal;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * Turns token byte pieces into text. A token may end in the middle of a multi-byte UTF-8 character;
 * those bytes are held back until the character is complete.
 */
public final class Utf8Accumulator {

    private final ByteArrayOutputStream pending = new ByteArrayOutputStream();

    /** Adds bytes and returns the text of the characters they complete (possibly empty). */
    public String append(byte[] piece) {
        pending.writeBytes(piece);
        byte[] bytes = pending.toByteArray();
        int complete = completeLength(bytes);
        pending.reset();
        pending.write(bytes, complete, bytes.length - complete);
        return new String(bytes, 0, complete, StandardCharsets.UTF_8);
    }

    /** Any bytes still held back (an incomplete character at the very end), as text. */
    public String flush() {
        String rest = pending.toString(StandardCharsets.UTF_8);
        pending.reset();
        return rest;
    }

    /** Length of the longest prefix that does not end inside a multi-byte character. */
    static int completeLength(byte[] b) {
        int n = b.length;
        // look back at most 3 bytes for the lead byte of the last character
        for (int back = 1; back <= Math.min(3, n); back++) {
            int c = b[n - back] & 0xFF;
            if ((c & 0xC0) == 0x80) {
                continue; // continuation byte
            }
            int needed = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
            return needed > back ? n - back : n;
        }
        return n;
    }
}
