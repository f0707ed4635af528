package io.github.deltakv.eval;

import dev.langchain4j.data.message.AiMessage;
import dev.langchain4j.data.message.ChatMessage;
import dev.langchain4j.data.message.UserMessage;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.UUID;
import java.util.function.IntFunction;
import java.util.function.ToIntFunction;
import java.util.zip.GZIPInputStream;

/**
 * Long-context prompts made by our own code from the templates of {@code design/eval-tasks.md} (RULER's needle
 * and variable-tracking tasks, InfiniteBench / SCBench key-value retrieval), with a fixed seed. Haystack:
 * Herman Melville's "Moby-Dick" (public domain; kvtiny never saw it in training) for the needles, RULER's noise
 * sentences for variable tracking, random UUIDs for key-value. Each prompt is filled until its chat-templated
 * token count (the model's own tokenizer) plus the task's answer budget reaches the length cell.
 *
 * <p>Tasks: {@code niah_single}, {@code niah_multikey} (2-12 needles, one asked), {@code kv}, {@code vt} (one
 * chain of 1-4 hops) and {@code kv_multiturn}: one JSON object, then {@value #TURNS} questions in turns of the
 * same conversation (earlier turns answered with the reference), each turn a prompt of its own, in order, so a
 * provider that keeps the conversation's cache serves the later turns from it.
 */
public final class TaskGenerator {

    public static final List<String> TASKS = List.of("niah_single", "niah_multikey", "kv", "kv_multiturn", "vt");
    static final int TURNS = 3;

    private static final String NIAH_INTRO = "Some special magic numbers are hidden within the following text. "
            + "Make sure to memorize it. I will quiz you about the numbers afterwards.\n";
    private static final String KV_INTRO = "Extract the value corresponding to the specified key in the JSON object below.\n\n";
    private static final String VT_INTRO = "Memorize and track the chain(s) of variable assignment hidden in the following text.\n";
    private static final String NOISE = "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again.";

    private final ToIntFunction<List<ChatMessage>> promptTokens;
    private final Random random;
    private final String[] sentences;

    /**
     * @param promptTokens the chat-templated token count of a conversation (the model's tokenizer)
     * @param seed         fixes every random choice
     */
    public TaskGenerator(ToIntFunction<List<ChatMessage>> promptTokens, long seed) {
        this.promptTokens = promptTokens;
        this.random = new Random(seed);
        this.sentences = mobyDick().split("(?<=[.!?])\\s+");
    }

