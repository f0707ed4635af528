package io.github.deltakv.it;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Random;

/**
 * Long-context prompts in the formats kvtiny was trained on (RULER-style), generated with a fixed seed.
 */
final class Haystacks {

    private Haystacks() {
    }

    /** A needle question over real prose: the user message, the key asked for and the answer. */
    record Needle(String message, String key, String answer) {
    }

    /**
     * About {@code approxTokens} tokens of "Moby-Dick" (public domain, unseen in training; about 4
     * characters a token) with one needle sentence at {@code depth} (0..1), RULER's niah_single form.
     */
    static Needle needle(int approxTokens, double depth, long seed) {
        Random random = new Random(seed);
        String key = WORDS[random.nextInt(WORDS.length)] + "-" + WORDS[random.nextInt(WORDS.length)];
        String value = String.valueOf(1_000_000 + random.nextInt(9_000_000));
        String[] sentences = prose().split("(?<=[.!?]) ");
        int chars = approxTokens * 4;
        int start = random.nextInt(Math.max(1, sentences.length / 4));
        StringBuilder haystack = new StringBuilder();
        for (int i = start; haystack.length() < chars; i = (i + 1) % sentences.length) {
            haystack.append(sentences[i]).append(' ');
        }
        int at = sentenceBoundary(haystack, (int) (depth * haystack.length()));
        haystack.insert(at, "One of the special magic numbers for " + key + " is: " + value + ". ");
        String message = "Some special magic numbers are hidden within the following text. Make sure to memorize it. "
                + "I will quiz you about the numbers afterwards.\n" + haystack.toString().strip()
                + "\nWhat is the special magic number for " + key + " mentioned in the provided text?";
        return new Needle(message, key, value);
    }

    private static int sentenceBoundary(CharSequence text, int near) {
        for (int i = Math.min(near, text.length() - 1); i > 0; i--) {
            if (text.charAt(i - 1) == ' ' && ".!?".indexOf(text.charAt(i - 2)) >= 0) {
                return i;
            }
        }
        return 0;
    }

    private static String prose() {
        try (InputStream in = Haystacks.class.getResourceAsStream("/moby-dick-excerpt.txt")) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8).strip();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static final String[] WORDS = {
        "amber", "basket", "candle", "dolphin", "ember", "falcon", "garden", "harbor", "island", "jacket",
        "kettle", "lantern", "meadow", "needle", "orchard", "pepper", "quartz", "river", "saddle", "timber",
        "umbrella", "velvet", "willow", "yonder", "zephyr", "copper", "marble", "silver", "thunder", "winter",
    };
}
