package io.github.deltakv.demo;

import dev.langchain4j.memory.chat.MessageWindowChatMemory;
import dev.langchain4j.model.chat.listener.ChatModelListener;
import dev.langchain4j.model.chat.listener.ChatModelResponseContext;
import dev.langchain4j.service.AiServices;

import io.github.deltakv.langchain4j.DeltaKvChatModel;
import io.github.deltakv.langchain4j.DeltaKvChatResponseMetadata;
import io.github.deltakv.langchain4j.DeltaKvConfig;
import io.github.deltakv.langchain4j.DeltaKvEngine;
import io.github.deltakv.langchain4j.DeltaKvStats;
import io.github.deltakv.langchain4j.KvMemoryStats;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The README's demo: a LangChain4j AiServices assistant with chat memory reads a long document (a
 * JSON table of keys and values, about 4K tokens) and answers several questions about it, one per
 * turn, with the DeltaKV KV cache (the compressor vendored in {@code models/}). It prints each
 * answer next to the truth, how many prompt tokens each turn evaluated and how many it took from the
 * KV cache of the turn before, and the KV bytes DeltaKV holds against what the stock F16 cache would
 * hold for the same tokens.
 *
 * <p>Arguments (optional): number of key-value pairs (default 60), number of questions (default 4).
 */
public final class LongDocumentDemo {

    public static final String MODEL = "kvtiny-retrieval-q8_0.gguf";
    public static final String COMPRESSOR = "kvtiny-retrieval.deltakv.gguf";
    public static final int CONTEXT = 8192;
    public static final int PAIRS = 60;
    public static final int QUESTIONS = 4;

    /** What the application code sees: plain LangChain4j, nothing provider-specific. */
    interface DocumentAssistant {
        String chat(String message);
    }

    /** One question and what came back. */
    public record Turn(String key, String expected, String answer, DeltaKvChatResponseMetadata metadata) {
        public boolean correct() {
            return answer.equals(expected);
        }
    }

    public static void main(String[] args) {
        int pairs = args.length > 0 ? Integer.parseInt(args[0]) : PAIRS;
        int questions = args.length > 1 ? Integer.parseInt(args[1]) : QUESTIONS;
        Path models = Path.of(System.getProperty("deltakv.models.dir", "models"));
        Path model = models.resolve(MODEL);
        Path compressor = models.resolve(COMPRESSOR);
        for (Path file : List.of(model, compressor)) {
            if (!Files.isRegularFile(file)) {
                System.err.println("not found: " + file.toAbsolutePath());
                System.exit(2);
            }
        }
        run(model, deltaKv(compressor), pairs, questions, System.out);
    }

    /**
     * The DeltaKV settings of the demo: the side file's (int8 latents, layer 0 full) and every compressed token
     * rebuilt at each generated token, which this 6-layer model needs with one full layer (docs/accuracy.md).
     */
    public static DeltaKvConfig deltaKv(Path compressor) {
        return DeltaKvConfig.builder().compressorPath(compressor).topK(CONTEXT).build();
    }

    /** Runs the demo, printing each turn to {@code out}; {@code deltaKv} null runs the stock F16 cache. */
    public static List<Turn> run(Path model, DeltaKvConfig deltaKv, int pairs, int questions, PrintStream out) {
        Random random = new Random(42);
        Map<String, String> table = new LinkedHashMap<>();
        for (int i = 0; i < pairs; i++) {
            table.put(uuid(random), uuid(random));
        }
        List<String> keys = new ArrayList<>(table.keySet());
        StringBuilder json = new StringBuilder("{");
        table.forEach((k, v) -> json.append(json.length() > 1 ? ", " : "").append('"').append(k).append("\": \"")
                .append(v).append('"'));
        json.append('}');

        AtomicReference<DeltaKvChatResponseMetadata> last = new AtomicReference<>();
        ChatModelListener metadataListener = new ChatModelListener() {
            @Override
            public void onResponse(ChatModelResponseContext context) {
                last.set((DeltaKvChatResponseMetadata) context.chatResponse().metadata());
            }
        };

        out.println("Loading " + model.getFileName() + (deltaKv == null ? " (stock F16 cache)"
                : " with DeltaKV compressor " + deltaKv.compressorPath().getFileName()) + " ...");
        List<Turn> turns = new ArrayList<>();
        try (DeltaKvChatModel chatModel = DeltaKvChatModel.builder()
                .modelPath(model)
                .contextSize(CONTEXT)
                .deltaKv(deltaKv)
                .temperature(0.0)
                .maxTokens(48)
                .progressListener(new ConsoleProgress(out))
                .listeners(List.of(metadataListener))
                .build()) {

            DocumentAssistant assistant = AiServices.builder(DocumentAssistant.class)
                    .chatModel(chatModel)
                    .chatMemory(MessageWindowChatMemory.withMaxMessages(100))
                    .build();

            out.printf("Document: a JSON object of %d key-value pairs (%d characters)%n%n", pairs, json.length());
            for (int q = 0; q < questions; q++) {
                String key = keys.get(random.nextInt(keys.size()));
                String question = "Key: \"" + key + "\"\nThe value associated with the specified key is:";
                String message = q == 0
                        ? "Extract the value corresponding to the specified key in the JSON object below.\n\n"
                                + json + "\n\n" + question
                        : question;
                long start = System.nanoTime();
                String answer = assistant.chat(message).strip();
                double seconds = (System.nanoTime() - start) / 1e9;
                Turn turn = new Turn(key, table.get(key), answer, last.get());
                turns.add(turn);
                DeltaKvChatResponseMetadata meta = turn.metadata();
                out.printf("Q%d  value of key %s%n", q + 1, key);
                out.printf("    answer   %s  %s%n", answer,
                        turn.correct() ? "(correct)" : "(WRONG, expected " + turn.expected() + ")");
                out.printf("    prompt   %,d tokens: %,d evaluated, %,d reused from the KV cache; %.2f s%n",
                        meta.tokenUsage().inputTokenCount(), meta.promptTokensEvaluated(), meta.promptTokensReused(),
                        seconds);
                out.printf("    %s%n%n", memoryLine(meta.kvMemory()));
            }
            out.printf("%d of %d answers correct.%n", turns.stream().filter(Turn::correct).count(), questions);
            if (!turns.isEmpty()) {
                out.println(allocationLine(turns.get(turns.size() - 1).metadata().kvMemory()));
            }
        }
        return turns;
    }

