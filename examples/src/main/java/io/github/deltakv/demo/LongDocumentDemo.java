package io.github.deltakv.demo;

import dev.langchain4j.memory.chat.MessageWindowChatMemory;
import dev.langchain4j.model.chat.listener.ChatModelListener;
import dev.langchain4j.model.chat.listener.ChatModelResponseContext;
import dev.langchain4j.service.AiServices;

import io.github.deltakv.langchain4j.DeltaKvChatModel;
import io.github.deltakv.langchain4j.DeltaKvChatResponseMetadata;
import io.github.deltakv.langchain4j.DeltaKvEngine;

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
 * turn. It prints each answer next to the truth, how many prompt tokens each turn evaluated and how
 * many it took from the KV cache of the turn before, and the KV memory used.
 *
 * <p>Arguments (optional): number of key-value pairs (default 60), number of questions (default 4).
 */
public final class LongDocumentDemo {

    /** What the application code sees: plain LangChain4j, nothing provider-specific. */
    interface DocumentAssistant {
        String chat(String message);
    }

    public static void main(String[] args) {
        int pairs = args.length > 0 ? Integer.parseInt(args[0]) : 60;
        int questions = args.length > 1 ? Integer.parseInt(args[1]) : 4;
        Path model = Path.of(System.getProperty("deltakv.models.dir", "models"), "kvtiny-retrieval-q8_0.gguf");
        if (!Files.isRegularFile(model)) {
            System.err.println("model not found: " + model.toAbsolutePath());
            System.exit(2);
        }

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

        System.out.println("Loading " + model.getFileName() + " ...");
        try (DeltaKvChatModel chatModel = DeltaKvChatModel.builder()
                .modelPath(model)
                .contextSize(8192)
                .temperature(0.0)
                .maxTokens(48)
                .progressListener(new ConsoleProgress())
                .listeners(List.of(metadataListener))
                .build()) {

            DocumentAssistant assistant = AiServices.builder(DocumentAssistant.class)
                    .chatModel(chatModel)
                    .chatMemory(MessageWindowChatMemory.withMaxMessages(100))
                    .build();

            System.out.printf("Document: a JSON object of %d key-value pairs (%d characters)%n%n", pairs, json.length());
            int correct = 0;
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
                boolean ok = answer.equals(table.get(key));
                correct += ok ? 1 : 0;
                DeltaKvChatResponseMetadata meta = last.get();
                System.out.printf("Q%d  value of key %s%n", q + 1, key);
                System.out.printf("    answer   %s  %s%n", answer, ok ? "(correct)" : "(WRONG, expected " + table.get(key) + ")");
                System.out.printf("    prompt   %d tokens: %d evaluated, %d reused from the KV cache; %.2f s%n",
                        meta.tokenUsage().inputTokenCount(), meta.promptTokensEvaluated(), meta.promptTokensReused(), seconds);
                System.out.printf("    %s%n%n", meta.kvMemory());
            }
            System.out.printf("%d of %d answers correct.%n", correct, questions);
        }
    }

    /** A random version-4 UUID (the form the model saw in training), from the seeded generator. */
    private static String uuid(Random random) {
        long msb = (random.nextLong() & ~0xF000L) | 0x4000L;
        long lsb = (random.nextLong() & ~(3L << 62)) | (2L << 62);
        return new UUID(msb, lsb).toString();
    }

    /** A one-line progress bar on the console for model loading and long prompts. */
    private static final class ConsoleProgress implements DeltaKvEngine.ProgressListener {
        private int lastPercent = -1;

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
            System.out.printf("\r  %-15s [%s%s] %3d%%", what, "#".repeat(filled), " ".repeat(width - filled), percent);
            if (fraction >= 1f) {
                System.out.println();
            }
            System.out.flush();
        }
    }
}