    /** {@code count} prompts of one task at one length (for kv_multiturn: count conversations of TURNS prompts). */
    public List<Prompt> generate(String task, int length, int count) {
        List<Prompt> out = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            switch (task) {
                case "niah_single" -> out.add(needles(length, 1));
                case "niah_multikey" -> out.add(needles(length, 2 + random.nextInt(11)));
                case "kv" -> out.add(keyValue(length, 1).get(0));
                case "kv_multiturn" -> out.addAll(keyValue(length, TURNS));
                case "vt" -> out.add(variableTracking(length));
                default -> throw new IllegalArgumentException("unknown task " + task + "; known: " + TASKS);
            }
        }
        return out;
    }

    private Prompt needles(int length, int count) {
        String task = count == 1 ? "niah_single" : "niah_multikey";
        int start = random.nextInt(sentences.length);
        List<String> keys = new ArrayList<>();
        List<String> values = new ArrayList<>();
        List<String> needles = new ArrayList<>();
        double[] depths = new double[count];
        for (int i = 0; i < count; i++) {
            String key;
            do {
                key = pick(ADJECTIVES) + "-" + pick(NOUNS);
            } while (keys.contains(key));
            keys.add(key);
            values.add(String.valueOf(1_000_000 + random.nextInt(9_000_000)));
            needles.add("One of the special magic numbers for " + key + " is: " + values.get(i) + ".");
            depths[i] = random.nextDouble();
        }
        int asked = random.nextInt(count);
        String question = "\nWhat is the special magic number for " + keys.get(asked) + " mentioned in the provided text?";
        IntFunction<String> message = n -> {
            List<String> hay = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                hay.add(sentences[(start + i) % sentences.length]);
            }
            for (int i = 0; i < count; i++) {
                hay.add((int) Math.round(depths[i] * hay.size()), needles.get(i));
            }
            return NIAH_INTRO + String.join(" ", hay) + question;
        };
        return new Prompt(task, length, List.of(UserMessage.from(message.apply(fill(length - 16, message)))),
                values.get(asked));
    }

    /** One JSON object of UUID pairs; {@code turns} questions about distinct keys, one prompt per turn. */
    private List<Prompt> keyValue(int length, int turns) {
        List<String[]> pairs = new ArrayList<>();
        for (int i = 0; i < length / 8; i++) {
            pairs.add(new String[] {uuid(), uuid()});
        }
        double[] where = new double[turns];
        for (int t = 0; t < turns; t++) {
            where[t] = random.nextDouble();
        }
        // the conversation with all turns answered, given the number of pairs
        IntFunction<List<ChatMessage>> conversation = n -> {
            StringBuilder json = new StringBuilder("{");
            for (int i = 0; i < n; i++) {
                json.append(i == 0 ? "" : ", ").append('"').append(pairs.get(i)[0]).append("\": \"")
                        .append(pairs.get(i)[1]).append('"');
            }
            json.append('}');
            List<ChatMessage> messages = new ArrayList<>();
            List<Integer> asked = new ArrayList<>();
            for (int t = 0; t < turns; t++) {
                int k = Math.min(n - 1, (int) (where[t] * n));
                while (asked.contains(k)) {
                    k = (k + 1) % n;
                }
                asked.add(k);
                String question = "Key: \"" + pairs.get(k)[0] + "\"\nThe value associated with the specified key is:";
                messages.add(UserMessage.from(t == 0 ? KV_INTRO + json + "\n\n" + question : question));
                messages.add(AiMessage.from(pairs.get(k)[1]));
            }
            return messages;
        };
        int n = fillMessages(length - 48, 2 * turns, n0 -> conversation.apply(n0).subList(0, 2 * turns - 1));
        List<ChatMessage> all = conversation.apply(n);
        String task = turns == 1 ? "kv" : "kv_multiturn";
        List<Prompt> out = new ArrayList<>();
        for (int t = 0; t < turns; t++) {
            out.add(new Prompt(task, length, List.copyOf(all.subList(0, 2 * t + 1)), ((AiMessage) all.get(2 * t + 1)).text()));
        }
        return out;
    }

    private Prompt variableTracking(int length) {
        int hops = 1 + random.nextInt(4);
        String value = String.valueOf(10_000 + random.nextInt(90_000));
        List<String> names = new ArrayList<>();
        while (names.size() < hops + 1) {
            StringBuilder name = new StringBuilder();
            for (int i = 0; i < 5; i++) {
                name.append((char) ('A' + random.nextInt(26)));
            }
            if (!names.contains(name.toString())) {
                names.add(name.toString());
            }
        }
        double[] depths = random.doubles(names.size()).sorted().toArray();
        IntFunction<String> message = n -> {
            List<String> hay = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                hay.add(NOISE);
            }
            for (int i = names.size() - 1; i >= 0; i--) { // from the back, so the earlier depths stay put
                String statement = "VAR " + names.get(i) + " = " + (i == 0 ? value : "VAR " + names.get(i - 1)) + ".";
                hay.add((int) Math.round(depths[i] * n), statement);
            }
            return VT_INTRO + String.join(" ", hay) + "\nFind all variables that are assigned the value " + value
                    + " in the text above.";
        };
        return new Prompt("vt", length, List.of(UserMessage.from(message.apply(fill(length - 32, message)))),
                String.join(" ", names));
    }

    /** The largest n whose one-message conversation has at most {@code maxTokens} tokens. */
    private int fill(int maxTokens, IntFunction<String> message) {
        return fillMessages(maxTokens, 1, n -> List.of(UserMessage.from(message.apply(n))));
    }

    /** The largest n >= {@code least} whose conversation has at most {@code maxTokens} tokens. */
    private int fillMessages(int maxTokens, int least, IntFunction<List<ChatMessage>> messages) {
        int lo = least;
        int hi = 2 * least;
        while (promptTokens.applyAsInt(messages.apply(hi)) <= maxTokens) {
            lo = hi;
            hi *= 2;
        }
        while (hi - lo > 1) { // count(lo) fits, count(hi) does not
            int mid = (lo + hi) >>> 1;
            if (promptTokens.applyAsInt(messages.apply(mid)) <= maxTokens) {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        return lo;
    }

    private String uuid() {
        return new UUID(random.nextLong() & 0xffffffffffff0fffL | 0x4000L, random.nextLong() & 0x3fffffffffffffffL | 0x8000000000000000L)
                .toString();
    }

    private String pick(String[] words) {
        return words[random.nextInt(words.length)];
    }

    private static String mobyDick() {
        try (InputStream in = new GZIPInputStream(TaskGenerator.class.getResourceAsStream("/eval/moby-dick.txt.gz"))) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static final String[] ADJECTIVES = {
        "ancient", "bitter", "brave", "bright", "broken", "calm", "careful", "cheap", "clever", "cold", "curious",
        "damp", "dark", "deep", "distant", "dry", "eager", "early", "empty", "endless", "fair", "famous", "fancy",
        "fierce", "flat", "fresh", "friendly", "gentle", "giant", "golden", "grand", "green", "happy", "heavy",
        "hidden", "hollow", "honest", "humble", "icy", "idle", "jolly", "keen", "kind", "large", "late", "lazy",
        "little", "lively", "lonely", "loud", "lucky", "mellow", "mighty", "modern", "narrow", "neat", "nervous",
        "noble", "odd", "old", "orange", "pale", "patient", "plain", "polite", "proud", "purple", "quick", "quiet",
        "rapid", "rare", "rich", "rough", "round", "royal", "rusty", "sacred", "scarlet", "shallow", "sharp", "shiny",
        "short", "silent", "simple", "sleepy", "slow", "smooth", "soft", "solid", "sour", "spicy", "steady", "steep",
        "strange", "strong", "sturdy", "sudden", "sunny", "swift", "tall", "tame", "tender", "thick", "thin", "tidy",
        "tiny", "tired", "twin", "urban", "vast", "vivid", "warm", "wary", "wide", "wild", "wise", "wooden", "young",
    };

    private static final String[] NOUNS = {
        "anchor", "apple", "arrow", "badge", "banner", "barrel", "basket", "beacon", "bell", "blanket", "bottle",
        "bridge", "bucket", "cabin", "camera", "canal", "candle", "canyon", "carpet", "castle", "cellar", "chair",
        "circle", "cloud", "compass", "cottage", "crown", "curtain", "desert", "diamond", "door", "dragon", "drum",
        "engine", "falcon", "feather", "fence", "field", "forest", "fountain", "garden", "gate", "glacier", "guitar",
        "hammer", "harbor", "helmet", "hill", "island", "jacket", "jungle", "kettle", "kitchen", "ladder", "lantern",
        "letter", "library", "lighthouse", "magnet", "market", "meadow", "mirror", "monkey", "mountain", "needle",
        "notebook", "ocean", "orchard", "palace", "parrot", "pencil", "piano", "pillow", "planet", "pocket", "puzzle",
        "rabbit", "radio", "ribbon", "river", "rocket", "saddle", "school", "shadow", "signal", "silver", "spoon",
        "statue", "stone", "street", "sugar", "summit", "table", "teapot", "temple", "ticket", "tiger", "timber",
        "tower", "tunnel", "umbrella", "valley", "violin", "wagon", "wallet", "window", "winter", "wizard", "zebra",
    };
}