    /** The bytes held for the tokens held, DeltaKV against the stock F16 cache for the same tokens. */
    public static String memoryLine(KvMemoryStats memory) {
        DeltaKvStats d = memory.deltaKv();
        if (d == null) {
            return String.format("KV memory: stock F16 %s for %,d tokens", mib(memory.bytesHeld()),
                    memory.tokensHeld());
        }
        return String.format("KV memory: DeltaKV %s vs stock F16 %s for the same %,d tokens (%.0f%%)",
                mib(d.bytesUsed()), mib(d.bytesStock()), d.tokens(), 100 * d.usedRatio());
    }

    /** The bytes allocated for the whole context, and with DeltaKV what its held bytes are made of. */
    static String allocationLine(KvMemoryStats memory) {
        DeltaKvStats d = memory.deltaKv();
        if (d == null) {
            return String.format("KV memory allocated for the %,d-token context: stock F16 %s", memory.contextSize(),
                    mib(memory.bytesAllocated()));
        }
        return String.format("KV memory allocated for the %,d-token context: DeltaKV %s vs stock F16 %s (%.0f%%),%n"
                        + "    %.0f%% with the compressor's %s of weights%n"
                        + "Held after the last answer: full layers %s, exact rows %s (%,d sink and reference tokens,%n"
                        + "    %,d recent), latents %s and reference ids %s (%,d compressed tokens)",
                memory.contextSize(), mib(d.bytesAllocated()), mib(d.bytesAllocatedStock()),
                100 * d.allocatedRatio(), 100 * d.allocatedWithCompressorRatio(), mib(d.bytesCompressor()),
                mib(d.bytesFullLayers()), mib(d.bytesExactRows()), d.referenceTokens(),
                d.recentTokens(), mib(d.bytesLatents()), mib(d.bytesReferenceIds()), d.compressedTokens());
    }

    private static String mib(long bytes) {
        return String.format("%.2f MiB", bytes / 1048576.0);
    }

    /** A random version-4 UUID (the form the model saw in training), from the seeded generator. */
    private static String uuid(Random random) {
        long msb = (random.nextLong() & ~0xF000L) | 0x4000L;
        long lsb = (random.nextLong() & ~(3L << 62)) | (2L << 62);
        return new UUID(msb, lsb).toString();
    }

    /** A one-line progress bar on the console for model loading and long prompts. */
    private static final class ConsoleProgress implements DeltaKvEngine.ProgressListener {
        private final PrintStream out;
        private int lastPercent = -1;

        ConsoleProgress(PrintStream out) {
            this.out = out;
        }

        @Override
        public void onModelLoad(float fraction) {
            bar("loading model", fraction);
        }

        @Override
        public void onPromptProgress(int done, int total) {
            bar("reading prompt", (float) done / total);
        }

        private void bar(String what, float fraction) {
            int percent = Math.round(fraction * 100);
            if (percent == lastPercent) {
                return;
            }
            lastPercent = percent >= 100 ? -1 : percent;
            int width = 30;
            int filled = Math.round(fraction * width);
            out.printf("\r  %-15s [%s%s] %3d%%", what, "#".repeat(filled), " ".repeat(width - filled), percent);
            if (fraction >= 1f) {
                out.println();
            }
            out.flush();
        }
    }
}
